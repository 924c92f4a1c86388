package ldapstore

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
	"github.com/google/uuid"

	"github.com/scimgate/scimgate/schema"
)

// Resources are the resources of one type (Users or Groups) below a base DN,
// with the mapping the directory can hold.
type Resources struct {
	store   *Store
	st      *state
	kind    string
	baseDN  string
	base    *ldap.DN
	m       schema.Resource
	class   string   // LDAP filter selecting entries of this type
	attrs   []string // LDAP attributes read for a whole resource
	whole   reading  // what reading a whole resource reads: attrs
	schemas schema.Schemas
	maxName int // characters of the name (namePath)
	manager ManagerConfig
	display displaySources // where references' display names come from
	entry   entryPlan      // how an entry is read (entry.go)
	// lowerNames caches attribute names lower-cased (lowerName).
	lowerNames sync.Map
	lowerCount atomic.Int64
	// index is the order index (index.go), once Store.Run has begun
	// keeping it.
	index atomic.Pointer[liveIndex]
}

func newResources(s *Store, st *state, rs resourceSetup, m schema.Resource) *Resources {
	var class strings.Builder
	class.WriteString("(&")
	for _, oc := range m.ObjectClasses {
		if !strings.EqualFold(oc, "top") {
			class.WriteString("(objectClass=" + ldap.EscapeFilter(oc) + ")")
		}
	}
	class.WriteString(")")
	r := &Resources{store: s, st: st, kind: rs.kind, baseDN: rs.baseDN, base: rs.base, m: m,
		class: class.String(), attrs: m.LDAPAttributes(), maxName: rs.maxName, manager: rs.manager}
	r.derive()
	return r
}

// derive computes what follows from the mapping: the advertised schemas
// and what reading a whole resource reads.
func (r *Resources) derive() {
	r.schemas = r.advertise()
	r.display = r.displaySources()
	r.entry = newEntryPlan(r.m)
	r.whole = r.project(schema.Projection{})
	r.whole.attrs = r.attrs
}

// Mapping returns the mapping the resources are stored with.
func (r *Resources) Mapping() schema.Resource { return r.m }

// Schemas returns the schemas as advertised, which a PATCH can reach; the
// core schema has externalId when it is stored.
func (r *Resources) Schemas() schema.Schemas { return r.schemas }

func (r *Resources) advertise() schema.Schemas {
	core, exts := r.m.Advertised()
	if ms := r.m.Lookup("", "externalId", ""); len(ms) > 0 {
		core.Attributes = append(core.Attributes, schema.Attribute{Name: "externalId", Type: schema.String,
			CaseExact: true, Mutability: schema.ReadWrite, Returned: schema.ReturnedDefault, Uniqueness: schema.UniquenessNone})
	}
	return schema.Schemas{Core: core, Extensions: exts, MaxValues: r.store.limits.MaxValues}
}

// Precondition is what must hold for a write: what an If-Match header
// asks (that the resource's version be one of Versions, or, with Any, that
// it exist), and the attributes it must leave as they are.
type Precondition struct {
	Versions []string
	Any      bool
	// Frozen names SCIM attributes of a user the write must leave as they
	// are: a core attribute ("userName", "active", "password"), an
	// extension's URN for all its attributes, or URN:attribute for one. A
	// replace keeps those it is not given; a write that would change one
	// fails with a *FrozenError naming it, and nothing is written.
	Frozen []string
}

// Set reports whether the precondition asks anything.
func (p Precondition) Set() bool { return p.Any || len(p.Versions) > 0 }

// Holds reports whether version satisfies the precondition.
func (p Precondition) Holds(version string) bool {
	if p.Any || !p.Set() {
		return true
	}
	for _, v := range p.Versions {
		if v == version {
			return true
		}
	}
	return false
}

// Batch sizes: entries per page of a paged search, and values per OR filter
// when looking many entries up at once.
const (
	searchPageSize = 500
	lookupBatch    = 500
)

// A write that finds its entry changed since it read it (another write came
// in between) is recomputed after a random wait below a bound that doubles
// from retryBaseDelay to retryMaxDelay ("full jitter"), so that writers of
// one entry spread out instead of colliding again in step.
const (
	retryBaseDelay = 2 * time.Millisecond
	retryMaxDelay  = 250 * time.Millisecond
)

// Create adds a resource from validated SCIM attributes and returns it as
// stored.
func (r *Resources) Create(ctx context.Context, attrs map[string]any) (Resource, error) {
	if err := r.checkName(attrs); err != nil {
		return Resource{}, err
	}
	if err := r.CheckStorable(attrs); err != nil {
		return Resource{}, err
	}
	conn, err := r.store.pool.Conn(ctx)
	if err != nil {
		return Resource{}, err
	}
	defer conn.Release()

	values, err := r.toValues(ctx, conn, attrs, nil)
	if err != nil {
		return Resource{}, err
	}
	rdnAttr, rdnPath, _ := r.m.RDNAttribute()
	rdnValue := valueAt(attrs, rdnPath)
	if r.m.AssignID {
		id := uuid.NewString()
		if rdnPath == (schema.Path{Attr: "id"}) {
			rdnValue = id
		} else {
			values.set(r.m.ID, []string{id})
		}
	}
	if rdnValue == "" {
		return Resource{}, invalidf("%s is required", rdnPath)
	}
	values.prepend(rdnAttr, rdnValue)
	if err := r.checkUnique(ctx, conn, attrs, rdnPath, ""); err != nil {
		return Resource{}, err
	}
	var memberIDs map[string]string
	if r.m.Members != "" {
		members, ids, err := r.createMembers(ctx, conn, attrs)
		if err != nil {
			return Resource{}, err
		}
		memberIDs = ids
		if len(members) > 0 {
			values.set(r.m.Members, members)
		}
	}
	for k, v := range r.m.Create {
		if len(values.get(k)) == 0 {
			values.set(k, v)
		}
	}
	classes := append(append([]string(nil), r.m.ObjectClasses...), r.m.ExtraClasses...)
	for _, a := range values.names() {
		if aux := r.auxiliaryFor(classes, a); aux != "" {
			classes = append(classes, aux)
		}
	}
	dn := childDN(rdnAttr, rdnValue, r.baseDN)
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", classes)
	for _, a := range values.names() {
		req.Attribute(a, values.get(a))
	}
	if err := conn.Add(ctx, req); err != nil {
		return Resource{}, r.refused("create "+r.kind, err, rdnValue)
	}
	if r.m.Members != "" {
		if err := r.settleMembers(ctx, conn, dn, values.get(r.m.Members), nil, memberIDs); err != nil {
			return Resource{}, err
		}
	}
	if pw, ok := password(attrs); ok && r.m.Password != nil && r.m.Password.Kind == schema.PasswordExtended {
		if err := r.setPassword(ctx, conn, dn, pw, values); err != nil {
			// All or nothing: a user whose password was refused is not left behind.
			if derr := conn.Del(context.WithoutCancel(ctx), ldap.NewDelRequest(dn, nil)); derr != nil {
				return Resource{}, errors.Join(err, classify("undo create "+r.kind, derr))
			}
			return Resource{}, err
		}
	}
	e, err := r.readDN(ctx, conn, dn)
	if err != nil {
		return Resource{}, err
	}
	r.indexWrote(e)
	r.resolveKept(ctx, conn, e) // users waiting for this one as their manager
	return r.resource(ctx, conn, e)
}

// Get returns the resource with the given id, read as far as the
// projection needs.
func (r *Resources) Get(ctx context.Context, id string, p schema.Projection) (Resource, error) {
	conn, err := r.store.pool.Conn(ctx)
	if err != nil {
		return Resource{}, err
	}
	defer conn.Release()
	rd := r.reading(p)
	e, err := r.find(ctx, conn, id, rd.attrs)
	if err != nil {
		return Resource{}, err
	}
	out, err := r.read(ctx, conn, []*ldap.Entry{e}, rd)
	if err != nil {
		return Resource{}, err
	}
	return out[0], nil
}

// Delete removes the resource with the given id, if pre holds.
func (r *Resources) Delete(ctx context.Context, id string, pre Precondition) error {
	conn, err := r.store.pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	groups := r.st.groups
	read := []string{r.m.Version, groups.m.MemberValue}
	if r.m.MaintainMemberOf != "" {
		read = append(read, r.m.Members) // whose memberOf to clear
	}
	e, err := r.find(ctx, conn, id, r.withIndexKey(uniqueAttributes(read)))
	if err != nil {
		return err
	}
	req := ldap.NewDelRequest(e.DN, nil)
	if pre.Set() {
		version := e.GetEqualFoldAttributeValue(r.m.Version)
		if !pre.Holds(version) {
			return classify("delete "+r.kind, ErrPrecondition)
		}
		if req.Controls, err = r.versionAssertion(version); err != nil {
			return err
		}
	}
	r.store.groupRefs.forget(e.DN)
	if err := conn.Del(ctx, req); err != nil {
		return classify("delete "+r.kind, err)
	}
	r.indexRemoved(e)
	if r.m.MaintainMemberOf != "" {
		if err := r.syncMemberOf(ctx, conn, e.DN, nil, e.GetEqualFoldAttributeValues(r.m.Members)); err != nil {
			return err
		}
	}
	if groups.m.RemoveDeletedMembers {
		return groups.removeMember(ctx, conn, e)
	}
	return nil
}

// Replace sets the resource to attrs (RFC 7644 section 3.5.1): attributes
// left out are cleared, read-only ones and the password kept.
func (r *Resources) Replace(ctx context.Context, id string, attrs map[string]any, pre Precondition) (Resource, error) {
	if err := r.checkName(attrs); err != nil {
		return Resource{}, err
	}
	if r.m.Members != "" {
		// The members become those given: only the difference is written.
		ids, err := schema.MemberIDs(attrs["members"])
		if err != nil {
			return Resource{}, err
		}
		rest := map[string]any{}
		for k, v := range attrs {
			if !strings.EqualFold(k, "members") {
				rest[k] = v
			}
		}
		return r.updateGroup(ctx, id, pre, schema.MemberOps{Replace: true, ReplaceWith: ids}, func(current Resource) (map[string]any, error) {
			if err := putRules(r.Schemas(), current.Attributes, rest); err != nil {
				return nil, err
			}
			return rest, nil
		}, false)
	}
	return r.update(ctx, id, pre, func(current Resource) (map[string]any, error) {
		next := map[string]any{}
		for k, v := range attrs {
			next[k] = v
		}
		keepFrozen(pre.Frozen, current.Attributes, next)
		if _, given := lookupAttr(next, "active"); !given && current.Attributes["active"] != nil {
			// A replace that leaves active out keeps it: an omission
			// must never enable (or disable) an account.
			next["active"] = current.Attributes["active"]
		}
		if err := putRules(r.Schemas(), current.Attributes, next); err != nil {
			return nil, err
		}
		return next, nil
	})
}

// lookupAttr finds an attribute by name, case-insensitively.
func lookupAttr(attrs map[string]any, name string) (any, bool) {
	for k, v := range attrs {
		if strings.EqualFold(k, name) {
			return v, v != nil
		}
	}
	return nil, false
}

// Patch applies PATCH operations (RFC 7644 section 3.5.2) as one
// modification: all of them or none.
func (r *Resources) Patch(ctx context.Context, id string, ops []schema.Operation, pre Precondition) (Resource, error) {
	return r.patch(ctx, id, ops, pre, false)
}

// PatchQuietly is Patch without reading the resource back, for a group
// PATCH answered without it (or with it streamed): it costs the same
// whatever the group's size. It returns the version the write left (""
// where the directory keeps none), read after the write.
func (r *Resources) PatchQuietly(ctx context.Context, id string, ops []schema.Operation, pre Precondition) (string, error) {
	res, err := r.patch(ctx, id, ops, pre, true)
	return res.Version, err
}

func (r *Resources) patch(ctx context.Context, id string, ops []schema.Operation, pre Precondition, quiet bool) (Resource, error) {
	if err := r.checkRemovals(ops); err != nil {
		return Resource{}, err
	}
	if r.m.Members != "" {
		// Member operations become additions and deletions of values.
		mops, rest, err := schema.SplitMembers(r.m.Schema.ID, ops)
		if err != nil {
			return Resource{}, err
		}
		var next func(Resource) (map[string]any, error)
		if len(rest) > 0 {
			next = func(current Resource) (map[string]any, error) {
				return schema.Patch(ctx, r.Schemas(), current.Attributes, rest)
			}
		}
		return r.updateGroup(ctx, id, pre, mops, next, quiet)
	}
	return r.update(ctx, id, pre, func(current Resource) (map[string]any, error) {
		return schema.Patch(ctx, r.Schemas(), current.Attributes, ops)
	})
}

// checkRemovals refuses a removal that cannot make its attribute
// unassigned honestly: active (an account is active or it is not, and
// the directory's lock cannot be "unset" without enabling the account).
func (r *Resources) checkRemovals(ops []schema.Operation) error {
	for _, op := range ops {
		if !strings.EqualFold(op.Op, "remove") || op.Path == nil || r.m.Active == nil {
			continue
		}
		p := op.Path.AttributePath
		if p.SubAttribute == nil && strings.EqualFold(p.AttributeName, "active") &&
			(p.URIPrefix == nil || strings.EqualFold(*p.URIPrefix, r.m.Schema.ID)) {
			return &schema.PatchError{ScimType: "mutability", Msg: "active cannot be removed: an account is active or not, " +
				"and unassigning it would enable a disabled one; replace it with true or false"}
		}
	}
	return nil
}

// update reads the resource, computes its next attributes, and writes the
// difference with the entry's version asserted, so that nothing written in
// between is lost: if the entry changed, the whole computation is redone
// (or, under If-Match, the write fails with ErrPrecondition).
func (r *Resources) update(ctx context.Context, id string, pre Precondition, next func(Resource) (map[string]any, error)) (Resource, error) {
	conn, err := r.store.pool.Conn(ctx)
	if err != nil {
		return Resource{}, err
	}
	defer conn.Release()
	dn, err := r.retry(ctx, pre, func() (string, error) {
		e, err := r.find(ctx, conn, id, r.attrs)
		if err != nil {
			return "", err
		}
		current, err := r.resource(ctx, conn, e)
		if err != nil {
			return "", err
		}
		if !pre.Holds(current.Version) {
			return "", classify("update "+r.kind, ErrPrecondition)
		}
		attrs, err := next(current)
		if err != nil {
			return "", err
		}
		if err := r.CheckStorable(attrs); err != nil {
			return "", err
		}
		if err := r.checkFrozen(ctx, conn, e, current, attrs, pre.Frozen); err != nil {
			return "", err
		}
		if err := r.checkNameChange(current, attrs); err != nil {
			return "", err
		}
		return r.write(ctx, conn, e, current.Version, attrs, nil)
	})
	if err != nil {
		return Resource{}, err
	}
	e, err := r.readDN(ctx, conn, dn)
	if err != nil {
		return Resource{}, err
	}
	r.indexWrote(e)
	return r.resource(ctx, conn, e)
}

// retry runs a read-compute-write attempt again while the entry changed
// between its read and its write (errChanged), after a jittered backoff,
// for as long as the request's deadline leaves room for another attempt
// (ldap.operation_timeout where the context has none); then it gives up
// with a ContentionError. Under If-Match a change is a failed
// precondition instead.
func (r *Resources) retry(ctx context.Context, pre Precondition, attempt func() (string, error)) (string, error) {
	start := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = start.Add(r.store.pool.cfg.OperationTimeout)
	}
	for i := 1; ; i++ {
		began := time.Now()
		dn, err := attempt()
		if !errors.Is(err, errChanged) {
			return dn, err
		}
		if pre.Set() {
			return "", classify("update "+r.kind, ErrPrecondition)
		}
		// Room for the wait and for another attempt, counted twice as long
		// as this one, with the answer still given before the deadline.
		wait := backoff(i)
		if time.Now().Add(wait + 2*time.Since(began)).After(deadline) {
			return "", &ContentionError{Kind: r.kind, Attempts: i, Waited: time.Since(start)}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return "", &ContentionError{Kind: r.kind, Attempts: i, Waited: time.Since(start)}
		case <-timer.C:
		}
	}
}

// backoff is the wait before the attempt after the n-th (from 1): random,
// below a bound that doubles with each attempt up to retryMaxDelay.
func backoff(n int) time.Duration {
	bound := retryMaxDelay
	if n < 16 && retryBaseDelay<<n < retryMaxDelay {
		bound = retryBaseDelay << n
	}
	return rand.N(bound)
}

// namePath is the attribute that names a resource, unique among its type:
// a user's userName, a group's displayName.
func (r *Resources) namePath() schema.Path {
	if r.kind == "Group" {
		return schema.Path{Attr: "displayName"}
	}
	return schema.Path{Attr: "userName"}
}

// checkName refuses a name (namePath) longer than max_name_length
// characters: the check comes before any LDAP work, where the directory
// would otherwise refuse it with no word of why (OpenLDAP: result 80).
func (r *Resources) checkName(attrs map[string]any) error {
	p := r.namePath()
	if n := utf8.RuneCountInString(valueAt(attrs, p)); n > r.maxName {
		return invalidf("%s is %d characters long; this server takes at most %d.", p, n, r.maxName)
	}
	return nil
}

// checkNameChange is checkName for an update from current to next, once
// next is computed (a PATCH's operations applied) and before anything is
// written; a name left as stored is left alone.
func (r *Resources) checkNameChange(current Resource, next map[string]any) error {
	if p := r.namePath(); valueAt(next, p) == valueAt(current.Attributes, p) {
		return nil
	}
	return r.checkName(next)
}

// checkUnique refuses a userName (or displayName) that another resource has,
// where the RDN does not already make it unique: when the RDN is named by
// another attribute, or the name changes. except is the id of the resource
// being renamed.
func (r *Resources) checkUnique(ctx context.Context, conn *Conn, attrs map[string]any, rdnPath schema.Path, except string) error {
	unique := r.namePath()
	if rdnPath == unique && except == "" {
		return nil // the directory refuses a second entry of the same name, atomically
	}
	ms := r.m.Lookup("", unique.Attr, "")
	v := valueAt(attrs, unique)
	if len(ms) == 0 || v == "" {
		return nil
	}
	res, err := conn.Search(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		"(&"+r.class+"("+ms[0].LDAP+"="+ldap.EscapeFilter(v)+"))", []string{r.m.ID}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return classify("check "+unique.Attr, err)
	}
	for _, e := range res.Entries {
		if id, _ := r.idOf(e); id != except {
			return classify("check "+unique.Attr, &ExistsError{Attr: unique.Attr})
		}
	}
	return nil
}

// looksLikeID reports whether id has the form of an entryUUID or an
// objectGUID as formatted (hex digits 8-4-4-4-12) or of an nsUniqueId
// (8-8-8-8). Anything else cannot be an id of those and is not looked up.
func looksLikeID(id string) bool {
	var dashes []int
	switch len(id) {
	case 36:
		dashes = []int{8, 13, 18, 23}
	case 35:
		dashes = []int{8, 17, 26}
	default:
		return false
	}
	for i := 0; i < len(id); i++ {
		if len(dashes) > 0 && i == dashes[0] {
			if id[i] != '-' {
				return false
			}
			dashes = dashes[1:]
			continue
		}
		if _, ok := hexDigit(id[i]); !ok {
			return false
		}
	}
	return true
}

// idFilter is the LDAP assertion selecting the entry with the given id, or
// "" when id cannot be one.
func (r *Resources) idFilter(id string) string {
	switch {
	case id == "":
		return ""
	case r.m.IDCodec == schema.CodecGUID:
		raw, err := schema.CodecGUID.Encode(id)
		if err != nil {
			return ""
		}
		return "(" + r.m.ID + "=" + ldap.EscapeFilter(raw) + ")"
	case strings.EqualFold(r.m.ID, "entryUUID") || strings.EqualFold(r.m.ID, "nsUniqueId"):
		if !looksLikeID(id) {
			return ""
		}
	}
	return "(" + r.m.ID + "=" + ldap.EscapeFilter(id) + ")"
}

// idOf reads an entry's id.
func (r *Resources) idOf(e *ldap.Entry) (string, error) {
	v := e.GetEqualFoldAttributeValue(r.m.ID)
	if r.m.IDCodec == schema.CodecGUID {
		return schema.FormatGUID([]byte(v))
	}
	return v, nil
}

// find returns the entry of the resource with the given id, by an equality
// search on the id attribute (indexed), never by DN.
func (r *Resources) find(ctx context.Context, conn *Conn, id string, attrs []string, controls ...ldap.Control) (*ldap.Entry, error) {
	f := r.idFilter(id)
	if f == "" {
		return nil, classify("find "+r.kind, ErrNotFound)
	}
	res, err := conn.Search(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		"(&"+r.class+f+")", attrs, controls))
	if err != nil {
		return nil, classify("find "+r.kind, err)
	}
	if len(res.Entries) != 1 {
		return nil, classify("find "+r.kind+" "+id, ErrNotFound)
	}
	return res.Entries[0], ranged(ctx, conn, res.Entries[0])
}

// readDN reads a whole resource's entry by its DN.
func (r *Resources) readDN(ctx context.Context, conn *Conn, dn string) (*ldap.Entry, error) {
	res, err := conn.Search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", r.withIndexKey(r.attrs), nil))
	if err != nil {
		return nil, classify("read "+r.kind, err)
	}
	if len(res.Entries) != 1 {
		return nil, classify("read "+r.kind, ErrNotFound)
	}
	return res.Entries[0], ranged(ctx, conn, res.Entries[0])
}

// lookup reads the entries of this type whose attribute attr has one of
// values, lookupBatch values per search, keyed by the lower-cased value
// (by the normalised DN when attr is the DN attribute).
func (r *Resources) lookup(ctx context.Context, conn *Conn, attr string, values, attrs []string) (map[string]*ldap.Entry, error) {
	out := make(map[string]*ldap.Entry, len(values))
	byDN := strings.EqualFold(attr, r.store.dnAttribute)
	if !byDN && !slices.ContainsFunc(attrs, func(a string) bool { return strings.EqualFold(a, attr) }) {
		attrs = append(slices.DeleteFunc(slices.Clone(attrs), func(a string) bool { return a == "1.1" }), attr)
	}
	for start := 0; start < len(values); start += lookupBatch {
		batch := values[start:min(start+lookupBatch, len(values))]
		var f strings.Builder
		f.WriteString("(&" + r.class + "(|")
		for _, v := range batch {
			if strings.EqualFold(attr, r.m.ID) {
				f.WriteString(r.idFilter(v))
			} else {
				f.WriteString("(" + attr + "=" + ldap.EscapeFilter(v) + ")")
			}
		}
		f.WriteString("))")
		res, err := conn.Search(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			f.String(), attrs, nil))
		if err != nil {
			return nil, classify("look up "+r.kind+"s", err)
		}
		for _, e := range res.Entries {
			var key string
			switch {
			case byDN:
				key = dnKey(e.DN)
			case strings.EqualFold(attr, r.m.ID):
				key, _ = r.idOf(e)
			default:
				key = e.GetEqualFoldAttributeValue(attr)
			}
			out[strings.ToLower(key)] = e
		}
	}
	return out, nil
}

// resolve turns DNs into members: ids, types and display names, keyed by
// dnKey, with one search per lookupBatch DNs of each type. DNs that are not
// resources of the store (or no longer exist) are left out. only, when
// set, limits the types looked at.
func (s *Store) resolve(ctx context.Context, conn *Conn, dns []string, only *Resources, withDisplay bool) (refs, error) {
	if len(dns) == 0 {
		return nil, nil
	}
	st, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	var cachedGroups refs
	if only == st.groups {
		cachedGroups, dns = s.groupRefs.get(dns)
		if len(dns) == 0 {
			return cachedGroups, nil
		}
	}
	byType := map[*Resources][]string{}
	seen := make(map[string]bool, len(dns))
	for _, dn := range dns {
		parsed, err := ldap.ParseDN(dn)
		if err != nil || seen[dnKey(dn)] {
			continue
		}
		seen[dnKey(dn)] = true
		for _, r := range []*Resources{st.users, st.groups} {
			if (only == nil || only == r) && r.base.AncestorOfFold(parsed) {
				byType[r] = append(byType[r], dn)
				break
			}
		}
	}
	found := make(refs, len(seen))
	for r, list := range byType {
		var display []string
		if withDisplay || only == st.groups { // group references are cached with their names
			display = r.displayAttributes()
		}
		entries, err := r.lookup(ctx, conn, s.dnAttribute, list, append([]string{r.m.ID}, display...))
		if err != nil {
			return nil, err
		}
		for key, e := range entries {
			id, err := r.idOf(e)
			if err != nil {
				continue
			}
			m := Member{ID: id, Type: r.kind, DN: e.DN}
			if display != nil {
				m.Display = r.displayOf(e)
			}
			found[key] = m
		}
	}
	if only == st.groups {
		s.groupRefs.put(found)
		for k, m := range cachedGroups {
			found[k] = m
		}
	}
	return found, nil
}

// idsToDNs looks ids up among the resource types, in order, lookupBatch
// at a time; it returns their DNs and, sorted, the ids found nowhere.
func idsToDNs(ctx context.Context, conn *Conn, ids []string, types ...*Resources) (map[string]string, []string, error) {
	out := make(map[string]string, len(ids))
	missing := ids
	for _, rs := range types {
		if len(missing) == 0 {
			break
		}
		entries, err := rs.lookup(ctx, conn, rs.m.ID, missing, []string{"1.1"})
		if err != nil {
			return nil, nil, err
		}
		var still []string
		for _, id := range missing {
			if e, ok := entries[strings.ToLower(id)]; ok {
				out[id] = e.DN
			} else {
				still = append(still, id)
			}
		}
		missing = still
	}
	missing = slices.Clone(missing)
	slices.Sort(missing)
	return out, missing, nil
}

// displaySources are where a reference's display name (a member's, a
// manager's) comes from, in order: the displayName, the formatted name, the
// given and family names joined, then the naming attribute (Active
// Directory's users, named by userName, often have none of the others);
// each the LDAP attributes of its mappings. They follow from the mapping,
// so derive computes them once.
type displaySources struct {
	name, formatted, given, family []string
	rdn                            string
	attrs                          []string // all of them, in order (displayAttributes)
}

func (r *Resources) displaySources() displaySources {
	ldapOf := func(attr, sub string) []string {
		var out []string
		for _, m := range r.m.Lookup("", attr, sub) {
			out = append(out, m.LDAP)
		}
		return out
	}
	rdn, _, _ := r.m.RDNAttribute()
	d := displaySources{name: ldapOf("displayName", ""), formatted: ldapOf("name", "formatted"),
		given: ldapOf("name", "givenName"), family: ldapOf("name", "familyName"), rdn: rdn}
	d.attrs = append(slices.Concat(d.name, d.formatted, d.given, d.family), d.rdn)
	return d
}

// displayAttributes are the LDAP attributes a reference's display name is
// read from (displayOf).
func (r *Resources) displayAttributes() []string { return r.display.attrs }

// displayOf is the display name of e as a reference, read from
// displayAttributes.
func (r *Resources) displayOf(e *ldap.Entry) string {
	first := func(attrs []string) string {
		for _, a := range attrs {
			if v := e.GetEqualFoldAttributeValue(a); v != "" {
				return v
			}
		}
		return ""
	}
	d := r.display
	if v := cmp.Or(first(d.name), first(d.formatted)); v != "" {
		return v
	}
	if v := strings.TrimSpace(first(d.given) + " " + first(d.family)); v != "" {
		return v
	}
	return e.GetEqualFoldAttributeValue(d.rdn)
}

// auxiliaryFor returns the auxiliary class an entry of the given classes
// needs to hold attr, or "" if it needs none (or none would do).
func (r *Resources) auxiliaryFor(classes []string, attr string) string {
	base, _, _ := strings.Cut(attr, ";")
	if strings.EqualFold(base, "objectClass") || r.st.ds.Allows(classes, base) {
		return ""
	}
	return r.st.ds.AuxiliaryFor(base, r.m.Auxiliary)
}

// dnKey normalises a DN for comparison.
func dnKey(dn string) string {
	if plainDN(dn) {
		return strings.ToLower(dn) // what parsing would give, without its cost
	}
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return strings.ToLower(parsed.String())
}

// plainDN reports whether a DN is already in the form that ParseDN and
// String would give it, but for case: printable ASCII with nothing to
// escape, no multi-valued RDN, and no space next to a separator or at
// either end.
func plainDN(dn string) bool {
	if dn == "" || dn[0] == ' ' || dn[len(dn)-1] == ' ' {
		return false
	}
	for i := 0; i < len(dn); i++ {
		switch c := dn[i]; {
		case c < ' ' || c > '~':
			return false
		case c == '"' || c == '+' || c == ';' || c == '<' || c == '>' || c == '\\' || c == '#':
			return false
		case c == ' ' && (dn[i-1] == ',' || dn[i-1] == '=' || dn[i+1] == ',' || dn[i+1] == '='):
			return false
		}
	}
	return true
}

// rdn is the relative DN attr=value, the value escaped (RFC 4514).
func rdn(attr, value string) string { return attr + "=" + ldap.EscapeDN(value) }

// childDN is the DN of the entry named attr=value below base.
func childDN(attr, value, base string) string { return rdn(attr, value) + "," + base }
