package ldapstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// Resource is a SCIM resource read from or written to the directory.
type Resource struct {
	ID string
	// Attributes are the SCIM attributes other than id, schemas and meta,
	// keyed by their canonical names; extension attributes sit in a map
	// under the extension's URN.
	Attributes   map[string]any
	Created      time.Time
	LastModified time.Time

	dn string
}

// Member is one member of a group, resolved from its DN.
type Member struct {
	ID      string
	Type    string // "User" or "Group"
	Display string
}

// Operational attributes read with every resource.
const (
	attrCreated  = "createTimestamp"
	attrModified = "modifyTimestamp"
)

// toEntry turns validated SCIM attributes into LDAP attribute values. Values
// the mapping has no place for are left out: the schema given to clients
// advertises only what is mapped.
func toEntry(m schema.Resource, attrs map[string]any) map[string][]string {
	out := map[string][]string{}
	add := func(ldapAttr, v string) {
		if v != "" {
			out[ldapAttr] = append(out[ldapAttr], v)
		}
	}
	for _, am := range m.Attributes {
		container := attrs
		if am.SCIM.URN != "" {
			ext, _ := getFold(attrs, am.SCIM.URN).(map[string]any)
			if ext == nil {
				continue
			}
			container = ext
		}
		v := getFold(container, am.SCIM.Attr)
		switch {
		case v == nil:
		case am.SCIM.Type != "":
			elems, _ := v.([]any)
			for _, el := range primaryFirst(elems) {
				obj, _ := el.(map[string]any)
				if obj == nil || !typeMatches(m, am.SCIM, getFold(obj, "type")) {
					continue
				}
				s, _ := scalar(getFold(obj, am.SCIM.Sub))
				add(am.LDAP, s)
			}
		case am.SCIM.Sub != "":
			obj, _ := v.(map[string]any)
			s, _ := scalar(getFold(obj, am.SCIM.Sub))
			add(am.LDAP, s)
		default:
			s, _ := scalar(v)
			add(am.LDAP, s)
		}
	}
	// Required attributes the object classes need and no mapping filled.
	for _, d := range m.Derive {
		if len(out[d.LDAP]) > 0 {
			continue
		}
		for _, p := range d.From {
			if s := valueAt(attrs, p); s != "" {
				out[d.LDAP] = []string{s}
				break
			}
		}
	}
	return out
}

// typeMatches reports whether an element whose "type" is t belongs to the
// mapping of p. An element without a type goes to the first type mapped for
// its attribute.
func typeMatches(m schema.Resource, p schema.Path, t any) bool {
	s, _ := t.(string)
	if s != "" {
		return strings.EqualFold(s, p.Type)
	}
	for _, am := range m.Lookup(p.URN, p.Attr, "") {
		if am.SCIM.Type != "" {
			return strings.EqualFold(am.SCIM.Type, p.Type)
		}
	}
	return false
}

// primaryFirst orders the element marked primary first, so that it becomes
// the first LDAP value.
func primaryFirst(elems []any) []any {
	for i, el := range elems {
		if obj, ok := el.(map[string]any); ok && getFold(obj, "primary") == true && i > 0 {
			out := append([]any{el}, elems[:i]...)
			return append(out, elems[i+1:]...)
		}
	}
	return elems
}

// valueAt returns the string at a simple path (attr or attr.sub) of attrs.
func valueAt(attrs map[string]any, p schema.Path) string {
	v := getFold(attrs, p.Attr)
	if p.Sub != "" {
		obj, _ := v.(map[string]any)
		v = getFold(obj, p.Sub)
	}
	s, _ := scalar(v)
	return s
}

// fromEntry turns an entry into a resource through the mapping.
func fromEntry(m schema.Resource, e *ldap.Entry) Resource {
	r := Resource{ID: e.GetEqualFoldAttributeValue(m.ID), Attributes: map[string]any{}, dn: e.DN}
	r.Created, _ = schema.ParseGeneralizedTime(e.GetEqualFoldAttributeValue(attrCreated))
	r.LastModified, _ = schema.ParseGeneralizedTime(e.GetEqualFoldAttributeValue(attrModified))
	for _, am := range m.Attributes {
		values := e.GetEqualFoldAttributeValues(am.LDAP)
		if len(values) == 0 {
			continue
		}
		container := r.Attributes
		if am.SCIM.URN != "" {
			ext, _ := container[am.SCIM.URN].(map[string]any)
			if ext == nil {
				ext = map[string]any{}
				container[am.SCIM.URN] = ext
			}
			container = ext
		}
		switch {
		case am.SCIM.Type != "":
			elems, _ := container[am.SCIM.Attr].([]any)
			for _, v := range values {
				el := map[string]any{am.SCIM.Sub: v, "type": am.SCIM.Type}
				if len(elems) == 0 {
					el["primary"] = true
				}
				elems = append(elems, el)
			}
			container[am.SCIM.Attr] = elems
		case am.SCIM.Sub != "":
			obj, _ := container[am.SCIM.Attr].(map[string]any)
			if obj == nil {
				obj = map[string]any{}
				container[am.SCIM.Attr] = obj
			}
			obj[am.SCIM.Sub] = values[0]
		default:
			container[am.SCIM.Attr] = values[0]
		}
	}
	return r
}

// getFold returns m[k] with k matched case-insensitively, as SCIM attribute
// names are.
func getFold(m map[string]any, k string) any {
	if v, ok := m[k]; ok {
		return v
	}
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v
		}
	}
	return nil
}

// scalar formats a JSON scalar as an LDAP value: booleans as TRUE/FALSE
// (RFC 4517 section 3.3.3), numbers in decimal.
func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		if v {
			return "TRUE", true
		}
		return "FALSE", true
	case json.Number:
		return v.String(), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case nil:
		return "", false
	default:
		return fmt.Sprint(v), true
	}
}
