package ldapstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/scim2/filter-parser/v2"

	"github.com/scimgate/scimgate/schema"
)

// Query selects a page of resources (RFC 7644 section 3.4.2).
type Query struct {
	// Filter is the parsed SCIM filter; nil selects every resource.
	Filter filter.Expression
	// SortBy is the attribute path to sort by; "" orders by id.
	SortBy     string
	Descending bool
	// StartIndex is the 1-based index of the first resource returned, for
	// index paging.
	StartIndex int
	// Count is the most resources returned; 0 returns only the total.
	Count int
	// Cursor asks for cursor paging (RFC 9865): the page starts at After,
	// or at the beginning when After is nil; StartIndex is ignored.
	Cursor bool
	After  *Position
	// Projection says which attributes the resources carry.
	Projection schema.Projection
	// Unassigned reads attributes the resource type lacks as unassigned
	// (a comparison with them is false, "ne" true) instead of refusing
	// the filter: for searches across resource types.
	Unassigned bool
}

// Position is a place in the order of a query's results, between two
// resources: the sort key and id of the resource just before it (which
// need not exist any more). Backward turns a position around: the page is
// the Count resources before the resource it names.
type Position struct {
	Key      string
	Missing  bool // the resource had no value to sort by
	ID       string
	Backward bool
}

// Page is one page of a list.
type Page struct {
	Total     int
	Resources []Resource
	// Next and Previous are where the pages after and before this one
	// start, for cursor paging; nil at either end.
	Next, Previous *Position
}

// item is one result in a snapshot: what it sorts by, and its id.
type item struct {
	key     string
	missing bool
	id      string
}

func (a item) position() *Position { return &Position{Key: a.key, Missing: a.missing, ID: a.id} }

// compareItems orders results: those with a sort value first, by value,
// then by id, so that the order is total and the same on every replica.
func compareItems(a, b item) int {
	switch {
	case a.missing != b.missing:
		if a.missing {
			return 1
		}
		return -1
	case a.key != b.key:
		return strings.Compare(a.key, b.key)
	}
	return strings.Compare(a.id, b.id)
}

// A first page is tried with one search of whole entries, limited to the
// page's count but at least probeMin and at most probeLimit entries: most
// filtered queries (userName eq "x") match fewer, and then cost one round
// trip. More matches are ordered by a scan, which reads only ids and sort
// keys: a probe must not read many whole entries to answer a page of a few.
const (
	probeMin   = 100
	probeLimit = 1000
)

// scanPageSize is the page size of the paged search that collects the ids
// of a query's results.
const scanPageSize = 1000

// List returns a page of the resources that q selects, in q's order.
//
// The order of a query's results is a snapshot: the ids (and sort keys) of
// every match, collected by one paged search that reads nothing else, and
// ordered in the gateway. A page is then one indexed search for its ids,
// restricted by the filter again so that an entry changed since no longer
// shows where it no longer belongs. First pages take a new snapshot (a
// client that just wrote sees its write); later pages reuse the snapshot of
// the same query when this gateway still has it, so that a walk through a
// large directory costs one pass over the matches, not one per page.
// Snapshots are a cache: a replica without one takes it again. When a
// first page holds every match, the one search that reads it is all.
// Scans are bounded and shared (scans.go).
func (r *Resources) List(ctx context.Context, q Query) (Page, error) {
	lc := &lazyConn{pool: r.store.pool}
	defer lc.release()
	pl, err := r.plan(ctx, lc, q)
	if err != nil || pl.none {
		return Page{Resources: []Resource{}}, err
	}
	sel, ok := r.fromIndex(pl)
	var probed map[string]*ldap.Entry
	if !ok {
		var snap *snapshot
		if snap, probed, err = r.snapshot(ctx, lc, pl); err != nil {
			return Page{}, err
		}
		sel = selectPage(snap, pl.q)
	}
	return r.page(ctx, lc, pl, sel, probed)
}

// listPlan is what a list needs to know of its query.
type listPlan struct {
	q     Query
	match string              // the LDAP filter
	post  []filter.Expression // conjuncts checked exactly (JSON documents)
	none  bool                // the filter can match nothing
	sk    sortKey
	rd    reading
	first bool   // a first page: a new snapshot
	key   string // the query, for snapshots
}

// plan translates a query for the directory.
func (r *Resources) plan(ctx context.Context, lc *lazyConn, q Query) (listPlan, error) {
	pl := listPlan{q: q, match: r.class}
	if q.Filter != nil {
		conn, err := lc.get(ctx)
		if err != nil {
			return pl, err
		}
		f, post, err := r.ldapFilterJSON(ctx, conn, q.Filter, q.Unassigned)
		if err != nil {
			return pl, err
		}
		if f == matchNone {
			pl.none = true
			return pl, nil
		}
		pl.match, pl.post = and(r.class, f), post
	}
	sortBy := q.SortBy
	if strings.TrimSpace(sortBy) == "" {
		sortBy = defaultOrder(q.Filter)
	}
	sk, err := r.sortKey(sortBy)
	if err != nil {
		return pl, err
	}
	if pl.q.StartIndex < 1 {
		pl.q.StartIndex = 1
	}
	pl.sk, pl.rd = sk, r.reading(q.Projection)
	pl.first = (!q.Cursor && pl.q.StartIndex == 1) || (q.Cursor && q.After == nil)
	pl.key = r.kind + "\x00" + pl.match + "\x00" + sk.name + postKey(pl.post)
	return pl, nil
}

// snapshot returns the order of the query's results: a later page's from
// the cache; else, when a first page might hold every match, from a probe
// that reads them whole (returned too); else from a scan.
func (r *Resources) snapshot(ctx context.Context, lc *lazyConn, pl listPlan) (*snapshot, map[string]*ldap.Entry, error) {
	if !pl.first {
		if snap := r.store.snapshots.get(pl.key); snap != nil {
			return snap, nil, nil
		}
	}
	if pl.first && pl.q.Count > 0 && pl.q.Count <= probeLimit && len(pl.post) == 0 && !r.store.scans.overflowed(pl.key) {
		conn, err := lc.get(ctx)
		if err != nil {
			return nil, nil, err
		}
		snap, probed, err := r.probe(ctx, conn, pl.match, pl.sk, pl.rd, max(pl.q.Count, probeMin))
		if err != nil || snap != nil {
			return snap, probed, err
		}
		r.store.scans.noteOverflow(pl.key)
	}
	lc.release() // no connection held while waiting for a scan
	snap, err := r.store.scans.take(ctx, pl.key, func(ctx context.Context) (*snapshot, error) {
		conn, err := r.store.pool.Conn(ctx)
		if err != nil {
			return nil, err
		}
		defer conn.Release()
		snap, err := r.scan(ctx, conn, pl.match, pl.sk, pl.post)
		if err == nil {
			// A probe's answer is whole and small: later pages take it
			// again as cheaply; only scans are worth keeping.
			r.store.snapshots.put(pl.key, snap)
		}
		return snap, err
	})
	return snap, nil, err
}

// page reads the resources the selection names (probed holds them
// already when a probe read them).
func (r *Resources) page(ctx context.Context, lc *lazyConn, pl listPlan, sel selection, probed map[string]*ldap.Entry) (Page, error) {
	page := Page{Total: sel.total, Next: sel.next, Previous: sel.prev, Resources: []Resource{}}
	if len(sel.ids) == 0 {
		return page, nil
	}
	conn, err := lc.get(ctx)
	if err != nil {
		return Page{}, err
	}
	entries := probed
	if entries == nil {
		if entries, err = r.fetch(ctx, conn, pl.match, sel.ids, pl.rd.attrs); err != nil {
			return Page{}, err
		}
	}
	list := make([]*ldap.Entry, 0, len(sel.ids))
	for _, id := range sel.ids {
		if e, ok := entries[strings.ToLower(id)]; ok {
			list = append(list, e) // else deleted, or no longer a match
		}
	}
	if page.Resources, err = r.read(ctx, conn, list, pl.rd); err != nil {
		return Page{}, err
	}
	return page, nil
}

// lazyConn borrows a connection when first needed, and can give it back
// early: a list holds none while it waits for a scan.
type lazyConn struct {
	pool *Pool
	c    *Conn
}

func (l *lazyConn) get(ctx context.Context) (*Conn, error) {
	if l.c == nil {
		c, err := l.pool.Conn(ctx)
		if err != nil {
			return nil, err
		}
		l.c = c
	}
	return l.c, nil
}

func (l *lazyConn) release() {
	if l.c != nil {
		l.c.Release()
		l.c = nil
	}
}

// probe reads the whole entries of a query with a size limit of limit: when
// the directory has no more, that is every result, in one search. It
// returns a nil snapshot when there are more.
func (r *Resources) probe(ctx context.Context, conn *Conn, match string, sk sortKey, rd reading, limit int) (*snapshot, map[string]*ldap.Entry, error) {
	attrs := uniqueAttributes(append(slices.Clone(rd.attrs), sk.attrs...))
	res, err := conn.Search(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, limit, 0, false,
		match, attrs, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || ldap.IsErrorWithCode(err, ldap.LDAPResultAdminLimitExceeded) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, classify("list "+r.kind, err)
	}
	snap := &snapshot{taken: time.Now()}
	entries := make(map[string]*ldap.Entry, len(res.Entries))
	for _, e := range res.Entries {
		it, err := r.item(e, sk)
		if err != nil {
			continue
		}
		snap.add(it)
		entries[strings.ToLower(it.id)] = e
	}
	snap.sort()
	return snap, entries, nil
}

// scan collects the ids and sort keys of every result of match with a
// paged search, refusing more than the configured maximum.
func (r *Resources) scan(ctx context.Context, conn *Conn, match string, sk sortKey, post []filter.Expression) (*snapshot, error) {
	limit := r.store.search.MaxCandidates
	snap := &snapshot{taken: time.Now()}
	attrs := uniqueAttributes(append([]string{r.m.ID}, sk.attrs...))
	keep := func(*ldap.Entry) bool { return true }
	if len(post) > 0 {
		attrs = uniqueAttributes(append(attrs, r.whole.attrs...))
		keep = r.exactly(post)
	}
	err := conn.pagedSearch(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		match, attrs, nil), scanPageSize, func(e *ldap.Entry) error {
		if snap.len() >= limit {
			return &TooManyError{Limit: limit}
		}
		if !keep(e) {
			return nil
		}
		it, err := r.item(e, sk)
		if err == nil {
			snap.add(it)
		}
		return nil
	})
	var tm *TooManyError
	if errors.As(err, &tm) {
		return nil, tm
	}
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || ldap.IsErrorWithCode(err, ldap.LDAPResultAdminLimitExceeded) {
		return nil, &TooManyError{Limit: snap.len(), Directory: true}
	}
	if err != nil {
		return nil, classify("list "+r.kind, err)
	}
	snap.sort()
	return snap, nil
}

// fetchBatch is how many ids one search of fetch asks for. slapd tests
// every candidate against the whole OR, so part of its cost grows with the
// square of the batch, while each search has a cost of its own: for a page
// of 100 users slapd spent 3.3–3.7 ms of CPU on one OR of 100 ids,
// 2.9–3.3 ms on two of 50, 2.9–3.2 ms on four of 25 and 3.8 ms on ten of
// 10 (BENCH_CPU_CASE=page go run ./test/bench -users 100000 -sections cpu
// -duration 30s, runs of one afternoon; the gateway's CPU did not move).
const fetchBatch = 50

// fetch reads the entries with the given ids that still match, in one
// search per fetchBatch ids, keyed by lower-cased id.
func (r *Resources) fetch(ctx context.Context, conn *Conn, match string, ids, attrs []string) (map[string]*ldap.Entry, error) {
	out := make(map[string]*ldap.Entry, len(ids))
	for start := 0; start < len(ids); start += fetchBatch {
		var f strings.Builder
		f.WriteString("(&" + match + "(|")
		for _, id := range ids[start:min(start+fetchBatch, len(ids))] {
			f.WriteString(r.idFilter(id))
		}
		f.WriteString("))")
		res, err := conn.Search(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			f.String(), attrs, nil))
		if err != nil {
			return nil, classify("list "+r.kind, err)
		}
		for _, e := range res.Entries {
			if id, err := r.idOf(e); err == nil {
				out[strings.ToLower(id)] = e
			}
		}
	}
	return out, nil
}

// item reads what an entry sorts by.
func (r *Resources) item(e *ldap.Entry, sk sortKey) (item, error) {
	id, err := r.idOf(e)
	if err != nil || id == "" {
		return item{}, fmt.Errorf("no id")
	}
	it := item{id: id, missing: true}
	if sk.name == "" {
		it.missing = false
		return it, nil
	}
	for _, a := range sk.attrs {
		if v := e.GetEqualFoldAttributeValue(a); v != "" {
			it.key, it.missing = sk.normalize(v), false
			break
		}
	}
	return it, nil
}

// sortKey says what results sort by: the LDAP attributes holding the
// value, the first present winning (the primary value of a multi-valued
// attribute is the first of the first type mapped), and how a value
// becomes a key that sorts as the SCIM type does.
type sortKey struct {
	name      string // the SCIM path, canonical; "" for the id order
	attrs     []string
	normalize func(string) string
}

// sortKey resolves a sortBy path. An attribute that is not stored, or
// that has no order (a complex attribute without a sub-attribute, members,
// groups), is an InvalidError naming it.
func (r *Resources) sortKey(sortBy string) (sortKey, error) {
	if strings.TrimSpace(sortBy) == "" {
		return sortKey{}, nil
	}
	bad := func(why string) error {
		return &InvalidError{Msg: fmt.Sprintf("sortBy %q: %s", sortBy, why)}
	}
	p, err := schema.ParsePath(strings.TrimSpace(sortBy))
	if err != nil || p.Type != "" {
		return sortKey{}, bad("not an attribute path such as userName, name.familyName or meta.lastModified")
	}
	if strings.EqualFold(p.URN, r.m.Schema.ID) {
		p.URN = ""
	}
	m := r.m
	timeKey := func(attr, name string) (sortKey, error) {
		if attr == "" {
			return sortKey{}, bad("the directory keeps no such timestamp")
		}
		return sortKey{name: name, attrs: []string{attr}, normalize: normalizeTime}, nil
	}
	if p.URN == "" {
		switch strings.ToLower(p.Attr) {
		case "id":
			return sortKey{}, nil // the id order is the default order
		case "meta":
			switch strings.ToLower(p.Sub) {
			case "created":
				return timeKey(m.Created, "meta.created")
			case "lastmodified":
				return timeKey(m.Modified, "meta.lastModified")
			}
			return sortKey{}, bad("sort by meta.created or meta.lastModified")
		case "members", "groups", "active", "password", "schemas":
			return sortKey{}, bad("results cannot be sorted by " + p.Attr)
		}
	}
	attr, _ := r.attribute(p)
	switch {
	case attr.Name == "":
		return sortKey{}, bad(fmt.Sprintf("%s resources have no such attribute", r.kind))
	case attr.Type == schema.Complex && !attr.MultiValued && p.Sub == "":
		return sortKey{}, bad(fmt.Sprintf("%s is complex: sort by one of its sub-attributes, such as %s.%s", p.Attr, p.Attr, firstSub(attr)))
	case attr.Type == schema.Complex && attr.MultiValued && p.Sub == "":
		p.Sub = "value"
	}
	sk := sortKey{name: p.String()}
	sub := attr
	if p.Sub != "" {
		var ok bool
		if sub, ok = attr.SubAttribute(p.Sub); !ok {
			return sortKey{}, bad(fmt.Sprintf("%s has no sub-attribute %q", p.Attr, p.Sub))
		}
	}
	var codec schema.Codec
	exact := sub.CaseExact
	for _, am := range m.Lookup(p.URN, p.Attr, p.Sub) {
		if !strings.EqualFold(am.SCIM.Sub, p.Sub) || am.Codec == schema.CodecDN {
			continue
		}
		sk.attrs = append(sk.attrs, am.LDAP)
		codec = am.Codec
		if am.CaseExact != nil {
			exact = *am.CaseExact
		}
	}
	if len(sk.attrs) == 0 {
		return sortKey{}, bad("it is not stored in the directory")
	}
	switch {
	case codec == schema.CodecInteger:
		sk.normalize = normalizeInteger
	case codec == schema.CodecDateTime:
		sk.normalize = normalizeTime
	case codec == schema.CodecBoolean:
		sk.normalize = strings.ToUpper
	case sub.Type == schema.Binary || codec == schema.CodecBinary || codec == schema.CodecGUID:
		return sortKey{}, bad("binary values have no order")
	case exact:
		sk.normalize = func(s string) string { return strings.Join(strings.Fields(s), " ") }
	default:
		// Case-insensitive Unicode order (RFC 7644 section 3.4.2.3), with
		// spaces treated as caseIgnoreMatch treats them.
		sk.normalize = func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
	}
	return sk, nil
}

// normalizeInteger makes decimal integers sort as numbers: offset binary
// (the sign bit flipped) in 20 digits.
func normalizeInteger(s string) string {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return "~" + s // not a number: after every number
	}
	return fmt.Sprintf("%020d", uint64(n)^(1<<63))
}

// normalizeTime makes GeneralizedTime values sort as instants.
func normalizeTime(s string) string {
	t, err := schema.ParseGeneralizedTime(s)
	if err != nil {
		return "~" + s
	}
	return t.UTC().Format("20060102150405.000000000")
}
