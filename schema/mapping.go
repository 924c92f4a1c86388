package schema

import (
	"fmt"
	"strings"
)

// Path names one SCIM value that a mapping stores: a top-level attribute, a
// sub-attribute of a complex attribute, or a sub-attribute of the element of a
// multi-valued attribute whose "type" is Type.
//
//	userName                    {Attr: "userName"}
//	name.givenName              {Attr: "name", Sub: "givenName"}
//	emails[type eq "work"].value {Attr: "emails", Type: "work", Sub: "value"}
//	urn:...:enterprise:2.0:User:department {URN: "urn:...:enterprise:2.0:User", Attr: "department"}
type Path struct {
	URN  string // schema URN for extension attributes; "" for the resource's core schema
	Attr string
	Sub  string
	Type string
}

// String returns p in SCIM path syntax.
func (p Path) String() string {
	var b strings.Builder
	if p.URN != "" {
		b.WriteString(p.URN)
		b.WriteByte(':')
	}
	b.WriteString(p.Attr)
	if p.Type != "" {
		fmt.Fprintf(&b, "[type eq %q]", p.Type)
	}
	if p.Sub != "" {
		b.WriteByte('.')
		b.WriteString(p.Sub)
	}
	return b.String()
}

// AttributeMap stores the SCIM value at SCIM in the LDAP attribute LDAP.
type AttributeMap struct {
	SCIM Path
	LDAP string
}

// Resource says how one SCIM resource type is kept in LDAP entries.
type Resource struct {
	// Schema is the resource's core schema, complete; Extensions are the
	// schema extensions it may carry. What is advertised is derived from the
	// mappings (see Advertised).
	Schema     Schema
	Extensions []Schema

	// ObjectClasses are written to new entries; an entry is a resource of
	// this type when it has all of them.
	ObjectClasses []string

	// RDN is the template of the relative DN of a new entry, e.g.
	// "uid={userName}": an LDAP attribute, '=', and a SCIM path in braces.
	RDN string

	// ID is the LDAP attribute that holds the resource's immutable id.
	ID string

	// Attributes map SCIM values to LDAP attributes.
	Attributes []AttributeMap

	// Derive gives, for LDAP attributes that the object classes require, the
	// SCIM values to fill them from, in order of preference, when no mapping
	// wrote them (inetOrgPerson must have cn and sn; a SCIM User need not).
	Derive []Derivation

	// Members is the LDAP attribute holding member DNs (groups only).
	Members string
}

// Derivation fills the LDAP attribute LDAP from the first present of From.
type Derivation struct {
	LDAP string
	From []Path
}

// RDNAttribute returns the LDAP attribute and the SCIM path of the RDN template.
func (r Resource) RDNAttribute() (ldapAttr string, scim Path, err error) {
	a, v, ok := strings.Cut(r.RDN, "=")
	if !ok || !strings.HasPrefix(v, "{") || !strings.HasSuffix(v, "}") || a == "" {
		return "", Path{}, fmt.Errorf("rdn template %q: want attribute={scimAttribute}", r.RDN)
	}
	p, err := ParsePath(strings.TrimSuffix(strings.TrimPrefix(v, "{"), "}"))
	if err != nil {
		return "", Path{}, fmt.Errorf("rdn template %q: %w", r.RDN, err)
	}
	return a, p, nil
}

// Lookup returns the mappings whose SCIM path is attr (and sub, when sub is
// not empty) in the schema urn ("" for the core schema), compared
// case-insensitively.
func (r Resource) Lookup(urn, attr, sub string) []AttributeMap {
	var out []AttributeMap
	for _, m := range r.Attributes {
		if strings.EqualFold(m.SCIM.URN, urn) && strings.EqualFold(m.SCIM.Attr, attr) &&
			(sub == "" || strings.EqualFold(m.SCIM.Sub, sub)) {
			out = append(out, m)
		}
	}
	return out
}

// LDAPAttributes returns every LDAP attribute the mapping reads, each once.
func (r Resource) LDAPAttributes() []string {
	seen := map[string]bool{}
	var out []string
	add := func(a string) {
		if a != "" && !seen[strings.ToLower(a)] {
			seen[strings.ToLower(a)] = true
			out = append(out, a)
		}
	}
	for _, m := range r.Attributes {
		add(m.LDAP)
	}
	add(r.Members)
	return out
}

// Advertised returns the core schema and the extensions restricted to what
// the mapping can store, as /Schemas must show them. Members of a typed
// multi-valued attribute keep "type" (listing only the mapped types) and
// "primary", which the gateway derives.
func (r Resource) Advertised() (core Schema, extensions []Schema) {
	restrict := func(s Schema, urn string) Schema {
		out := s.Restrict(func(attr, sub string) bool {
			ms := r.Lookup(urn, attr, "")
			if len(ms) == 0 {
				return urn == "" && r.Members != "" && strings.EqualFold(attr, "members")
			}
			if sub == "" {
				return true
			}
			for _, m := range ms {
				if strings.EqualFold(m.SCIM.Sub, sub) {
					return true
				}
				if m.SCIM.Type != "" && (strings.EqualFold(sub, "type") || strings.EqualFold(sub, "primary")) {
					return true
				}
			}
			return false
		})
		// Only the mapped types are canonical.
		for i, a := range out.Attributes {
			for j, sa := range a.SubAttributes {
				if sa.Name != "type" || len(sa.CanonicalValues) == 0 {
					continue
				}
				var types []string
				for _, m := range r.Lookup(urn, a.Name, "") {
					if m.SCIM.Type != "" && !containsFold(types, m.SCIM.Type) {
						types = append(types, m.SCIM.Type)
					}
				}
				if len(types) > 0 {
					out.Attributes[i].SubAttributes[j].CanonicalValues = types
				}
			}
		}
		return out
	}
	core = restrict(r.Schema, "")
	for _, e := range r.Extensions {
		if x := restrict(e, e.ID); len(x.Attributes) > 0 {
			extensions = append(extensions, x)
		}
	}
	return core, extensions
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// ParsePath parses the path syntax of Path.String, with the URN prefix
// recognised for the Enterprise User extension and any "urn:" prefix whose
// last colon-separated part is the attribute.
func ParsePath(s string) (Path, error) {
	var p Path
	rest := s
	if strings.HasPrefix(strings.ToLower(rest), "urn:") {
		// Attribute names hold no ':', and URNs may hold '.' ("2.0"): the
		// attribute starts after the last ':' before any value selector.
		end := len(rest)
		if i := strings.Index(rest, "["); i >= 0 {
			end = i
		}
		i := strings.LastIndex(rest[:end], ":")
		p.URN, rest = rest[:i], rest[i+1:]
	}
	if i := strings.Index(rest, "["); i >= 0 {
		j := strings.Index(rest, "]")
		if j < i {
			return Path{}, fmt.Errorf("path %q: unclosed '['", s)
		}
		sel := strings.Fields(rest[i+1 : j])
		if len(sel) != 3 || !strings.EqualFold(sel[0], "type") || !strings.EqualFold(sel[1], "eq") {
			return Path{}, fmt.Errorf("path %q: only [type eq \"...\"] selects a value", s)
		}
		p.Type = strings.Trim(sel[2], `"`)
		rest = rest[:i] + rest[j+1:]
	}
	p.Attr, p.Sub, _ = strings.Cut(rest, ".")
	if p.Attr == "" || strings.ContainsAny(p.Attr+p.Sub, "[]. \"") {
		return Path{}, fmt.Errorf("path %q: not attribute, attribute.sub or attribute[type eq \"t\"].sub", s)
	}
	return p, nil
}
