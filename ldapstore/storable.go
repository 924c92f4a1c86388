package ldapstore

import (
	"fmt"
	"maps"
	"strings"

	"github.com/scimgate/scimgate/schema"
)

// Nothing a client sends is dropped: what the directory cannot keep as it
// was sent is refused, naming it. /Schemas lists exactly what is kept
// (Resources.Schemas); CheckStorable holds a resource's attributes to it.

// CheckStorable refuses, with an InvalidError naming it, a value the
// directory cannot keep as given: an attribute of the resource's schemas
// that /Schemas does not list (nowhere to store it), a sub-attribute it
// does not list, an element of a type no value is kept of, or an element
// without a type where values are kept by type (mail is the work e-mail).
// Read-only attributes are ignored, as RFC 7644 says they are; names that
// no schema defines are ignored too, as the SCIM library ignores them.
func (r *Resources) CheckStorable(attrs map[string]any) error {
	if err := r.checkExternalID(attrs); err != nil {
		return err
	}
	if err := r.checkSchema(r.schemas.Core, r.m.Schema, "", attrs); err != nil {
		return err
	}
	for _, full := range r.m.Extensions {
		v := schema.Get(attrs, full.ID)
		ext, ok := v.(map[string]any)
		if !ok || len(ext) == 0 {
			continue
		}
		adv, ok := r.schemas.Extension(full.ID)
		if !ok {
			adv = schema.Schema{ID: full.ID}
		}
		if err := r.checkSchema(adv, full, full.ID, ext); err != nil {
			return err
		}
	}
	return nil
}

// checkExternalID refuses an externalId where the mapping has no home for
// it: a common attribute (RFC 7643 section 3.1), in no schema, so
// checkSchema does not see it.
func (r *Resources) checkExternalID(attrs map[string]any) error {
	for name, v := range attrs {
		if strings.EqualFold(name, "externalId") && v != nil && v != "" && len(r.m.Lookup("", "externalId", "")) == 0 {
			return unstorable("", "externalId", "", "this directory has nowhere to keep it (map it in the resource type's "+
				"attributes: docs/schema-mapping.md)")
		}
	}
	return nil
}

// checkSchema checks the attributes of one schema: adv is what is kept of
// it, full the whole schema.
func (r *Resources) checkSchema(adv, full schema.Schema, urn string, attrs map[string]any) error {
	for name, v := range attrs {
		if v == nil || strings.HasPrefix(strings.ToLower(name), "urn:") {
			continue
		}
		if _, known := full.Attribute(name); !known {
			continue
		}
		a, kept := adv.Attribute(name)
		if !kept {
			if empty(v) || urn == "" && strings.EqualFold(name, "active") && isTrue(v) {
				continue // without a way to disable accounts, every account is active
			}
			if urn == "" && strings.EqualFold(name, "active") {
				return unstorable(urn, name, "", "this directory has no way to disable an account (set users.active: docs/schema-mapping.md)")
			}
			return unstorable(urn, name, "", "this directory has nowhere to keep it (it is not in /Schemas)")
		}
		if a.Mutability == schema.ReadOnly || a.Type != schema.Complex || strings.EqualFold(name, "members") && r.m.Members != "" {
			continue // members are kept as references: their type and display are read from the member
		}
		if err := r.checkComplex(a, urn, v); err != nil {
			return err
		}
	}
	return nil
}

// checkComplex checks the sub-attributes of a complex value or of each
// element of a multi-valued one, and the elements' types.
func (r *Resources) checkComplex(a schema.Attribute, urn string, v any) error {
	elems, multi := v.([]any)
	if !multi {
		elems = []any{v}
	}
	if n := countPrimary(elems); n > 1 {
		return invalidf("%s: %d values are marked primary; at most one may be (RFC 7643 section 2.4).", schema.Path{URN: urn, Attr: a.Name}, n)
	}
	typ, typed := a.SubAttribute("type")
	closed := typed && len(typ.CanonicalValues) > 0 && !r.m.Whole(urn, a.Name) && a.MultiValued
	for _, el := range elems {
		obj, ok := el.(map[string]any)
		if !ok {
			continue // the library says what is wrong with it
		}
		for sub, sv := range obj {
			if sv == nil || sub == "$ref" {
				continue
			}
			s, ok := a.SubAttribute(sub)
			if !ok {
				return unstorable(urn, a.Name, sub, "this directory has nowhere to keep it (it is not in /Schemas)")
			}
			if s.Mutability == schema.ReadOnly {
				continue
			}
		}
		if !closed {
			continue
		}
		t, _ := schema.Get(obj, "type").(string)
		switch {
		case t == "":
			return unstorable(urn, a.Name, "type", fmt.Sprintf("this directory keeps %s by type (%s): give each value one",
				a.Name, strings.Join(typ.CanonicalValues, ", ")))
		case !containsFold(typ.CanonicalValues, t):
			return unstorable(urn, a.Name, "type", fmt.Sprintf("this directory keeps %s of the types %s only, not %q",
				a.Name, strings.Join(typ.CanonicalValues, ", "), t))
		}
	}
	return nil
}

// CheckPatchStorable is CheckStorable for one PATCH operation: the value
// an add or replace writes, placed where its path says (a path-less
// value's keys each where theirs say). A path it cannot place is left to
// the PATCH engine, which says what is wrong with it.
func (r *Resources) CheckPatchStorable(op, path string, value any) error {
	if strings.EqualFold(op, "remove") || value == nil {
		return nil
	}
	if path == "" {
		obj, ok := value.(map[string]any)
		if !ok {
			return nil
		}
		plain := map[string]any{}
		for k, v := range obj {
			if r.isExtension(k) || !strings.Contains(k, ".") && !strings.HasPrefix(strings.ToLower(k), "urn:") {
				plain[k] = v
			} else if err := r.CheckPatchStorable(op, k, v); err != nil {
				return err
			}
		}
		return r.CheckStorable(plain)
	}
	if r.isExtension(path) {
		return r.CheckStorable(map[string]any{path: value})
	}
	p, err := schema.ParsePath(path)
	if err != nil {
		return nil
	}
	if p.Sub != "" || p.Type != "" {
		if p.Type == "" && r.multiValued(p) {
			return nil // every value's sub-attribute: the engine checks the path
		}
		el := map[string]any{}
		if p.Sub != "" {
			el[p.Sub] = value
		} else if obj, ok := value.(map[string]any); ok {
			maps.Copy(el, obj)
		}
		if p.Type != "" {
			el["type"] = p.Type
		}
		value = el
	}
	attrs := map[string]any{p.Attr: value}
	if p.URN != "" {
		attrs = map[string]any{p.URN: attrs}
	}
	return r.CheckStorable(attrs)
}

func (r *Resources) isExtension(name string) bool {
	for _, e := range r.m.Extensions {
		if strings.EqualFold(e.ID, name) {
			return true
		}
	}
	return false
}

// multiValued reports whether p's attribute is multi-valued.
func (r *Resources) multiValued(p schema.Path) bool {
	s := r.m.Schema
	for _, e := range r.m.Extensions {
		if strings.EqualFold(e.ID, p.URN) {
			s = e
		}
	}
	a, ok := s.Attribute(p.Attr)
	return ok && a.MultiValued
}

// countPrimary counts the elements marked primary.
func countPrimary(elems []any) int {
	n := 0
	for _, el := range elems {
		if obj, ok := el.(map[string]any); ok && isTrue(schema.Get(obj, "primary")) {
			n++
		}
	}
	return n
}

// isTrue reports whether v is the boolean true, as JSON or as clients
// spell it in a string ("True").
func isTrue(v any) bool {
	s, ok := v.(string)
	return v == true || ok && strings.EqualFold(s, "true")
}

func unstorable(urn, attr, sub, why string) error {
	p := schema.Path{URN: urn, Attr: attr, Sub: sub}
	return invalidf("%s cannot be kept as given: %s.", p, why)
}

// empty reports whether v holds nothing: an empty list or object.
func empty(v any) bool {
	switch v := v.(type) {
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
