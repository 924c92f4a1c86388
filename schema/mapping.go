package schema

import (
	"fmt"
	"slices"
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
	SCIM  Path
	LDAP  string
	Codec Codec

	// What the directory's schema says of the LDAP attribute, set by the
	// store when it reads the schema: whether values compare case-exactly
	// (nil: as the SCIM schema says), and whether clients cannot write it.
	CaseExact   *bool
	ReadOnly    bool
	SingleValue bool

	// Fallback: written like any mapping, but read only when the
	// attribute's other mappings gave nothing (mail beside Janssen's
	// jansEmail: a copy for other readers, and where an entry Janssen did
	// not write has only mail).
	Fallback bool
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

	// ExtraClasses are written to new entries besides ObjectClasses, but
	// not required of the entries read (Janssen's jansCustomPerson, which
	// not every entry Janssen wrote has).
	ExtraClasses []string

	// Auxiliary are auxiliary object classes that may be added to an entry
	// when a mapped attribute needs one (scimgateUser).
	Auxiliary []string

	// RDN is the template of the relative DN of a new entry, e.g.
	// "uid={userName}": an LDAP attribute, '=', and a SCIM path in braces.
	RDN string

	// ID is the LDAP attribute that holds the resource's immutable id, and
	// IDCodec how its value reads as a SCIM id (CodecGUID for objectGUID).
	ID      string
	IDCodec Codec

	// AssignID says the gateway gives each new resource its id, a random
	// UUID written to ID (the Janssen Server's inum), where the directory
	// assigns none. The RDN template may then name it: "inum={id}".
	AssignID bool

	// Version is an attribute whose value changes with every modification
	// (entryCSN, uSNChanged): the resource's ETag.
	Version string

	// Created and Modified are the timestamp attributes of meta.
	Created, Modified string

	// AppCreated and AppModified are attributes in which an application
	// keeps the resource's times (Janssen's jansMetaCreated and
	// jansMetaLastMod), read for meta in preference to Created and
	// Modified when an entry has them. Filters and sorting use Created and
	// Modified, which every entry has. Writes keep them true: AppCreated
	// set on create, AppModified on every write.
	AppCreated, AppModified string

	// Attributes map SCIM values to LDAP attributes.
	Attributes []AttributeMap

	// Derive gives, for LDAP attributes that the object classes require, the
	// SCIM values to fill them from, in order of preference, when no mapping
	// wrote them (inetOrgPerson must have cn and sn; a SCIM User need not).
	Derive []Derivation

	// DerivedMarker is an attribute in which the gateway lists the LDAP
	// attributes whose values it derived (scimDerived): a derived value is
	// not the client's, and is not read back as a SCIM value. Where the
	// directory has no such attribute, a value equal to what its
	// derivation gives from the other values is taken for derived.
	DerivedMarker string

	// KeptReferences is an attribute that keeps a reference value (the
	// manager's) as the client gave it while it names no resource
	// (scimManager), read back in its place until it does.
	KeptReferences string

	// Create holds constant attributes written to every new entry.
	Create map[string][]string

	// Members is the LDAP attribute holding member DNs (groups only).
	Members string

	// RemoveDeletedMembers says the gateway, not the directory, takes a
	// deleted resource out of the groups it was in.
	RemoveDeletedMembers bool

	// MaintainMemberOf (groups) names the members' attribute that lists
	// their groups' DNs when the gateway, not the directory, keeps it (the
	// Janssen Server's memberOf): every member added or removed gets one
	// modify adding or deleting the group's DN, none read first. Groups
	// must then be named by an attribute that never changes (inum).
	MaintainMemberOf string

	// MemberValue, when set, is the users' attribute whose values Members
	// holds instead of DNs (posixGroup: memberUid holds uid values).
	MemberValue string

	// MemberPlaceholder is a DN kept as the only member of an empty group,
	// where the schema requires one (groupOfNames); "" where groups may be
	// empty. It is never shown, counted or matched.
	MemberPlaceholder string

	// MemberOf is the attribute, maintained by the directory, that lists
	// the DNs of the groups an entry belongs to (users: the "groups"
	// attribute). SearchGroups says to find them instead by searching the
	// groups for the member, where the directory keeps no such attribute.
	MemberOf     string
	SearchGroups bool

	// Active and Password say how "active" and "password" are stored; nil
	// means they are not.
	Active   *Active
	Password *Password
}

// ActiveKind is a strategy for the User's "active".
type ActiveKind string

// The active strategies.
const (
	// ActiveLock: the user is inactive while the attribute holds a value,
	// written as LockValue (OpenLDAP ppolicy's pwdAccountLockedTime).
	ActiveLock ActiveKind = "lock"
	// ActiveBoolean: a boolean attribute, TRUE when active (or, with
	// Invert, TRUE when disabled: 389's nsAccountLock). Absent is active.
	ActiveBoolean ActiveKind = "boolean"
	// ActiveBitmask: an integer attribute whose bit Bit disables the user
	// (Active Directory's userAccountControl, bit 0x2); new entries start
	// from Initial.
	ActiveBitmask ActiveKind = "bitmask"
	// ActiveStatus: a status word, "active" or "inactive", in Attribute
	// (the Janssen Server's jansStatus), and a boolean in Also when set
	// (jansActive): both are written, either is read (the status first).
	// Neither present is active.
	ActiveStatus ActiveKind = "status"
)

// Active is how "active" is stored.
type Active struct {
	Kind      ActiveKind
	Attribute string
	Also      string // ActiveStatus: the boolean kept beside the status
	LockValue string
	Invert    bool
	Bit       int64
	Initial   int64
}

// PasswordKind is a strategy for writing the User's "password".
type PasswordKind string

// The password strategies.
const (
	// PasswordExtended: the Password Modify extended operation (RFC 3062),
	// so that the directory hashes the password under its own policy.
	PasswordExtended PasswordKind = "extended"
	// PasswordUnicodePwd: Active Directory's unicodePwd, the password in
	// double quotes, UTF-16LE encoded; the server requires TLS.
	PasswordUnicodePwd PasswordKind = "unicodepwd"
	// PasswordAttribute: written as is to Attribute (for directories that
	// hash on write).
	PasswordAttribute PasswordKind = "attribute"
)

// Password is how "password" is written; it is never read.
type Password struct {
	Kind      PasswordKind
	Attribute string
}

// Derivation fills the LDAP attribute LDAP from the first of the templates
// From whose SCIM values are all present, through Transform when set. A
// template is text with SCIM paths in braces: "{name.givenName} {name.familyName}".
type Derivation struct {
	LDAP      string
	From      []string
	Transform Transform
}

// Derive returns the value of d for a resource whose values value returns
// ("" when absent), and whether any template applied.
func (d Derivation) Derive(value func(Path) string) (string, bool) {
	for _, t := range d.From {
		if s, ok := expand(t, value); ok && s != "" {
			return d.Transform.Apply(s), true
		}
	}
	return "", false
}

// Paths returns the SCIM paths d's templates name, each once, in order.
func (d Derivation) Paths() []Path {
	var out []Path
	for _, t := range d.From {
		expand(t, func(p Path) string {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
			return "x" // a value, so that expand goes on to the next path
		})
	}
	return out
}

// expand fills a template; it fails when a path in it has no value.
func expand(t string, value func(Path) string) (string, bool) {
	var b strings.Builder
	for {
		i := strings.Index(t, "{")
		if i < 0 {
			b.WriteString(t)
			return b.String(), true
		}
		j := strings.Index(t[i:], "}")
		if j < 0 {
			return "", false
		}
		p, err := ParsePath(t[i+1 : i+j])
		if err != nil {
			return "", false
		}
		v := value(p)
		if v == "" {
			return "", false
		}
		b.WriteString(t[:i])
		b.WriteString(v)
		t = t[i+j+1:]
	}
}

// Transform reshapes a derived value.
type Transform string

// The transforms.
const (
	// SAMAccountName: the part before any '@', without the characters
	// Active Directory forbids in a pre-Windows 2000 logon name, at most
	// 20 characters.
	SAMAccountName Transform = "samaccountname"
	// GroupSAMAccountName: a group's pre-Windows 2000 name, without the
	// characters Active Directory forbids in it, at most 64 characters
	// (AD generates a "$XXXXXX-..." one for a group created without).
	GroupSAMAccountName Transform = "groupsamaccountname"
)

// Apply returns v transformed.
func (t Transform) Apply(v string) string {
	switch t {
	case SAMAccountName:
		v, _, _ = strings.Cut(v, "@")
		return logonName(v, 20)
	case GroupSAMAccountName:
		return logonName(v, 64)
	}
	return v
}

// logonName is v without the characters Active Directory forbids in a
// pre-Windows 2000 name, cut to max characters.
func logonName(v string, max int) string {
	v = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`"/\[]:;|=,+*?<>`, r) || r < ' ' {
			return '_'
		}
		return r
	}, v)
	if r := []rune(v); len(r) > max {
		v = string(r[:max])
	}
	return v
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

// LDAPAttributes returns every LDAP attribute a whole resource is read from,
// each once: mapped, id, version, timestamps, members and groups, active.
func (r Resource) LDAPAttributes() []string {
	out := []string{r.ID, r.Version, r.Created, r.Modified, r.AppCreated, r.AppModified, "objectClass", r.Members, r.MemberOf,
		r.DerivedMarker, r.KeptReferences}
	for _, m := range r.Attributes {
		out = append(out, m.LDAP) // read-only ones too: they are read, not written
	}
	return uniqueFold(append(out, r.WrittenAttributes()...))
}

// WrittenAttributes returns the LDAP attributes that writes manage, each
// once: the mapped ones the directory lets clients write, derived ones, and
// active's. A write changes these and nothing else on an entry.
func (r Resource) WrittenAttributes() []string {
	var out []string
	for _, m := range r.Attributes {
		if !m.ReadOnly {
			out = append(out, m.LDAP)
		}
	}
	for _, d := range r.Derive {
		out = append(out, d.LDAP)
	}
	if r.Active != nil {
		out = append(out, r.Active.Attribute, r.Active.Also)
	}
	return uniqueFold(append(out, r.AppCreated, r.AppModified, r.DerivedMarker, r.KeptReferences))
}

// uniqueFold drops empty names and repeats, compared case-insensitively.
func uniqueFold(names []string) []string {
	seen := map[string]bool{}
	out := names[:0:0]
	for _, a := range names {
		if k := strings.ToLower(a); a != "" && !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	return out
}

// special reports whether the core attribute attr is stored by a strategy
// rather than by attribute mappings.
func (r Resource) special(attr string) bool {
	switch strings.ToLower(attr) {
	case "active":
		return r.Active != nil
	case "password":
		return r.Password != nil
	case "members":
		return r.Members != ""
	case "groups":
		return r.MemberOf != "" || r.SearchGroups
	}
	return false
}

// Advertised returns the core schema and the extensions restricted to what
// the mapping can store, as /Schemas must show them, with the
// characteristics the directory gives the values (caseExact, mutability).
// Members of a typed multi-valued attribute keep "type" (listing only the
// mapped types) and "primary", which the store derives.
func (r Resource) Advertised() (core Schema, extensions []Schema) {
	restrict := func(s Schema, urn string) Schema {
		out := s.Restrict(func(attr, sub string) bool {
			if urn == "" && r.special(attr) {
				return true
			}
			ms := r.Lookup(urn, attr, "")
			if len(ms) == 0 {
				return false
			}
			if sub == "" {
				return true
			}
			for _, m := range ms {
				if m.SCIM.Sub == "" || strings.EqualFold(m.SCIM.Sub, sub) {
					return true // the whole element is stored (CodecJSON), or this sub-attribute
				}
				if m.SCIM.Type != "" && (strings.EqualFold(sub, "type") || strings.EqualFold(sub, "primary")) {
					return true
				}
				// A manager's displayName and $ref are read from the
				// manager's entry.
				if m.Codec == CodecDN && (strings.EqualFold(sub, "displayName") || sub == "$ref") {
					return true
				}
			}
			return false
		})
		for i := range out.Attributes {
			r.adjust(&out.Attributes[i], urn)
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

// adjust sets the characteristics of an advertised attribute from its
// mappings: where its elements are kept whole (JSON), any type and every
// flag is kept; where only typed values are (mail for the work e-mail),
// only the mapped types are canonical and "primary" is read-only, told by
// the order of the values (the first of the first type); caseExact follows
// the directory's matching rule; what the directory does not let clients
// write is read-only.
func (r Resource) adjust(a *Attribute, urn string) {
	ms := r.Lookup(urn, a.Name, "")
	if r.Whole(urn, a.Name) {
		return
	}
	apply := func(dst *Attribute, m AttributeMap) {
		if m.CaseExact != nil && dst.Type == String {
			dst.CaseExact = *m.CaseExact
		}
		if m.ReadOnly && dst.Mutability != ReadOnly {
			dst.Mutability = ReadOnly
		}
	}
	if len(a.SubAttributes) == 0 {
		for _, m := range ms {
			apply(a, m)
		}
		return
	}
	if urn == "" && strings.EqualFold(a.Name, "members") && r.Members != "" {
		// References: the type and $ref are those of the member.
		for j := range a.SubAttributes {
			if sa := &a.SubAttributes[j]; sa.Name == "type" || sa.Name == "$ref" {
				sa.Mutability = ReadOnly
			}
		}
		return
	}
	types := typesHolding(a, ms)
	for j := range a.SubAttributes {
		sa := &a.SubAttributes[j]
		if sa.Name == "primary" {
			sa.Mutability = ReadOnly
		}
		if sa.Name == "$ref" && len(ms) > 0 && ms[0].Codec == CodecDN {
			sa.Mutability = ReadOnly // the URL of the resource the DN names
		}
		if sa.Name == "type" && len(sa.CanonicalValues) > 0 && len(types) > 0 {
			sa.CanonicalValues = types
		}
		for _, m := range ms {
			if strings.EqualFold(m.SCIM.Sub, sa.Name) {
				apply(sa, m)
			}
		}
	}
}

// typesHolding lists the types of a multi-valued attribute whose values
// are kept by type (mail for the work e-mail) that hold every sub-attribute
// advertised: a type whose elements would lose some of theirs (a home
// address keeps only its formatted text) is not offered.
func typesHolding(a *Attribute, ms []AttributeMap) []string {
	subs := map[string]map[string]bool{} // type → sub-attributes kept
	var order []string
	for _, m := range ms {
		if m.SCIM.Type == "" {
			continue
		}
		t := strings.ToLower(m.SCIM.Type)
		if subs[t] == nil {
			subs[t] = map[string]bool{}
			order = append(order, m.SCIM.Type)
		}
		subs[t][strings.ToLower(m.SCIM.Sub)] = true
	}
	var out []string
	for _, typ := range order {
		whole := true
		for _, sa := range a.SubAttributes {
			switch sa.Name {
			case "type", "primary", "display", "$ref":
				continue
			}
			if !subs[strings.ToLower(typ)][strings.ToLower(sa.Name)] {
				whole = false
			}
		}
		if whole {
			out = append(out, typ)
		}
	}
	return out
}

// Whole reports whether the elements of the attribute attr of the schema
// urn are kept whole, as JSON documents (every sub-attribute, any type).
func (r Resource) Whole(urn, attr string) bool {
	for _, m := range r.Lookup(urn, attr, "") {
		if m.SCIM.Sub == "" && m.Codec == CodecJSON {
			return true
		}
	}
	return false
}

// Filter returns a copy of r without the mappings whose LDAP attribute
// keep rejects, and the problems that leaves, one per mapping dropped.
// Strategies (active, password, members, groups) are dropped the same way.
func (r Resource) Filter(keep func(ldapAttr string) bool) (Resource, []string) {
	var dropped []string
	out := r
	out.Attributes = nil
	for _, m := range r.Attributes {
		if keep(m.LDAP) {
			out.Attributes = append(out.Attributes, m)
			continue
		}
		dropped = append(dropped, fmt.Sprintf("%s → %s", m.SCIM, m.LDAP))
	}
	out.Derive = nil
	for _, d := range r.Derive {
		if keep(d.LDAP) {
			out.Derive = append(out.Derive, d)
		}
	}
	if r.DerivedMarker != "" && !keep(r.DerivedMarker) {
		out.DerivedMarker = "" // derived values are then told by their derivation
	}
	if r.KeptReferences != "" && !keep(r.KeptReferences) {
		out.KeptReferences = "" // a reference must then name a resource
	}
	if r.Active != nil && !keep(r.Active.Attribute) {
		dropped = append(dropped, "active → "+r.Active.Attribute)
		out.Active = nil
	}
	if r.Password != nil && r.Password.Attribute != "" && !keep(r.Password.Attribute) {
		dropped = append(dropped, "password → "+r.Password.Attribute)
		out.Password = nil
	}
	if r.MemberOf != "" && !keep(r.MemberOf) {
		dropped = append(dropped, "groups → "+r.MemberOf)
		out.MemberOf = ""
	}
	return out, dropped
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
