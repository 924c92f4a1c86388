package gateway

import (
	"net/http"
	"strings"

	"github.com/scimgate/scimgate/schema"
)

// What every value written must respect, checked by the normalizer on the
// body of a create, a replace and each PATCH operation (and so on each of
// them inside /Bulk), before anything is read or written:
//
//   - a multi-valued attribute holds at most limits.max_values values (a
//     group's members are not counted); the PATCH engine checks the same
//     of the result;
//   - no string holds a control character (schema.CheckText), but
//     addresses.formatted may hold tab, CR and LF;
//   - the resource's name (a user's userName, a group's displayName) is
//     put in NFC, and refused with an invisible character
//     (schema.NormalizeName).

// attributes checks and rewrites an object of attributes: a resource, or
// the value of a path-less PATCH operation.
func (n normalizer) attributes(doc map[string]any) error {
	for k, v := range doc {
		var err error
		ext, isExt := n.s.Extension(k)
		obj, isObj := v.(map[string]any)
		if _, known := n.s.Core.Attribute(k); !known && !isExt {
			continue // not stored (a misspelt attribute, "meta"): nothing to check
		}
		if !isExt || !isObj {
			if doc[k], err = n.value("", k, "", v); err != nil {
				return err
			}
			continue
		}
		for ek, ev := range obj {
			if obj[ek], err = n.value(ext.ID, ek, "", ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// operation checks and rewrites the value of one PATCH operation, as
// expand left it.
func (n normalizer) operation(raw any) error {
	op, ok := raw.(map[string]any)
	if !ok {
		return nil
	}
	_, path := lookupKey(op, "path")
	vk, value := lookupKey(op, "value")
	p, _ := path.(string)
	if p == "" {
		if obj, ok := value.(map[string]any); ok {
			return n.attributes(obj)
		}
		return nil // the library refuses it
	}
	if err := schema.CheckText(p, false); err != nil {
		return newError(http.StatusBadRequest, "invalidPath", "The path of a PATCH operation %v.", err)
	}
	if value == nil {
		return nil
	}
	urn, attr, sub := n.pathTarget(p)
	v, err := n.value(urn, attr, sub, value)
	op[vk] = v
	return err
}

// value checks a value written to sub-attribute sub ("" for the whole) of
// attribute attr of the schema urn ("" for the core schema), and returns
// it with the resource's name normalised.
func (n normalizer) value(urn, attr, sub string, v any) (any, error) {
	switch x := v.(type) {
	case string:
		return n.text(urn, attr, sub, x)
	case []any:
		core := urn
		if core == "" {
			core = n.s.Core.ID
		}
		if sub == "" && len(x) > n.s.MaxValues && n.s.MaxValues > 0 && schema.Counted(core, attr) {
			return nil, newError(http.StatusBadRequest, "invalidValue", "%s holds %d values; limits.max_values is %d.",
				attrName(urn, attr, ""), len(x), n.s.MaxValues)
		}
		for i, el := range x {
			var err error
			if x[i], err = n.value(urn, attr, sub, el); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, el := range x {
			s := k
			if sub != "" {
				s = sub + "." + k // too deep for any schema: checked all the same
			}
			var err error
			if x[k], err = n.value(urn, attr, s, el); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// text checks one string (see value).
func (n normalizer) text(urn, attr, sub, s string) (string, error) {
	if urn == "" && sub == "" && strings.EqualFold(attr, n.nameAttribute()) {
		norm, err := schema.NormalizeName(s)
		if err != nil {
			return "", newError(http.StatusBadRequest, "invalidValue", "%s %v.", attrName(urn, attr, sub), err)
		}
		return norm, nil
	}
	if err := schema.CheckText(s, urn == "" && schema.MultiLine(attr, sub)); err != nil {
		return "", newError(http.StatusBadRequest, "invalidValue", "%s %v.", attrName(urn, attr, sub), err)
	}
	return s, nil
}

// nameAttribute is the attribute that names a resource of the type: a
// user's userName, a group's displayName.
func (n normalizer) nameAttribute() string {
	if n.s.Core.ID == schema.GroupURN {
		return "displayName"
	}
	return "userName"
}

func attrName(urn, attr, sub string) string {
	name := attr
	if sub != "" {
		name += "." + sub
	}
	if urn != "" {
		name = urn + ":" + name
	}
	return name
}

// pathTarget reads what a PATCH path names: the schema's URN ("" for the
// core schema), the attribute and the sub-attribute. It reads the path by
// hand: the filter parser takes half a millisecond a path, which the SCIM
// library spends already; a path it cannot parse is refused there.
func (n normalizer) pathTarget(path string) (urn, attr, sub string) {
	rest := path
	if strings.HasPrefix(strings.ToLower(path), "urn:") {
		ids := []string{n.s.Core.ID}
		for _, e := range n.s.Extensions {
			ids = append(ids, e.ID)
		}
		for _, id := range ids {
			if len(path) > len(id) && strings.EqualFold(path[:len(id)], id) && path[len(id)] == ':' {
				rest = path[len(id)+1:]
				if id != n.s.Core.ID {
					urn = id
				}
				break
			}
		}
	}
	i := strings.IndexAny(rest, "[.")
	switch {
	case i < 0:
		return urn, rest, ""
	case rest[i] == '.':
		return urn, rest[:i], rest[i+1:]
	}
	attr = rest[:i]
	if j := closingBracket(rest[i:]); j >= 0 {
		sub = strings.TrimPrefix(rest[i+j+1:], ".")
	}
	return urn, attr, sub
}

// closingBracket returns the position of the ']' that ends the value
// filter s starts with, outside quoted strings, or -1.
func closingBracket(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && s[i] == ']':
			return i
		}
	}
	return -1
}
