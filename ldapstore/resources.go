package ldapstore

import (
	"context"
	"regexp"
	"sort"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/scim2/filter-parser/v2"

	"github.com/scimgate/scimgate/schema"
)

// Resources are the resources of one type (Users or Groups) below a base DN.
type Resources struct {
	store  *Store
	kind   string
	baseDN string
	base   *ldap.DN
	m      schema.Resource
	class  string   // LDAP filter selecting entries of this type
	attrs  []string // LDAP attributes read for a whole resource
}

// Mapping returns the mapping the resources are stored with.
func (r *Resources) Mapping() schema.Resource { return r.m }

// Query selects a page of resources.
type Query struct {
	// Filter is the parsed SCIM filter; nil selects every resource.
	Filter filter.Expression
	// StartIndex is the 1-based index of the first resource returned.
	StartIndex int
	// Count is the most resources returned; 0 returns only the total.
	Count int
}

// Page is one page of a list.
type Page struct {
	Total     int
	Resources []Resource
}

// Batch sizes: entries per page of a paged search, and values per OR filter
// when looking many entries up at once.
const (
	searchPageSize = 500
	lookupBatch    = 500
)

// Create adds a resource from validated SCIM attributes and returns it as
// stored.
func (r *Resources) Create(ctx context.Context, attrs map[string]any) (Resource, error) {
	values := toEntry(r.m, attrs)
	rdnAttr, rdnPath, _ := r.m.RDNAttribute()
	rdnValue := valueAt(attrs, rdnPath)
	if rdnValue == "" {
		return Resource{}, invalidf("%s is required", rdnPath)
	}
	if !containsFold(values[rdnAttr], rdnValue) {
		values[rdnAttr] = append([]string{rdnValue}, values[rdnAttr]...)
	}
	dn := rdnAttr + "=" + ldap.EscapeDN(rdnValue) + "," + r.baseDN
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", r.m.ObjectClasses)
	names := make([]string, 0, len(values))
	for a := range values {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		req.Attribute(a, values[a])
	}

	conn, err := r.store.pool.Conn(ctx)
	if err != nil {
		return Resource{}, err
	}
	defer conn.Release()
	if err := conn.Add(ctx, req); err != nil {
		return Resource{}, classify("create "+r.kind, err)
	}
	res, err := conn.Search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", r.attrs, nil))
	if err != nil {
		return Resource{}, classify("read new "+r.kind, err)
	}
	if len(res.Entries) != 1 {
		return Resource{}, classify("read new "+r.kind, ErrNotFound)
	}
	return r.resource(ctx, conn, res.Entries[0])
}

// Get returns the resource with the given id.
func (r *Resources) Get(ctx context.Context, id string) (Resource, error) {
	conn, err := r.store.pool.Conn(ctx)
	if err != nil {
		return Resource{}, err
	}
	defer conn.Release()
	e, err := r.find(ctx, conn, id, r.attrs)
	if err != nil {
		return Resource{}, err
	}
	return r.resource(ctx, conn, e)
}

// Delete removes the resource with the given id.
func (r *Resources) Delete(ctx context.Context, id string) error {
	conn, err := r.store.pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	e, err := r.find(ctx, conn, id, []string{"1.1"})
	if err != nil {
		return err
	}
	return classify("delete "+r.kind, conn.Del(ctx, ldap.NewDelRequest(e.DN, nil)))
}

// List returns the page of resources that q selects, with the total count.
//
// It walks the matching entries' ids with a paged search, keeping only the
// ids of the page, then reads those entries in one search: memory stays
// bounded by the page size. The walk costs the directory one pass over the
// matches per request.
func (r *Resources) List(ctx context.Context, q Query) (Page, error) {
	match := r.class
	if q.Filter != nil {
		f, err := ldapFilter(r.m, q.Filter)
		if err != nil {
			return Page{}, err
		}
		match = "(&" + r.class + f + ")"
	}
	if q.StartIndex < 1 {
		q.StartIndex = 1
	}
	conn, err := r.store.pool.Conn(ctx)
	if err != nil {
		return Page{}, err
	}
	defer conn.Release()

	var page Page
	var ids []string
	first := q.StartIndex - 1
	err = conn.pagedSearch(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		match, []string{r.m.ID}, nil), searchPageSize, func(e *ldap.Entry) error {
		if page.Total >= first && len(ids) < q.Count {
			ids = append(ids, e.GetEqualFoldAttributeValue(r.m.ID))
		}
		page.Total++
		return nil
	})
	if err != nil {
		return Page{}, classify("list "+r.kind, err)
	}
	page.Resources = []Resource{}
	if len(ids) == 0 {
		return page, nil
	}
	entries, err := r.lookup(ctx, conn, r.m.ID, ids, r.attrs)
	if err != nil {
		return Page{}, err
	}
	for _, id := range ids {
		e, ok := entries[strings.ToLower(id)]
		if !ok {
			continue // deleted since the walk
		}
		res, err := r.resource(ctx, conn, e)
		if err != nil {
			return Page{}, err
		}
		page.Resources = append(page.Resources, res)
	}
	return page, nil
}

// resource converts an entry, resolving group members.
func (r *Resources) resource(ctx context.Context, conn *Conn, e *ldap.Entry) (Resource, error) {
	res := fromEntry(r.m, e)
	if r.m.Members == "" {
		return res, nil
	}
	members, err := r.store.resolveMembers(ctx, conn, e.GetEqualFoldAttributeValues(r.m.Members))
	if err != nil {
		return Resource{}, err
	}
	list := make([]any, 0, len(members))
	for _, m := range members {
		el := map[string]any{"value": m.ID, "type": m.Type}
		if m.Display != "" {
			el["display"] = m.Display
		}
		list = append(list, el)
	}
	res.Attributes["members"] = list
	return res, nil
}

// uuidRE matches the string form of a UUID, which entryUUID and nsUniqueId
// ids have: anything else cannot be an id and is not looked up.
var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// find returns the entry of the resource with the given id, by an equality
// search on the id attribute (indexed), never by DN.
func (r *Resources) find(ctx context.Context, conn *Conn, id string, attrs []string) (*ldap.Entry, error) {
	if strings.EqualFold(r.m.ID, "entryUUID") && !uuidRE.MatchString(id) {
		return nil, classify("find "+r.kind, ErrNotFound)
	}
	res, err := conn.Search(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
		"(&"+r.class+"("+r.m.ID+"="+ldap.EscapeFilter(id)+"))", attrs, nil))
	if err != nil {
		return nil, classify("find "+r.kind, err)
	}
	if len(res.Entries) != 1 {
		return nil, classify("find "+r.kind+" "+id, ErrNotFound)
	}
	return res.Entries[0], nil
}

// lookup reads the entries of this type whose attribute attr has one of
// values, lookupBatch values per search, keyed by the lower-cased value.
func (r *Resources) lookup(ctx context.Context, conn *Conn, attr string, values, attrs []string) (map[string]*ldap.Entry, error) {
	out := make(map[string]*ldap.Entry, len(values))
	for start := 0; start < len(values); start += lookupBatch {
		batch := values[start:min(start+lookupBatch, len(values))]
		var f strings.Builder
		f.WriteString("(&" + r.class + "(|")
		for _, v := range batch {
			f.WriteString("(" + attr + "=" + ldap.EscapeFilter(v) + ")")
		}
		f.WriteString("))")
		res, err := conn.Search(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			f.String(), attrs, nil))
		if err != nil {
			return nil, classify("look up "+r.kind+"s", err)
		}
		for _, e := range res.Entries {
			key := e.GetEqualFoldAttributeValue(attr)
			if strings.EqualFold(attr, r.store.dnAttribute) {
				key = dnKey(e.DN)
			}
			out[strings.ToLower(key)] = e
		}
	}
	return out, nil
}

// resolveMembers turns member DNs into ids, types and display names, in the
// order given, with one search per lookupBatch members of each type. DNs that
// are not users or groups of this store (or no longer exist) are left out.
func (s *Store) resolveMembers(ctx context.Context, conn *Conn, dns []string) ([]Member, error) {
	byType := map[*Resources][]string{}
	for _, dn := range dns {
		parsed, err := ldap.ParseDN(dn)
		if err != nil {
			continue
		}
		for _, r := range []*Resources{s.Users, s.Groups} {
			if r.base.AncestorOfFold(parsed) {
				byType[r] = append(byType[r], dn)
				break
			}
		}
	}
	found := map[string]Member{}
	for r, list := range byType {
		display := r.displayAttributes()
		entries, err := r.lookup(ctx, conn, s.dnAttribute, list, append([]string{r.m.ID}, display...))
		if err != nil {
			return nil, err
		}
		for key, e := range entries {
			m := Member{ID: e.GetEqualFoldAttributeValue(r.m.ID), Type: r.kind}
			for _, a := range display {
				if m.Display = e.GetEqualFoldAttributeValue(a); m.Display != "" {
					break
				}
			}
			found[key] = m
		}
	}
	out := make([]Member, 0, len(found))
	for _, dn := range dns {
		if m, ok := found[dnKey(dn)]; ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// displayAttributes are the LDAP attributes a member's display name is taken
// from, the first present winning: those of displayName and name.formatted,
// then the RDN attribute.
func (r *Resources) displayAttributes() []string {
	var out []string
	for _, p := range []schema.Path{{Attr: "displayName"}, {Attr: "name", Sub: "formatted"}} {
		for _, m := range r.m.Lookup("", p.Attr, p.Sub) {
			out = append(out, m.LDAP)
		}
	}
	a, _, _ := r.m.RDNAttribute()
	return append(out, a)
}

// dnKey normalises a DN for comparison.
func dnKey(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return strings.ToLower(parsed.String())
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
