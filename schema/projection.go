package schema

import (
	"fmt"
	"slices"
	"strings"
)

// Projection is what the "attributes" and "excludedAttributes" parameters
// ask of a response (RFC 7644 section 3.9): only some attributes, or all
// but some. Names are in standard attribute notation, case-insensitive:
// "userName", "name.givenName", "emails.value", a URN-qualified attribute
// ("urn:...:enterprise:2.0:User:department") or a whole extension by its
// URN. "id" and "schemas" are always returned. The zero Projection returns
// everything that is returned by default.
type Projection struct {
	only, except []string // lower-cased names
	never        []string // left out whatever the parameters say (Never)
}

// Never returns p that also leaves out the named attributes or
// sub-attributes, whatever the parameters ask (Janssen's
// Group-Overhead-Bypass: no members.display).
func (p Projection) Never(names ...string) Projection {
	for _, n := range names {
		p.never = append(slices.Clip(p.never), strings.ToLower(n))
	}
	return p
}

// ParseProjection builds a projection from the two parameters' comma
// separated lists; they are mutually exclusive.
func ParseProjection(attributes, excluded []string) (Projection, error) {
	var p Projection
	split := func(list []string) []string {
		var out []string
		for _, s := range list {
			for _, n := range strings.Split(s, ",") {
				if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
					out = append(out, n)
				}
			}
		}
		return out
	}
	p.only, p.except = split(attributes), split(excluded)
	if len(p.only) > 0 && len(p.except) > 0 {
		return Projection{}, fmt.Errorf("attributes and excludedAttributes are mutually exclusive: give one of them")
	}
	for _, n := range append(append([]string(nil), p.only...), p.except...) {
		if strings.ContainsAny(n, "[] \"") {
			return Projection{}, fmt.Errorf("%q is not an attribute name: name attributes as userName, name.givenName or a URN-qualified name", n)
		}
	}
	return p, nil
}

// IsZero reports whether the projection returns the default attributes.
func (p Projection) IsZero() bool { return len(p.only) == 0 && len(p.except) == 0 && len(p.never) == 0 }

// Wants reports whether the value at urn:attr.sub is returned: urn is ""
// for the core schema (whose URN is core), sub "" for the attribute as a
// whole. An attribute is wanted when any of its sub-attributes is.
func (p Projection) Wants(core, urn, attr, sub string) bool {
	if p.IsZero() {
		return true
	}
	alwaysReturned := urn == "" && sub == "" && (strings.EqualFold(attr, "id") || strings.EqualFold(attr, "schemas"))
	if alwaysReturned {
		return true
	}
	names := attributeNames(core, urn, attr)
	ext := strings.ToLower(urn)
	sub = strings.ToLower(sub)
	for _, n := range p.never {
		for _, a := range names {
			if n == a || (sub != "" && n == a+"."+sub) {
				return false
			}
		}
	}
	if len(p.only) > 0 {
		for _, n := range p.only {
			if ext != "" && n == ext {
				return true
			}
			for _, a := range names {
				switch {
				case n == a:
					return true
				case sub == "" && strings.HasPrefix(n, a+"."):
					return true // a sub-attribute of it is asked for
				case sub != "" && n == a+"."+sub:
					return true
				}
			}
		}
		return false
	}
	for _, n := range p.except {
		if ext != "" && n == ext {
			return false
		}
		for _, a := range names {
			if n == a || (sub != "" && n == a+"."+sub) {
				return false
			}
		}
	}
	return true
}

// attributeNames are the names an attribute goes by, lower-cased: for the
// core schema with and without its URN.
func attributeNames(core, urn, attr string) []string {
	attr = strings.ToLower(attr)
	if urn == "" {
		return []string{attr, strings.ToLower(core) + ":" + attr}
	}
	return []string{strings.ToLower(urn) + ":" + attr}
}

// Apply removes from a rendered resource what the projection does not
// return; core is the URN of the resource's core schema, and extension
// attributes are the keys that start with "urn:".
func (p Projection) Apply(core string, doc map[string]any) {
	if p.IsZero() {
		return
	}
	for k, v := range doc {
		if strings.HasPrefix(strings.ToLower(k), "urn:") {
			ext, ok := v.(map[string]any)
			if !ok {
				continue
			}
			for a, av := range ext {
				if !p.Wants(core, k, a, "") {
					delete(ext, a)
					continue
				}
				if ext[a] = p.applySubs(core, k, a, av); ext[a] == nil {
					delete(ext, a)
				}
			}
			if len(ext) == 0 {
				delete(doc, k)
			}
			continue
		}
		if !p.Wants(core, "", k, "") {
			delete(doc, k)
			continue
		}
		if doc[k] = p.applySubs(core, "", k, v); doc[k] == nil {
			delete(doc, k)
		}
	}
}

// applySubs prunes the sub-attributes of a complex value, or of each
// element of a multi-valued one; what is left empty becomes nil.
func (p Projection) applySubs(core, urn, attr string, v any) any {
	prune := func(obj map[string]any) {
		for s := range obj {
			if !p.Wants(core, urn, attr, s) {
				delete(obj, s)
			}
		}
	}
	switch v := v.(type) {
	case map[string]any:
		if prune(v); len(v) == 0 {
			return nil
		}
	case []any:
		out := v[:0]
		for _, el := range v {
			if obj, ok := el.(map[string]any); ok {
				if prune(obj); len(obj) == 0 {
					continue
				}
			}
			out = append(out, el)
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}
