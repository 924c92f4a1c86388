package ldapstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/scim2/filter-parser/v2"

	"github.com/scimgate/scimgate/schema"
)

// ErrInvalidFilter: a SCIM filter that cannot be expressed in LDAP.
var ErrInvalidFilter = errors.New("invalid filter")

// FilterError is an ErrInvalidFilter with a message fit for a client.
type FilterError struct {
	Msg string
	// unassigned: the attribute is not one this resource type has or
	// stores, which a search across resource types reads as unassigned.
	unassigned bool
}

func (e *FilterError) Error() string        { return e.Msg }
func (e *FilterError) Is(target error) bool { return target == ErrInvalidFilter }

func filterErrorf(format string, args ...any) error {
	return &FilterError{Msg: fmt.Sprintf(format, args...)}
}

// unknownf is a FilterError for an attribute the resource type lacks.
func unknownf(format string, args ...any) error {
	return &FilterError{Msg: fmt.Sprintf(format, args...), unassigned: true}
}

func isUnassigned(err error) bool {
	var fe *FilterError
	return errors.As(err, &fe) && fe.unassigned
}

// The LDAP filters that match every entry and none; and, or and not fold
// them away.
const (
	matchAll  = "(objectClass=*)"
	matchNone = "(!(objectClass=*))"
)

// translator turns a SCIM filter (RFC 7644 section 3.4.2.2) into one LDAP
// filter over a resource type's mapping. Every value is escaped (RFC 4515),
// so no filter can widen the search beyond what it says. What LDAP cannot
// express is an error naming it, never a filter that answers something else.
//
// Semantics worth knowing: a comparison of a multi-valued attribute matches
// when any value does; "ne" and "not" match when no value does, as LDAP's
// negation does. Case sensitivity is the directory's matching rule, which is
// what /Schemas advertises as caseExact.
type translator struct {
	r *Resources
	// ref returns the DN of the resource with the given id among the
	// resource types rs, "" when there is none: references (members,
	// groups, manager) compare as DNs in the directory.
	ref func(rs []*Resources, id string) (string, error)
	// memberValue returns what a group's member attribute holds for the
	// member with the given id where that is no DN (posixGroup's uid).
	memberValue func(id string) (string, error)
	// unassigned makes attributes the resource type lacks unassigned
	// (a comparison false, "ne" true) instead of an error: for searches
	// across resource types (RFC 7644 section 3.4.3).
	unassigned bool
}

// ldapFilter translates a parsed SCIM filter for a search over r, resolving
// the ids that references name through conn.
func (r *Resources) ldapFilter(ctx context.Context, conn *Conn, e filter.Expression, unassigned bool) (string, error) {
	t := translator{r: r, unassigned: unassigned, memberValue: func(id string) (string, error) {
		values, _, err := r.memberValues(ctx, conn, []string{id})
		return values[id], err
	}, ref: func(rs []*Resources, id string) (string, error) {
		for _, target := range rs {
			entry, err := target.find(ctx, conn, id, []string{"1.1"})
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return "", err
			}
			return entry.DN, nil
		}
		return "", nil
	}}
	return t.filter(e)
}

func (t translator) filter(e filter.Expression) (string, error) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		f, err := t.comparison(e)
		if t.unassigned && isUnassigned(err) {
			if strings.EqualFold(string(e.Operator), string(filter.NE)) {
				return matchAll, nil // no value differs... and none is equal
			}
			return matchNone, nil
		}
		return f, err
	case *filter.LogicalExpression:
		l, err := t.filter(e.Left)
		if err != nil {
			return "", err
		}
		r, err := t.filter(e.Right)
		if err != nil {
			return "", err
		}
		if isOr(e.Operator) {
			return or(l, r), nil
		}
		return and(l, r), nil
	case *filter.NotExpression:
		inner, err := t.filter(e.Expression)
		if err != nil {
			return "", err
		}
		return not(inner), nil
	case *filter.ValuePath:
		p, err := t.path(e.AttributePath)
		if err == nil {
			var f string
			if f, err = t.valuePath(p, e.ValueFilter); err == nil {
				return f, nil
			}
		}
		if t.unassigned && isUnassigned(err) {
			return matchNone, nil
		}
		return "", err
	}
	return "", filterErrorf("unsupported filter expression %v", e)
}

// path converts a filter's attribute path; the core schema's own URN
// qualifies nothing.
func (t translator) path(ap filter.AttributePath) (schema.Path, error) {
	p := schema.Path{URN: ap.URI(), Attr: ap.AttributeName, Sub: ap.SubAttributeName()}
	if strings.EqualFold(p.URN, t.r.m.Schema.ID) {
		p.URN = ""
	}
	if p.URN != "" && !slices.ContainsFunc(t.r.m.Extensions, func(s schema.Schema) bool { return strings.EqualFold(s.ID, p.URN) }) {
		return p, unknownf("%s: %s resources have no schema %s", ap, t.r.kind, p.URN)
	}
	return p, nil
}

// comparison translates one attribute expression.
func (t translator) comparison(e *filter.AttributeExpression) (string, error) {
	p, err := t.path(e.AttributePath)
	if err != nil {
		return "", err
	}
	op := filter.CompareOperator(strings.ToLower(string(e.Operator)))
	m := t.r.m
	if p.URN == "" {
		switch strings.ToLower(p.Attr) {
		case "id":
			if p.Sub != "" {
				return "", filterErrorf("%s: id has no sub-attributes", p)
			}
			return t.id(op, e.CompareValue)
		case "meta":
			return t.meta(p, op, e.CompareValue)
		case "active":
			if m.Active != nil && p.Sub == "" {
				return activeFilter(m, op, e.CompareValue)
			}
		case "externalid":
			if p.Sub != "" {
				return "", filterErrorf("%s: externalId has no sub-attributes", p)
			}
			ms := m.Lookup("", "externalId", "")
			if len(ms) == 0 {
				return "", notStored(p)
			}
			return t.leaves(p, ms, op, e.CompareValue)
		case "password":
			return "", filterErrorf("password cannot be used in a filter: it is never returned")
		case "schemas":
			return "", filterErrorf("schemas cannot be used in a filter")
		}
	}
	attr, _ := t.r.attribute(p)
	switch {
	case attr.Name == "":
		return "", unknownf("%s: %s resources have no attribute %q", p, t.r.kind, p.Attr)
	case attr.MultiValued && attr.Type == schema.Complex:
		// emails.value co "x" is emails[value co "x"]; emails co "x" is the
		// same; emails.value ne "x" matches when no email is x.
		sub := p.Sub
		if sub == "" {
			sub = "value"
		}
		cmp := &filter.AttributeExpression{AttributePath: filter.AttributePath{AttributeName: sub}, Operator: op, CompareValue: e.CompareValue}
		if op == filter.NE {
			cmp.Operator = filter.EQ
			f, err := t.valuePath(schema.Path{URN: p.URN, Attr: p.Attr}, cmp)
			return not(f), err
		}
		return t.valuePath(schema.Path{URN: p.URN, Attr: p.Attr}, cmp)
	case attr.Type == schema.Complex && p.Sub == "":
		return "", filterErrorf("%s is complex: filter on one of its sub-attributes, such as %s.%s", p, p.Attr, firstSub(attr))
	case attr.Type != schema.Complex && p.Sub != "":
		return "", filterErrorf("%s: %s has no sub-attributes", p, p.Attr)
	}
	if p.Sub != "" {
		if _, ok := attr.SubAttribute(p.Sub); !ok {
			return "", unknownf("%s: %s has no sub-attribute %q", p, p.Attr, p.Sub)
		}
	}
	var ms []schema.AttributeMap
	for _, am := range m.Lookup(p.URN, p.Attr, p.Sub) {
		if strings.EqualFold(am.SCIM.Sub, p.Sub) {
			ms = append(ms, am)
		}
	}
	if len(ms) == 0 {
		return "", notStored(p)
	}
	return t.leaves(p, ms, op, e.CompareValue)
}

func notStored(p schema.Path) error {
	return unknownf("%s cannot be used in a filter: it is not stored in the directory", p)
}

func firstSub(a schema.Attribute) string {
	if len(a.SubAttributes) > 0 {
		return a.SubAttributes[0].Name
	}
	return "value"
}

// leaves compares the LDAP attributes of ms, any of which may hold the
// value: any matches for a comparison, none for "ne".
func (t translator) leaves(p schema.Path, ms []schema.AttributeMap, op filter.CompareOperator, value any) (string, error) {
	parts := make([]string, 0, len(ms))
	for _, am := range ms {
		f, err := t.leaf(p, am.LDAP, am.Codec, op, value)
		if err != nil {
			return "", err
		}
		parts = append(parts, f)
	}
	if op == filter.NE {
		return and(parts...), nil
	}
	return or(parts...), nil
}

// leaf builds one LDAP assertion on attr, after checking that the directory
// has the matching rule the operator needs and encoding the value as the
// mapping stores it.
func (t translator) leaf(p schema.Path, attr string, codec schema.Codec, op filter.CompareOperator, value any) (string, error) {
	if op == filter.PR {
		return t.present(attr), nil
	}
	if value == nil {
		// "eq null" asks for the absence of a value (RFC 7644 section 3.4.2.2
		// treats null as unassigned).
		switch op {
		case filter.EQ:
			return not(t.present(attr)), nil
		case filter.NE:
			return t.present(attr), nil
		}
		return "", filterErrorf("%s %s null: only eq and ne compare with null", p, op)
	}
	if err := t.canMatch(p, attr, op); err != nil {
		return "", err
	}
	var raw string
	if codec == schema.CodecDN {
		id, ok := value.(string)
		if !ok || (op != filter.EQ && op != filter.NE) {
			return "", filterErrorf("%s refers to a resource: compare it with eq or ne and the resource's id", p)
		}
		var dn string
		var err error
		if m := t.r.m; m.MemberValue != "" && strings.EqualFold(attr, m.Members) && t.memberValue != nil {
			dn, err = t.memberValue(id)
		} else {
			dn, err = t.ref(t.targets(p), id)
		}
		if err != nil {
			return "", err
		}
		if dn == "" { // no such resource: nothing refers to it
			if op == filter.NE {
				return matchAll, nil
			}
			return matchNone, nil
		}
		raw = dn
	} else {
		if s, isString := value.(string); isString && codec == schema.CodecString {
			raw = s
		} else {
			var err error
			if raw, err = codec.Encode(value); err != nil {
				return "", filterErrorf("%s %s: %v", p, op, err)
			}
		}
		if (op == filter.CO || op == filter.SW || op == filter.EW) && codec != schema.CodecString && codec != schema.CodecPostalAddress {
			return "", filterErrorf("%s cannot be compared with %s: its values are not text", p, op)
		}
	}
	return compare(attr, op, ldap.EscapeFilter(raw))
}

// present is the filter for "attr has a value": for a group's members,
// the placeholder that an empty group keeps does not count.
func (t translator) present(attr string) string {
	if m := t.r.m; m.MemberPlaceholder != "" && strings.EqualFold(attr, m.Members) {
		return and("("+attr+"=*)", not("("+attr+"="+ldap.EscapeFilter(m.MemberPlaceholder)+")"))
	}
	return "(" + attr + "=*)"
}

// targets are the resource types a reference at p may point to: groups
// point to groups, members to users and groups, anything else (manager)
// to users.
func (t translator) targets(p schema.Path) []*Resources {
	st := t.r.st
	if st == nil {
		return nil
	}
	switch {
	case p.URN == "" && strings.EqualFold(p.Attr, "groups"):
		return []*Resources{st.groups}
	case p.URN == "" && strings.EqualFold(p.Attr, "members"):
		return []*Resources{st.users, st.groups}
	}
	return []*Resources{st.users}
}

// canMatch checks that the directory can evaluate op on attr: equality,
// substring and ordering each need a matching rule, which, for example,
// the stock "uid" lacks for ordering.
func (t translator) canMatch(p schema.Path, attr string, op filter.CompareOperator) error {
	at := t.attributeType(attr)
	if at == nil {
		return nil // the schema is not known (unit tests); the directory decides
	}
	var rule, kind string
	switch op {
	case filter.EQ, filter.NE:
		rule, kind = at.Equality, "equality"
	case filter.CO, filter.SW, filter.EW:
		rule, kind = at.Substr, "substring"
	case filter.GT, filter.GE, filter.LT, filter.LE:
		rule, kind = at.Ordering, "ordering"
	default:
		return filterErrorf("%s: unknown comparison operator %q", p, op)
	}
	if rule == "" {
		return filterErrorf("%s cannot be compared with %s: the directory has no %s rule for it", p, op, kind)
	}
	return nil
}

func (t translator) attributeType(attr string) *AttributeType {
	if t.r.st == nil || t.r.st.ds == nil {
		return nil
	}
	base, _, _ := strings.Cut(attr, ";")
	at, _ := t.r.st.ds.Attribute(base)
	return at
}

// multiValued reports whether attr may hold several values: unknown
// attributes count as multi-valued.
func (t translator) multiValued(attr string) bool {
	at := t.attributeType(attr)
	return at == nil || !at.SingleValue
}

// id compares the resource id. eq and ne go through the id's codec, as
// look-ups by id do: an objectGUID compares as its 16 octets, and a value
// that cannot be an id matches nothing.
func (t translator) id(op filter.CompareOperator, value any) (string, error) {
	m := t.r.m
	switch op {
	case filter.PR:
		return matchAll, nil
	case filter.EQ, filter.NE:
		id, _ := value.(string)
		f := t.r.idFilter(id)
		if f == "" {
			f = matchNone
		}
		if op == filter.NE {
			return not(f), nil
		}
		return f, nil
	}
	return t.leaf(schema.Path{Attr: "id"}, m.ID, m.IDCodec, op, value)
}

// meta translates meta.created, meta.lastModified (the directory's
// timestamps), meta.version and meta.resourceType.
func (t translator) meta(p schema.Path, op filter.CompareOperator, value any) (string, error) {
	m := t.r.m
	attr := ""
	switch strings.ToLower(p.Sub) {
	case "created":
		attr = m.Created
	case "lastmodified":
		attr = m.Modified
	case "version":
		if m.Version == "" {
			return "", notStored(p)
		}
		s, ok := value.(string)
		if op != filter.PR && (!ok || (op != filter.EQ && op != filter.NE)) {
			return "", filterErrorf("%s compares with eq or ne and an entity tag", p)
		}
		s = strings.Trim(strings.TrimPrefix(s, "W/"), `"`)
		return t.leaf(p, m.Version, schema.CodecString, op, s)
	case "resourcetype":
		s, ok := value.(string)
		same := ok && strings.EqualFold(s, t.r.kind)
		switch {
		case op == filter.PR:
			return matchAll, nil
		case op == filter.EQ && same, op == filter.NE && !same:
			return matchAll, nil
		case op == filter.EQ, op == filter.NE:
			return matchNone, nil
		}
		return "", filterErrorf("%s compares with eq or ne", p)
	case "":
		return "", filterErrorf("meta is complex: filter on meta.created, meta.lastModified, meta.version or meta.resourceType")
	default:
		return "", filterErrorf("%s cannot be used in a filter", p)
	}
	if attr == "" {
		return "", notStored(p)
	}
	return t.leaf(p, attr, schema.CodecDateTime, op, value)
}

// activeFilter translates a comparison of "active" through its strategy.
func activeFilter(m schema.Resource, op filter.CompareOperator, value any) (string, error) {
	if op == filter.PR {
		return matchAll, nil // every user is active or not
	}
	want, ok := value.(bool)
	if s, isString := value.(string); isString { // Entra's "True"
		switch strings.ToLower(s) {
		case "true":
			want, ok = true, true
		case "false":
			want, ok = false, true
		}
	}
	if !ok || (op != filter.EQ && op != filter.NE) {
		return "", filterErrorf("active compares with eq or ne and true or false")
	}
	if op == filter.NE {
		want = !want
	}
	a := m.Active
	var active string
	switch a.Kind {
	case schema.ActiveLock:
		active = "(!(" + a.Attribute + "=*))"
	case schema.ActiveBoolean:
		if a.Invert {
			active = "(!(" + a.Attribute + "=TRUE))"
		} else {
			active = "(|(" + a.Attribute + "=TRUE)(!(" + a.Attribute + "=*)))"
		}
	case schema.ActiveStatus:
		// The status decides when present; else the boolean; else active.
		active = "(|(" + a.Attribute + "=active)(&(!(" + a.Attribute + "=*))"
		if a.Also != "" {
			active += "(|(" + a.Also + "=TRUE)(!(" + a.Also + "=*)))"
		}
		active += "))"
	case schema.ActiveBitmask:
		// 1.2.840.113556.1.4.803 is the bitwise-AND matching rule, which AD
		// and OpenLDAP both implement.
		active = fmt.Sprintf("(!(%s:1.2.840.113556.1.4.803:=%d))", a.Attribute, a.Bit)
	}
	if want {
		return active, nil
	}
	return not(active), nil
}

// source is where the elements of a multi-valued complex attribute come
// from: the LDAP attributes mapped to one "type" (emails of type work are
// the values of mail), or, for references, one DN-valued attribute.
type source struct {
	typ  string
	subs map[string][]schema.AttributeMap // by lower-cased sub-attribute
	ref  bool                             // members or groups: values are ids
}

// scimName is the SCIM path of the sub-attribute of p that the source
// keeps in the LDAP attribute attr: what error messages name.
func (s source) scimName(p schema.Path, attr string) string {
	for sub, ms := range s.subs {
		for _, am := range ms {
			if strings.EqualFold(am.LDAP, attr) {
				p.Sub = am.SCIM.Sub
				if p.Sub == "" {
					p.Sub = sub
				}
				return p.String()
			}
		}
	}
	return p.String()
}

func (s source) attributes() []string {
	var out []string
	for _, ms := range s.subs {
		for _, am := range ms {
			out = append(out, am.LDAP)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sources returns the element sources of the multi-valued attribute at p.
func (t translator) sources(p schema.Path) ([]source, error) {
	m := t.r.m
	if p.URN == "" {
		ref := func(attr string) []source {
			return []source{{ref: true, subs: map[string][]schema.AttributeMap{"value": {{LDAP: attr, Codec: schema.CodecDN}}}}}
		}
		switch strings.ToLower(p.Attr) {
		case "members":
			if m.Members != "" {
				return ref(m.Members), nil
			}
		case "groups":
			if m.MemberOf != "" {
				return ref(m.MemberOf), nil
			}
			if m.SearchGroups {
				return nil, filterErrorf("groups cannot be used in a filter: the directory does not keep a user's groups on the user; filter the groups on members instead")
			}
		}
	}
	var out []source
	for _, am := range m.Lookup(p.URN, p.Attr, "") {
		i := slices.IndexFunc(out, func(s source) bool { return strings.EqualFold(s.typ, am.SCIM.Type) })
		if i < 0 {
			out = append(out, source{typ: am.SCIM.Type, subs: map[string][]schema.AttributeMap{}})
			i = len(out) - 1
		}
		sub := strings.ToLower(am.SCIM.Sub)
		out[i].subs[sub] = append(out[i].subs[sub], am)
	}
	if len(out) == 0 {
		return nil, notStored(p)
	}
	return out, nil
}

// valuePath translates attr[valueFilter]: some element of the attribute
// matches the whole value filter. An element comes from one source; for
// each source the value filter becomes a filter on its LDAP attributes,
// with "type" known.
func (t translator) valuePath(p schema.Path, vf filter.Expression) (string, error) {
	attr, _ := t.r.attribute(p)
	if attr.Name == "" {
		return "", unknownf("%s: %s resources have no attribute %q", p, t.r.kind, p.Attr)
	}
	if !attr.MultiValued || attr.Type != schema.Complex {
		return "", filterErrorf("%s[...]: a value filter applies to a multi-valued complex attribute such as emails", p)
	}
	if err := t.checkSubs(p, attr, vf); err != nil {
		return "", err
	}
	srcs, err := t.sources(p)
	if err != nil {
		return "", err
	}
	parts := make([]string, 0, len(srcs))
	for _, s := range srcs {
		f, _, needs, err := t.element(p, s, vf)
		if err != nil {
			return "", err
		}
		if needs {
			// The filter itself requires a value of the source.
			parts = append(parts, f)
			continue
		}
		presence := make([]string, 0, len(s.subs))
		for _, a := range s.attributes() {
			presence = append(presence, t.present(a))
		}
		parts = append(parts, and(or(presence...), f))
	}
	return or(parts...), nil
}

// checkSubs makes sure every sub-attribute a value filter names exists and
// is stored by some source, so that a misspelt name is an error rather
// than a filter that matches nothing.
func (t translator) checkSubs(p schema.Path, attr schema.Attribute, vf filter.Expression) error {
	switch e := vf.(type) {
	case *filter.LogicalExpression:
		if err := t.checkSubs(p, attr, e.Left); err != nil {
			return err
		}
		return t.checkSubs(p, attr, e.Right)
	case *filter.NotExpression:
		return t.checkSubs(p, attr, e.Expression)
	case *filter.AttributeExpression:
		name := e.AttributePath.AttributeName
		sub := p
		sub.Sub = name
		if _, ok := attr.SubAttribute(name); !ok {
			return unknownf("%s: %s has no sub-attribute %q", sub, p.Attr, name)
		}
		switch strings.ToLower(name) {
		case "type", "value":
			return nil
		case "primary":
			return filterErrorf("%s cannot be used in a filter: the directory keeps no primary flag (the first value is primary)", sub)
		}
		if len(t.r.m.Lookup(p.URN, p.Attr, name)) == 0 {
			return notStored(sub)
		}
		return nil
	}
	return filterErrorf("%s[%v]: unsupported value filter", p, vf)
}

// element translates a value filter for the elements of one source; it
// returns the LDAP attributes the filter compares, and whether the filter
// only matches entries holding a value of the source (so that it needs no
// test of presence). A conjunction of two comparisons of one multi-valued
// LDAP attribute, and a negation of one, cannot be expressed: LDAP would
// apply them to different values, or to all, where SCIM means one element.
func (t translator) element(p schema.Path, s source, vf filter.Expression) (string, []string, bool, error) {
	switch e := vf.(type) {
	case *filter.LogicalExpression:
		l, la, ln, err := t.element(p, s, e.Left)
		if err != nil {
			return "", nil, false, err
		}
		// A side that decides for this source spares the other: for the
		// fax numbers, phoneNumbers[type eq "work" and value sw "+1"]
		// compares nothing (their attribute has no substring rule).
		if (isOr(e.Operator) && l == matchAll) || (!isOr(e.Operator) && l == matchNone) {
			return l, la, false, nil
		}
		r, ra, rn, err := t.element(p, s, e.Right)
		if err != nil {
			return "", nil, false, err
		}
		if isOr(e.Operator) {
			return or(l, r), append(la, ra...), ln && rn, nil
		}
		for _, a := range la {
			if slices.ContainsFunc(ra, func(b string) bool { return strings.EqualFold(a, b) }) && t.multiValued(a) {
				return "", nil, false, filterErrorf("%s[%v]: LDAP cannot require two conditions of one value of the multi-valued %s; "+
					"compare it once inside [...], or write two filters joined by and outside it", p, vf, s.scimName(p, a))
			}
		}
		return and(l, r), append(la, ra...), ln || rn, nil
	case *filter.NotExpression:
		inner, attrs, _, err := t.element(p, s, e.Expression)
		if err != nil {
			return "", nil, false, err
		}
		for _, a := range attrs {
			if t.multiValued(a) {
				return "", nil, false, filterErrorf("%s[%v]: LDAP cannot negate a condition on one value of the multi-valued %s; "+
					"put the not outside the brackets (not (%s[...])) to match resources none of whose values match", p, vf, s.scimName(p, a), p)
			}
		}
		return not(inner), attrs, false, nil
	case *filter.AttributeExpression:
		op := filter.CompareOperator(strings.ToLower(string(e.Operator)))
		name := strings.ToLower(e.AttributePath.AttributeName)
		sub := p
		sub.Sub = e.AttributePath.AttributeName
		if name == "type" {
			f, err := constant(sub, s.typ, op, e.CompareValue)
			return f, nil, false, err
		}
		ms := s.subs[name]
		if len(ms) == 0 {
			// This source stores no such sub-attribute: its elements lack it.
			if op == filter.NE {
				return matchAll, nil, false, nil
			}
			return matchNone, nil, false, nil
		}
		if op == filter.NE {
			for _, am := range ms {
				if t.multiValued(am.LDAP) {
					return "", nil, false, filterErrorf("%s ne: LDAP cannot ask whether one of its values differs; "+
						"use not (%s[%s eq ...]) to match resources none of whose values is equal", sub, p, sub.Sub)
				}
			}
		}
		at := sub // what errors name: the type of the values at fault, if they have one
		at.Type = s.typ
		f, err := t.leaves(at, ms, op, e.CompareValue)
		attrs := make([]string, len(ms))
		for i, am := range ms {
			attrs[i] = am.LDAP
		}
		needs := op != filter.NE && e.CompareValue != nil && f != matchAll && f != matchNone
		return f, attrs, needs || op == filter.PR, err
	}
	return "", nil, false, filterErrorf("%s[%v]: unsupported value filter", p, vf)
}

// constant evaluates a comparison whose attribute value the gateway knows
// (an element's type): to matchAll or matchNone. Types compare
// case-insensitively.
func constant(p schema.Path, have string, op filter.CompareOperator, value any) (string, error) {
	if op == filter.PR {
		return boolFilter(have != ""), nil
	}
	want, ok := value.(string)
	if !ok {
		return "", filterErrorf("%s compares with a string", p)
	}
	h, w := strings.ToLower(have), strings.ToLower(want)
	switch op {
	case filter.EQ:
		return boolFilter(have != "" && h == w), nil
	case filter.NE:
		return boolFilter(h != w), nil
	case filter.CO:
		return boolFilter(have != "" && strings.Contains(h, w)), nil
	case filter.SW:
		return boolFilter(have != "" && strings.HasPrefix(h, w)), nil
	case filter.EW:
		return boolFilter(have != "" && strings.HasSuffix(h, w)), nil
	}
	return "", filterErrorf("%s compares with eq, ne, co, sw, ew or pr", p)
}

func boolFilter(b bool) string {
	if b {
		return matchAll
	}
	return matchNone
}

func isOr(op filter.LogicalOperator) bool { return strings.EqualFold(string(op), string(filter.OR)) }

// and joins filters, folding the constants away and nested ands in.
func and(fs ...string) string { return join('&', matchAll, matchNone, fs) }

// or joins filters, folding the constants away and nested ors in.
func or(fs ...string) string { return join('|', matchNone, matchAll, fs) }

// join combines filters with op ('&' or '|'), for which identity changes
// nothing and absorbing decides all.
func join(op byte, identity, absorbing string, fs []string) string {
	var parts []string
	for _, f := range fs {
		switch {
		case f == absorbing:
			return absorbing
		case f == identity:
		case len(f) > 2 && f[0] == '(' && f[1] == op && wraps(f):
			parts = append(parts, children(f[2:len(f)-1])...)
		default:
			parts = append(parts, f)
		}
	}
	switch len(parts) {
	case 0:
		return identity
	case 1:
		return parts[0]
	}
	return "(" + string(op) + strings.Join(parts, "") + ")"
}

func not(f string) string {
	switch {
	case f == matchAll:
		return matchNone
	case f == matchNone:
		return matchAll
	case strings.HasPrefix(f, "(!") && wraps(f):
		return f[2 : len(f)-1]
	}
	return "(!" + f + ")"
}

// children splits a concatenation of filters, "(a=1)(b=2)", into them.
func children(list string) []string {
	var out []string
	depth, start := 0, 0
	for j := 0; j < len(list); j++ {
		switch list[j] {
		case '(':
			if depth == 0 {
				start = j
			}
			depth++
		case ')':
			if depth--; depth == 0 {
				out = append(out, list[start:j+1])
			}
		}
	}
	return out
}

// wraps reports whether the parenthesis that opens f closes at its end:
// "(&(a=1)(b=2))" is one filter, "(a=1)(b=2)" two. Values hold no bare
// parentheses (they are escaped), so counting is enough.
func wraps(f string) bool {
	depth := 0
	for j := 0; j < len(f); j++ {
		switch f[j] {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return j == len(f)-1
			}
		}
	}
	return false
}

// compare builds one LDAP assertion; value is already escaped.
func compare(attr string, op filter.CompareOperator, value string) (string, error) {
	if value == "" && (op == filter.CO || op == filter.SW || op == filter.EW) {
		op = filter.PR // every value contains, starts and ends with ""
	}
	switch op {
	case filter.PR:
		return "(" + attr + "=*)", nil
	case filter.EQ:
		return "(" + attr + "=" + value + ")", nil
	case filter.NE:
		return "(!(" + attr + "=" + value + "))", nil
	case filter.CO:
		return "(" + attr + "=*" + value + "*)", nil
	case filter.SW:
		return "(" + attr + "=" + value + "*)", nil
	case filter.EW:
		return "(" + attr + "=*" + value + ")", nil
	case filter.GE:
		return "(" + attr + ">=" + value + ")", nil
	case filter.LE:
		return "(" + attr + "<=" + value + ")", nil
	case filter.GT:
		return "(&(" + attr + ">=" + value + ")(!(" + attr + "=" + value + ")))", nil
	case filter.LT:
		return "(&(" + attr + "<=" + value + ")(!(" + attr + "=" + value + ")))", nil
	}
	return "", filterErrorf("unknown comparison operator %q", op)
}

// HasFilterAttribute reports whether filters over r may name the attribute
// path: one r's resources have and the directory stores. A search across
// resource types (RFC 7644 section 3.4.3) refuses only attributes that no
// type has.
func (r *Resources) HasFilterAttribute(ap filter.AttributePath) bool {
	if r.wholeJSON(ap) != "" {
		return true // JSON documents: checked exactly (jsonfilter.go)
	}
	t := translator{r: r}
	_, err := t.comparison(&filter.AttributeExpression{AttributePath: ap, Operator: filter.PR})
	return !isUnassigned(err)
}
