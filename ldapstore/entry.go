package ldapstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// Resource is a SCIM resource read from the directory.
type Resource struct {
	ID string
	// Attributes are the SCIM attributes other than id, schemas and meta,
	// keyed by their canonical names; extension attributes sit in a map
	// under the extension's URN.
	Attributes   map[string]any
	Created      time.Time
	LastModified time.Time
	// Version changes with every modification: the ETag.
	Version string
	// Kept says the manager's value is kept as the client gave it, naming
	// no user yet (users.manager.unresolved: keep): it has no $ref.
	Kept bool
}

// Member is a resource that a DN names: a group's member, a user's group,
// a user's manager.
type Member struct {
	ID      string
	Type    string // "User" or "Group"
	Display string
	DN      string
}

// Element is the member as an element of a group's "members".
func (m Member) Element() map[string]any {
	el := map[string]any{"value": m.ID, "type": m.Type}
	if m.Display != "" {
		el["display"] = m.Display
	}
	return el
}

// values are LDAP attribute values by attribute name, with names compared
// case-insensitively and kept in the case first given.
type values map[string]*attrValues

type attrValues struct {
	name string
	vals []string
}

func (v values) get(name string) []string {
	if a := v[strings.ToLower(name)]; a != nil {
		return a.vals
	}
	return nil
}

func (v values) add(name, val string) {
	k := strings.ToLower(name)
	if v[k] == nil {
		v[k] = &attrValues{name: name}
	}
	v[k].vals = append(v[k].vals, val)
}

func (v values) set(name string, vals []string) {
	v[strings.ToLower(name)] = &attrValues{name: name, vals: vals}
}

// prepend makes val the first value of name (the naming value of an RDN).
func (v values) prepend(name, val string) {
	out := []string{val}
	for _, x := range v.get(name) {
		if !strings.EqualFold(x, val) {
			out = append(out, x)
		}
	}
	v.set(name, out)
}

// names returns the attribute names holding values, sorted.
func (v values) names() []string {
	out := make([]string, 0, len(v))
	for _, a := range v {
		if len(a.vals) > 0 {
			out = append(out, a.name)
		}
	}
	sort.Strings(out)
	return out
}

// toValues turns validated SCIM attributes into LDAP values through the
// mapping: codecs, references (ids become DNs), derived attributes, active
// and write-only passwords. old is the current entry (nil on create).
// Values the mapping has no place for are left out: the schema advertised
// to clients holds only what is mapped (CheckStorable refuses the rest).
func (r *Resources) toValues(ctx context.Context, conn *Conn, attrs map[string]any, old *ldap.Entry) (values, error) {
	out := values{}
	if err := r.mappedValues(ctx, conn, attrs, old, out); err != nil {
		return nil, err
	}
	r.appTimes(old, out)
	r.deriveRequired(attrs, out)
	if a := r.m.Active; a != nil {
		if err := activeValues(a, attrs, old, out); err != nil {
			return nil, err
		}
	}
	if pw, ok := password(attrs); ok && r.m.Password != nil {
		switch r.m.Password.Kind {
		case schema.PasswordUnicodePwd:
			out.set(r.m.Password.Attribute, []string{unicodePwd(pw)})
		case schema.PasswordAttribute:
			out.set(r.m.Password.Attribute, []string{pw})
		}
	}
	return out, nil
}

// mappedValues adds to out the values of every writable mapping, encoded;
// references (manager ids) become DNs.
func (r *Resources) mappedValues(ctx context.Context, conn *Conn, attrs map[string]any, old *ldap.Entry, out values) error {
	type ref struct{ attr, id string }
	var refs []ref
	for _, am := range r.m.Attributes {
		if am.ReadOnly {
			continue
		}
		keep := keptJSON(am, old)
		for _, sv := range scimValues(r.m, am, attrs) {
			if am.Codec == schema.CodecDN {
				if id, ok := sv.(string); ok && id != "" {
					refs = append(refs, ref{am.LDAP, id})
				}
				continue
			}
			s, err := am.Codec.Encode(sv)
			if err != nil {
				return invalidf("%s: %v", am.SCIM, err)
			}
			if raw, ok := keep[s]; ok {
				s = raw // unchanged: the bytes as they were
			}
			if am.Fallback && (am.SingleValue && len(out.get(am.LDAP)) > 0 || slices.ContainsFunc(out.get(am.LDAP), func(v string) bool {
				return strings.EqualFold(v, s)
			})) {
				continue // a copy for other readers: the first (primary) value, each once
			}
			if s != "" {
				out.add(am.LDAP, s)
			}
		}
	}
	for _, rf := range refs {
		if err := r.managerValues(ctx, conn, rf.attr, rf.id, out); err != nil {
			return err
		}
	}
	return nil
}

// appTimes sets the application's own times (Janssen's jansMeta*), which
// reads prefer: kept true by every write.
func (r *Resources) appTimes(old *ldap.Entry, out values) {
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	if a := r.m.AppCreated; a != "" {
		created := now
		if old != nil {
			created = old.GetEqualFoldAttributeValue(a)
		}
		if created != "" {
			out.set(a, []string{created})
		}
	}
	if a := r.m.AppModified; a != "" {
		out.set(a, []string{now})
	}
}

// deriveRequired fills the attributes the object classes require that no mapping
// wrote, and marks them derived: not the client's, not read back.
func (r *Resources) deriveRequired(attrs map[string]any, out values) {
	for _, d := range r.m.Derive {
		if len(out.get(d.LDAP)) > 0 {
			continue
		}
		if v, ok := d.Derive(func(p schema.Path) string { return valueAt(attrs, p) }); ok {
			out.set(d.LDAP, []string{v})
			if r.m.DerivedMarker != "" {
				out.add(r.m.DerivedMarker, d.LDAP)
			}
		}
	}
}

// activeValues writes "active" (absent: true) by the strategy a.
func activeValues(a *schema.Active, attrs map[string]any, old *ldap.Entry, out values) error {
	active := true
	if v := schema.Get(attrs, "active"); v != nil {
		b, err := schema.CodecBoolean.Encode(v)
		if err != nil {
			return invalidf("active: %v", err)
		}
		active = b == "TRUE"
	}
	current := ""
	if old != nil {
		current = old.GetEqualFoldAttributeValue(a.Attribute)
	}
	switch a.Kind {
	case schema.ActiveLock:
		if !active {
			out.set(a.Attribute, []string{cmp.Or(current, a.LockValue)}) // an existing lock kept as it is
		}
	case schema.ActiveBoolean:
		switch {
		case a.Invert && !active:
			out.set(a.Attribute, []string{"TRUE"})
		case !a.Invert:
			out.set(a.Attribute, []string{strings.ToUpper(strconv.FormatBool(active))})
		}
	case schema.ActiveStatus:
		out.set(a.Attribute, []string{map[bool]string{true: "active", false: "inactive"}[active]})
		if a.Also != "" {
			out.set(a.Also, []string{strings.ToUpper(strconv.FormatBool(active))})
		}
	case schema.ActiveBitmask:
		flags := a.Initial
		if n, err := strconv.ParseInt(current, 10, 64); err == nil {
			flags = n
		}
		if active {
			flags &^= a.Bit
		} else {
			flags |= a.Bit
		}
		out.set(a.Attribute, []string{strconv.FormatInt(flags, 10)})
	}
	return nil
}

// scimValues returns the SCIM values a mapping stores, from attrs.
func scimValues(m schema.Resource, am schema.AttributeMap, attrs map[string]any) []any {
	container := attrs
	if am.SCIM.URN != "" {
		ext, _ := schema.Get(attrs, am.SCIM.URN).(map[string]any)
		if ext == nil {
			return nil
		}
		container = ext
	}
	v := schema.Get(container, am.SCIM.Attr)
	if v == nil {
		return nil
	}
	var out []any
	switch elems := v.(type) {
	case []any: // multi-valued
		if am.SCIM.Sub != "" {
			elems = primaryFirst(elems) // whole elements (JSON) keep their order
		}
		for _, el := range elems {
			obj, isObj := el.(map[string]any)
			switch {
			case am.SCIM.Sub == "":
				out = append(out, el)
			case !isObj:
			case am.SCIM.Type == "" || typeMatches(m, am.SCIM, schema.Get(obj, "type")):
				if sv := schema.Get(obj, am.SCIM.Sub); sv != nil {
					out = append(out, sv)
				}
			}
		}
	case map[string]any: // complex
		if sv := schema.Get(elems, am.SCIM.Sub); sv != nil && am.SCIM.Sub != "" {
			out = append(out, sv)
		}
	default:
		if am.SCIM.Sub == "" {
			out = append(out, v)
		}
	}
	return out
}

// keptJSON maps, for a CodecJSON mapping, each of old's values as the codec
// would write it again to the value as stored, so that an element a client
// did not change is written back byte for byte (key order, nulls, spacing
// as another application wrote them). Nil for other mappings.
func keptJSON(am schema.AttributeMap, old *ldap.Entry) map[string]string {
	if am.Codec != schema.CodecJSON || old == nil {
		return nil
	}
	keep := map[string]string{}
	for _, raw := range old.GetEqualFoldAttributeValues(am.LDAP) {
		v, err := am.Codec.Decode(raw)
		if err != nil {
			continue
		}
		if s, err := am.Codec.Encode(v); err == nil {
			keep[s] = raw
		}
	}
	return keep
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
		if obj, ok := el.(map[string]any); ok && schema.Get(obj, "primary") == true && i > 0 {
			out := append([]any{el}, elems[:i]...)
			return append(out, elems[i+1:]...)
		}
	}
	return elems
}

// resource reads one entry read with r.whole through the mapping (see read).
func (r *Resources) resource(ctx context.Context, conn *Conn, e *ldap.Entry) (Resource, error) {
	out, err := r.read(ctx, conn, []*ldap.Entry{e}, r.whole)
	if err != nil {
		return Resource{}, err
	}
	return out[0], nil
}

// refs are the resources that the DNs in some entries name, by dnKey.
type refs map[string]Member

// read turns entries into resources through the mapping: codecs,
// references (DNs become ids and display names), active, groups and
// members. The references of all the entries are resolved together, in a
// few searches rather than a few per entry. The entries were read as rd
// says; what they were read without is left out of their resources.
func (r *Resources) read(ctx context.Context, conn *Conn, entries []*ldap.Entry, rd reading) ([]Resource, error) {
	st, err := r.store.load(ctx)
	if err != nil {
		return nil, err
	}
	var userDNs, groupDNs, memberDNs []string
	for _, e := range entries {
		for _, am := range r.m.Attributes {
			if am.Codec == schema.CodecDN {
				userDNs = append(userDNs, e.GetEqualFoldAttributeValues(am.LDAP)...)
			}
		}
		if r.m.MemberOf != "" && rd.groups {
			groupDNs = append(groupDNs, e.GetEqualFoldAttributeValues(r.m.MemberOf)...)
		}
		if r.m.Members != "" && rd.members {
			memberDNs = append(memberDNs, e.GetEqualFoldAttributeValues(r.m.Members)...)
		}
	}
	users, err := r.store.resolve(ctx, conn, userDNs, st.users, true)
	if err != nil {
		return nil, err
	}
	groups, err := r.store.resolve(ctx, conn, groupDNs, st.groups, true)
	if err != nil {
		return nil, err
	}
	members, err := r.membersOf(ctx, conn, memberDNs, rd.memberDisplay)
	if err != nil {
		return nil, err
	}
	out := make([]Resource, 0, len(entries))
	for _, e := range entries {
		res, err := r.build(e, rd, users, members)
		if err != nil {
			return nil, err
		}
		if r.m.MemberOf != "" && rd.groups {
			if list := groupList(groups, e.GetEqualFoldAttributeValues(r.m.MemberOf)); len(list) > 0 {
				res.Attributes["groups"] = list
			}
		} else if r.m.SearchGroups && rd.groups {
			value := e.DN
			if a := st.groups.m.MemberValue; a != "" {
				value = e.GetEqualFoldAttributeValue(a)
			}
			list, err := r.searchGroups(ctx, conn, st.groups, value)
			if err != nil {
				return nil, err
			}
			if len(list) > 0 {
				res.Attributes["groups"] = list
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// reading says what entries are read with: the LDAP attributes, and
// whether they carry active, groups and members, which are not plain
// mappings.
type reading struct {
	attrs                   []string
	active, groups, members bool
	memberDisplay           bool // members carry display names
}

// reading returns what to read for a projection: only the LDAP attributes
// of what it returns, so that an excluded attribute (a group's members) is
// not read from the directory at all. The id, and the version the ETag
// needs, are always read.
func (r *Resources) reading(p schema.Projection) reading {
	if p.IsZero() {
		return r.whole
	}
	return r.project(p)
}

// project computes what reading returns.
func (r *Resources) project(p schema.Projection) reading {
	core := r.m.Schema.ID
	rd := reading{
		active:  r.m.Active != nil && p.Wants(core, "", "active", ""),
		groups:  (r.m.MemberOf != "" || r.m.SearchGroups) && p.Wants(core, "", "groups", ""),
		members: r.m.Members != "" && p.Wants(core, "", "members", ""),
	}
	rd.memberDisplay = rd.members && p.Wants(core, "", "members", "display")
	attrs := []string{r.m.ID, r.m.Version}
	if p.Wants(core, "", "meta", "created") {
		attrs = append(attrs, r.m.Created, r.m.AppCreated)
	}
	if p.Wants(core, "", "meta", "lastModified") {
		attrs = append(attrs, r.m.Modified, r.m.AppModified)
	}
	for _, am := range r.m.Attributes {
		if p.Wants(core, am.SCIM.URN, am.SCIM.Attr, am.SCIM.Sub) {
			attrs = append(attrs, am.LDAP)
		}
	}
	if rd.active {
		attrs = append(attrs, r.m.Active.Attribute)
		if r.m.Active.Also != "" {
			attrs = append(attrs, r.m.Active.Also)
		}
	}
	if rd.groups && r.m.MemberOf != "" {
		attrs = append(attrs, r.m.MemberOf)
	}
	if rd.groups && r.m.SearchGroups && r.st != nil && r.st.groups != nil {
		attrs = append(attrs, r.st.groups.m.MemberValue) // "" (the DN) is dropped
	}
	if rd.members {
		attrs = append(attrs, r.m.Members)
	}
	rd.attrs = uniqueAttributes(attrs)
	return rd
}

// uniqueAttributes drops empty names and repeats, compared
// case-insensitively.
func uniqueAttributes(names []string) []string {
	out := make([]string, 0, len(names))
	for _, a := range names {
		if a != "" && !slices.ContainsFunc(out, func(b string) bool { return strings.EqualFold(a, b) }) {
			out = append(out, a)
		}
	}
	return out
}

// build converts one entry, with its references resolved.
func (r *Resources) build(e *ldap.Entry, rd reading, users, members refs) (Resource, error) {
	res := Resource{Attributes: map[string]any{}, Version: e.GetEqualFoldAttributeValue(r.m.Version)}
	var err error
	if res.ID, err = r.idOf(e); err != nil {
		return Resource{}, fmt.Errorf("read %s %s: id: %w", r.kind, e.DN, err)
	}
	res.Created = entryTime(e, r.m.AppCreated, r.m.Created)
	res.LastModified = entryTime(e, r.m.AppModified, r.m.Modified)
	r.readMapped(e, res.Attributes, users)
	res.Kept = r.readKeptReference(e, res.Attributes)
	for urn, v := range res.Attributes {
		if ext, ok := v.(map[string]any); ok && strings.HasPrefix(urn, "urn:") && len(ext) == 0 {
			delete(res.Attributes, urn)
		}
	}
	if a := r.m.Active; a != nil && rd.active {
		res.Attributes["active"] = readActive(a, e.GetEqualFoldAttributeValue)
	}
	if r.m.Members != "" && rd.members {
		var list []any
		for _, v := range e.GetEqualFoldAttributeValues(r.m.Members) {
			if m, ok := members[r.valueKey(v)]; ok {
				list = append(list, m.Element())
			}
		}
		if len(list) > 0 { // an empty group's members are unassigned (RFC 7643 section 2.5)
			res.Attributes["members"] = list
		}
	}
	return res, nil
}

// readMapped reads the values of every mapping into attrs: fallbacks only
// where no other mapping of their attribute gave values, derived values
// not at all.
func (r *Resources) readMapped(e *ldap.Entry, attrs map[string]any, users refs) {
	typed := typedElements{elements: map[elemKey][]map[string]any{}}
	values := r.valuesByName(e)
	derived := r.derivedOf(values)
	given := map[string]bool{} // attributes a mapping other than a fallback gave
	for _, step := range r.entry.steps {
		am := step.am
		raw := values[step.ldap]
		if len(raw) == 0 || derived[step.ldap] {
			continue
		}
		if am.Fallback && given[step.scim] {
			continue // the attribute's own mapping (a JSON home) gave it
		}
		if !am.Fallback {
			given[step.scim] = true
		}
		container := r.containerFor(attrs, am.SCIM.URN)
		if am.Codec == schema.CodecDN {
			r.readReference(container, am, string(raw[0]), users)
			continue
		}
		decoded := make([]any, 0, len(raw))
		for _, b := range raw {
			if v, err := am.Codec.Decode(string(b)); err == nil {
				decoded = append(decoded, v) // else a value the directory holds in another form than mapped
			}
		}
		if len(decoded) > 0 {
			r.place(container, am, decoded, &typed)
		}
	}
	typed.placeAll(r, attrs)
}

// valuesByName is e's values by lower-cased attribute name: looked up once
// per mapping rather than by a case-insensitive scan of the entry each
// time. (The first of two attributes of one name wins, as in the scan.)
func (r *Resources) valuesByName(e *ldap.Entry) map[string][][]byte {
	out := make(map[string][][]byte, len(e.Attributes))
	for _, a := range e.Attributes {
		k := r.lowerName(a.Name)
		if _, ok := out[k]; !ok {
			out[k] = a.ByteValues
		}
	}
	return out
}

// readReference reads a DN-valued mapping (the manager) as the id and
// display name of the user it names; a DN that is no user here is left out.
func (r *Resources) readReference(container map[string]any, am schema.AttributeMap, dn string, users refs) {
	m, ok := users[dnKey(dn)]
	if !ok {
		return
	}
	obj, _ := container[am.SCIM.Attr].(map[string]any)
	if obj == nil {
		obj = map[string]any{}
		container[am.SCIM.Attr] = obj
	}
	obj[am.SCIM.Sub] = m.ID
	if attr, _ := r.attribute(am.SCIM); m.Display != "" {
		if _, ok := attr.SubAttribute("displayName"); ok {
			obj["displayName"] = m.Display
		}
	}
}

// place puts a mapping's decoded values where its SCIM path says.
func (r *Resources) place(container map[string]any, am schema.AttributeMap, decoded []any, typed *typedElements) {
	attr, multi := r.attribute(am.SCIM)
	switch {
	case attr.MultiValued && attr.Type == schema.Complex && am.SCIM.Sub == "":
		// Whole elements (CodecJSON), in the order stored.
		list, _ := container[am.SCIM.Attr].([]any)
		container[am.SCIM.Attr] = append(list, decoded...)
	case attr.MultiValued && attr.Type == schema.Complex:
		typed.add(am.SCIM, decoded)
	case am.SCIM.Sub != "":
		obj, _ := container[am.SCIM.Attr].(map[string]any)
		if obj == nil {
			obj = map[string]any{}
			container[am.SCIM.Attr] = obj
		}
		obj[am.SCIM.Sub] = decoded[0]
	case multi:
		container[am.SCIM.Attr] = decoded
	default:
		container[am.SCIM.Attr] = decoded[0]
	}
}

type elemKey struct{ urn, attr, typ string }

// typedElements gathers the elements of a multi-valued attribute kept by
// type in attributes of their own (mail, telephoneNumber): element i of a
// type takes value i of each attribute mapped to it.
type typedElements struct {
	elements map[elemKey][]map[string]any
	order    []elemKey
}

func (t *typedElements) add(p schema.Path, decoded []any) {
	k := elemKey{p.URN, p.Attr, p.Type}
	if _, seen := t.elements[k]; !seen {
		t.order = append(t.order, k)
	}
	list := t.elements[k]
	for i, v := range decoded {
		if i >= len(list) {
			el := map[string]any{}
			if p.Type != "" {
				el["type"] = p.Type
			}
			list = append(list, el)
		}
		list[i][p.Sub] = v
	}
	t.elements[k] = list
}

// placeAll appends the elements to their attributes, the first of the
// first type marked primary (the order of values tells it).
func (t *typedElements) placeAll(r *Resources, attrs map[string]any) {
	for _, k := range t.order {
		container := r.containerFor(attrs, k.urn)
		list, _ := container[k.attr].([]any)
		for _, el := range t.elements[k] {
			if len(list) == 0 && k.typ != "" {
				el["primary"] = true
			}
			list = append(list, el)
		}
		container[k.attr] = list
	}
}

// entryPlan is how an entry is read into a resource, worked out once with
// the mapping: the mappings in reading order, the derivations, the
// derived-marker attribute lower-cased.
type entryPlan struct {
	steps         []readStep
	derivations   []derivationRead
	derivedMarker string
}

func newEntryPlan(m schema.Resource) entryPlan {
	return entryPlan{steps: readOrder(m), derivations: derivationReads(m), derivedMarker: strings.ToLower(m.DerivedMarker)}
}

// readStep is one mapping as build reads it: with its LDAP attribute
// lower-cased and its SCIM attribute's key, worked out once.
type readStep struct {
	am   schema.AttributeMap
	ldap string // am.LDAP lower-cased
	scim string // URN:attribute
}

// readOrder is the mappings in the order build reads them: fallbacks
// last, so that they are read only when the attribute's own mapping (a
// JSON home) gave nothing.
func readOrder(m schema.Resource) []readStep {
	out := make([]readStep, 0, len(m.Attributes))
	for _, fallback := range []bool{false, true} {
		for _, am := range m.Attributes {
			if am.Fallback == fallback {
				out = append(out, readStep{am: am, ldap: strings.ToLower(am.LDAP), scim: am.SCIM.URN + ":" + am.SCIM.Attr})
			}
		}
	}
	return out
}

// derivedOf returns the LDAP attributes (lower-cased) of an entry, whose
// values by lower-cased name are values, that the gateway derived, which
// are not read back as SCIM values: as the derived-marker attribute lists
// them, or, where the directory has none, those whose value is what their
// derivation gives from the others.
func (r *Resources) derivedOf(values map[string][][]byte) map[string]bool {
	out := map[string]bool{}
	if r.m.DerivedMarker != "" {
		for _, a := range values[r.entry.derivedMarker] {
			out[strings.ToLower(string(a))] = true
		}
		return out
	}
	for _, d := range r.entry.derivations {
		v := firstValue(values, d.name)
		if v == "" {
			continue
		}
		if want, ok := d.fromValues(values); ok && want == v {
			out[d.name] = true
		}
	}
	return out
}

// derivationRead is a derivation as derivedOf tells a derived value: its
// LDAP attribute lower-cased, and for each SCIM path of its templates the
// LDAP attributes (lower-cased) the path's value is read from — its
// plain-string mappings other than the derived attribute itself.
type derivationRead struct {
	schema.Derivation
	name    string
	sources map[schema.Path][]string
}

// fromValues is what d would derive from an entry's other values.
func (d derivationRead) fromValues(values map[string][][]byte) (string, bool) {
	return d.Derive(func(p schema.Path) string {
		for _, name := range d.sources[p] {
			if v := firstValue(values, name); v != "" {
				return v
			}
		}
		return ""
	})
}

func derivationReads(m schema.Resource) []derivationRead {
	out := make([]derivationRead, 0, len(m.Derive))
	for _, d := range m.Derive {
		dr := derivationRead{Derivation: d, name: strings.ToLower(d.LDAP), sources: map[schema.Path][]string{}}
		for _, p := range d.Paths() {
			for _, am := range m.Lookup(p.URN, p.Attr, p.Sub) {
				if !strings.EqualFold(am.LDAP, d.LDAP) && (am.Codec == schema.CodecString || am.Codec == "") {
					dr.sources[p] = append(dr.sources[p], strings.ToLower(am.LDAP))
				}
			}
		}
		out = append(out, dr)
	}
	return out
}

// lowerName is an attribute name the directory sent, lower-cased: the
// names repeat in every entry, so each is lower-cased once (up to
// maxLowerNames; a directory's schema has far fewer).
func (r *Resources) lowerName(name string) string {
	if v, ok := r.lowerNames.Load(name); ok {
		return v.(string)
	}
	lower := strings.ToLower(name)
	if r.lowerCount.Load() < maxLowerNames {
		if _, loaded := r.lowerNames.LoadOrStore(name, lower); !loaded {
			r.lowerCount.Add(1)
		}
	}
	return lower
}

const maxLowerNames = 4096

func firstValue(values map[string][][]byte, name string) string {
	if vs := values[name]; len(vs) > 0 {
		return string(vs[0])
	}
	return ""
}

// groupList lists groups by the DNs given, for a user's "groups".
func groupList(groups refs, dns []string) []any {
	out := make([]any, 0, len(dns))
	for _, dn := range dns {
		m, ok := groups[dnKey(dn)]
		if !ok {
			continue
		}
		el := map[string]any{"value": m.ID, "type": "direct"}
		if m.Display != "" {
			el["display"] = m.Display
		}
		out = append(out, el)
	}
	return out
}

// searchGroups lists the groups a user belongs to by searching the groups
// for its member value (its DN, or its uid for posixGroup), where the
// directory keeps no memberOf.
func (r *Resources) searchGroups(ctx context.Context, conn *Conn, groups *Resources, value string) ([]any, error) {
	if value == "" {
		return nil, nil
	}
	res, err := conn.Search(ctx, ldap.NewSearchRequest(groups.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&"+groups.class+"("+groups.m.Members+"="+ldap.EscapeFilter(value)+"))", []string{"1.1"}, nil))
	if err != nil {
		return nil, classify("find groups of "+value, err)
	}
	dns := make([]string, len(res.Entries))
	for i, g := range res.Entries {
		dns[i] = g.DN
	}
	found, err := r.store.resolve(ctx, conn, dns, groups, true)
	if err != nil {
		return nil, err
	}
	return groupList(found, dns), nil
}

// readActive reads "active" from an entry's values (get returns one).
func readActive(a *schema.Active, get func(string) string) bool {
	v := get(a.Attribute)
	switch a.Kind {
	case schema.ActiveStatus:
		if v != "" {
			return !strings.EqualFold(v, "inactive")
		}
		if a.Also != "" {
			if b := get(a.Also); b != "" {
				return strings.EqualFold(b, "TRUE")
			}
		}
		return true
	case schema.ActiveLock:
		return v == ""
	case schema.ActiveBoolean:
		set := strings.EqualFold(v, "TRUE")
		if a.Invert {
			return !set
		}
		return v == "" || set
	case schema.ActiveBitmask:
		n, err := strconv.ParseInt(v, 10, 64)
		return err != nil || n&a.Bit == 0
	}
	return true
}

// containerFor returns the map that holds attributes of the schema urn.
func (r *Resources) containerFor(attrs map[string]any, urn string) map[string]any {
	if urn == "" {
		return attrs
	}
	ext, _ := attrs[urn].(map[string]any)
	if ext == nil {
		ext = map[string]any{}
		attrs[urn] = ext
	}
	return ext
}

// attribute returns the schema attribute a path names, and whether it is a
// multi-valued simple attribute.
func (r *Resources) attribute(p schema.Path) (schema.Attribute, bool) {
	s := r.m.Schema
	if p.URN != "" {
		for _, e := range r.m.Extensions {
			if strings.EqualFold(e.ID, p.URN) {
				s = e
			}
		}
	}
	a, _ := s.Attribute(p.Attr)
	return a, a.MultiValued && a.Type != schema.Complex
}

// password returns the password in attrs, if any.
func password(attrs map[string]any) (string, bool) {
	pw, ok := schema.Get(attrs, "password").(string)
	return pw, ok && pw != ""
}

// unicodePwd encodes a password as Active Directory takes it: in double
// quotes, UTF-16LE.
func unicodePwd(pw string) string {
	u := utf16.Encode([]rune(`"` + pw + `"`))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return string(b)
}

// putRules makes next, a PUT's attributes, what RFC 7644 section 3.5.1
// says a replace is: read-only attributes keep their current values
// whatever the body says; immutable ones may be left out (and keep their
// value) but not changed. A password left out stays as it is, because the
// password is written only when given.
func putRules(s schema.Schemas, current, next map[string]any) error {
	for _, a := range s.Core.Attributes {
		cur, has := current[a.Name]
		switch a.Mutability {
		case schema.ReadOnly:
			delete(next, a.Name)
			if has {
				next[a.Name] = cur
			}
		case schema.Immutable:
			v := schema.Get(next, a.Name)
			switch {
			case v == nil && has:
				next[a.Name] = cur
			case v != nil && has && !reflect.DeepEqual(normalizeJSON(v), normalizeJSON(cur)):
				return &schema.PatchError{ScimType: "mutability", Msg: a.Name + " is immutable"}
			}
		}
	}
	return nil
}

func normalizeJSON(v any) any {
	b, _ := json.Marshal(v)
	var out any
	json.Unmarshal(b, &out)
	return out
}

// valueAt returns the string at a simple path (attr or attr.sub) of attrs.
func valueAt(attrs map[string]any, p schema.Path) string {
	container := attrs
	if p.URN != "" {
		container, _ = schema.Get(attrs, p.URN).(map[string]any)
	}
	v := schema.Get(container, p.Attr)
	if p.Sub != "" {
		obj, _ := v.(map[string]any)
		v = schema.Get(obj, p.Sub)
	}
	s, _ := schema.CodecString.Encode(v)
	return s
}

// entryTime reads the first of attrs that holds a time, as GeneralizedTime
// or as RFC 3339 (how applications such as Janssen write theirs).
func entryTime(e *ldap.Entry, attrs ...string) time.Time {
	for _, a := range attrs {
		if a == "" {
			continue
		}
		v := e.GetEqualFoldAttributeValue(a)
		if t, err := schema.ParseGeneralizedTime(v); err == nil {
			return t
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
