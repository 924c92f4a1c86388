package ldapstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/directory"
	"github.com/scimgate/scimgate/test/slapd"
)

func newStore(t *testing.T, s directory.Server) *Store {
	t.Helper()
	return newStoreWith(t, s, Options{})
}

// users returns the store's users, failing the test if the directory's
// schema cannot be read.
func users(t *testing.T, st *Store) *Resources {
	t.Helper()
	r, err := st.Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func groups(t *testing.T, st *Store) *Resources {
	t.Helper()
	r, err := st.Groups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newStoreWith(t *testing.T, ds directory.Server, opts Options) *Store {
	s := ds.Directory()
	t.Helper()
	profile, err := schema.Preset("openldap")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Profile.Name == "" {
		opts.Profile = profile
	}
	opts.Users.BaseDN, opts.Groups.BaseDN = s.PeopleDN, s.GroupsDN
	st, err := NewStore(openPool(t, poolConfig(s)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// entry reads an entry straight from the directory, bypassing the store.
func entry(t *testing.T, s *slapd.Server, filter string) *ldap.Entry {
	t.Helper()
	c, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(s.Suffix, ldap.ScopeWholeSubtree, 0, 0, 0, false, filter, []string{"*", "+"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 {
		return nil
	}
	return res.Entries[0]
}

func TestUserLifeCycle(t *testing.T) {
	s := slapd.New(t, slapd.Options{})
	st := newStore(t, s)
	ctx := context.Background()

	user := map[string]any{
		"userName":    "bjensen",
		"name":        map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"displayName": "Babs Jensen",
		"emails": []any{
			map[string]any{"value": "home@example.com", "type": "home"},
			map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true},
		},
		"phoneNumbers":           []any{map[string]any{"value": "+1 555 0100", "type": "work"}},
		schema.EnterpriseUserURN: map[string]any{"employeeNumber": "701984", "department": "Tour Operations"},
	}
	// Without scimgate's schema only the work e-mail has a home (mail):
	// a home one is refused, never dropped.
	if _, err := users(t, st).Create(ctx, user); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "emails.type") {
		t.Fatalf("Create with a home e-mail = %v, want ErrInvalid naming emails.type", err)
	}
	user["emails"] = user["emails"].([]any)[1:]
	created, err := users(t, st).Create(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	e := entry(t, s, "(uid=bjensen)")
	if e == nil {
		t.Fatal("no entry in the directory after Create")
	}
	if e.DN != "uid=bjensen,"+s.PeopleDN {
		t.Errorf("DN = %q", e.DN)
	}
	for attr, want := range map[string]string{
		"entryUUID": created.ID, "givenName": "Barbara", "sn": "Jensen", "cn": "Babs Jensen",
		"mail": "bjensen@example.com", "telephoneNumber": "+1 555 0100", "employeeNumber": "701984",
		"departmentNumber": "Tour Operations",
	} {
		if got := e.GetAttributeValues(attr); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want [%q]", attr, got, want)
		}
	}
	if created.Created.IsZero() || created.LastModified.IsZero() {
		t.Errorf("created resource lacks timestamps: %+v", created)
	}

	got, err := users(t, st).Get(ctx, created.ID, schema.Projection{})
	if err != nil {
		t.Fatal(err)
	}
	emails := got.Attributes["emails"].([]any)
	if len(emails) != 1 || emails[0].(map[string]any)["value"] != "bjensen@example.com" || emails[0].(map[string]any)["primary"] != true {
		t.Errorf("emails = %v", emails)
	}
	if got.Attributes[schema.EnterpriseUserURN].(map[string]any)["department"] != "Tour Operations" {
		t.Errorf("enterprise extension = %v", got.Attributes[schema.EnterpriseUserURN])
	}

	// The same userName, in any case, is taken.
	if _, err := users(t, st).Create(ctx, map[string]any{"userName": "BJensen"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate Create = %v, want ErrExists", err)
	}
	// cn and sn are derived from userName when nothing else gives them.
	minimal, err := users(t, st).Create(ctx, map[string]any{"userName": "min"})
	if err != nil {
		t.Fatal(err)
	}
	if e := entry(t, s, "(uid=min)"); e.GetAttributeValue("cn") != "min" || e.GetAttributeValue("sn") != "min" {
		t.Errorf("derived cn, sn = %q, %q", e.GetAttributeValue("cn"), e.GetAttributeValue("sn"))
	}
	if _, err := users(t, st).Create(ctx, map[string]any{"displayName": "no user name"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Create without userName = %v, want ErrInvalid", err)
	}

	if err := users(t, st).Delete(ctx, created.ID, Precondition{}); err != nil {
		t.Fatal(err)
	}
	if entry(t, s, "(uid=bjensen)") != nil {
		t.Fatal("entry still in the directory after Delete")
	}
	for _, id := range []string{created.ID, "not-a-uuid", "*", ")(uid=*"} {
		if _, err := users(t, st).Get(ctx, id, schema.Projection{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
		if err := users(t, st).Delete(ctx, id, Precondition{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := users(t, st).Get(ctx, minimal.ID, schema.Projection{}); err != nil {
		t.Errorf("the other user is gone: %v", err)
	}
}

func TestListPagesAndFilters(t *testing.T) {
	s := slapd.New(t, slapd.Options{})
	if err := s.AddLDIF(context.Background(), slapd.DemoLDIF(s)); err != nil {
		t.Fatal(err)
	}
	// Hostile values stored for real, to show they match only themselves.
	for _, uid := range []string{"star*", "paren(", "back\\slash", "nul\x00byte", "naïve"} {
		if _, err := users(t, newStore(t, s)).Create(context.Background(), map[string]any{"userName": uid}); err != nil {
			t.Fatalf("create %q: %v", uid, err)
		}
	}
	st := newStore(t, s)
	ctx := context.Background()
	total := slapd.DemoUsers + 5

	// Every user exactly once over pages of 7, in a stable order.
	seen := map[string]bool{}
	for start := 1; start <= total; start += 7 {
		page, err := users(t, st).List(ctx, Query{StartIndex: start, Count: 7})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != total {
			t.Fatalf("Total = %d, want %d", page.Total, total)
		}
		for _, r := range page.Resources {
			if seen[r.ID] {
				t.Fatalf("user %s on two pages", r.ID)
			}
			seen[r.ID] = true
		}
	}
	if len(seen) != total {
		t.Fatalf("walk saw %d users, want %d", len(seen), total)
	}
	if page, _ := users(t, st).List(ctx, Query{Count: 0}); page.Total != total || len(page.Resources) != 0 {
		t.Errorf("count=0 gave %d resources, total %d", len(page.Resources), page.Total)
	}

	tests := []struct {
		filter string
		want   int
	}{
		{`userName eq "alovelace"`, 1},
		{`userName eq "ALOVELACE"`, 1}, // uid matches case-insensitively
		{`userName eq "star*"`, 1},
		{`userName eq "paren("`, 1},
		{`userName eq "back\\slash"`, 1},
		{`userName eq "naïve"`, 1},
		{`userName sw "star"`, 1},
		{`userName co "*"`, 1},
		{`userName eq "*"`, 0},
		{`emails.value ew "@example.org"`, slapd.DemoUsers},
		{`emails co "lovelace"`, 2}, // "emails" alone compares the value
		{`title eq "Product Manager" and name.givenName sw "T"`, 1},
		{`title eq "Product Manager" or title eq "Security Engineer"`, 10},
		{`not (emails pr)`, 5},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1035"`, 1},
		{`userName eq "q\"uote"`, 0},
		{`title ne "Product Manager"`, total - 5},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			expr, err := schema.ParseFilter(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			page, err := users(t, st).List(ctx, Query{Filter: expr, Count: 100})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != tt.want || len(page.Resources) != tt.want {
				t.Errorf("Total = %d with %d resources, want %d", page.Total, len(page.Resources), tt.want)
			}
		})
	}
	expr, _ := schema.ParseFilter(`nickName eq "x"`)
	if _, err := users(t, st).List(ctx, Query{Filter: expr, Count: 10}); !errors.Is(err, ErrInvalidFilter) || !strings.Contains(err.Error(), "nickName") {
		t.Errorf("filter on an unmapped attribute = %v, want ErrInvalidFilter naming it", err)
	}
}

func TestGroupMembersResolveInBatches(t *testing.T) {
	s := slapd.New(t, slapd.Options{})
	// More members than one look-up batch, plus a nested group and a DN
	// outside both bases, which is not a SCIM resource.
	n := lookupBatch + 20
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "dn: uid=u%d,%s\nobjectClass: inetOrgPerson\nuid: u%d\ncn: User %d\nsn: %d\n\n", i, s.PeopleDN, i, i, i)
	}
	fmt.Fprintf(&b, "dn: cn=inner,%s\nobjectClass: groupOfNames\ncn: inner\nmember: uid=u0,%s\n\n", s.GroupsDN, s.PeopleDN)
	fmt.Fprintf(&b, "dn: cn=big,%s\nobjectClass: groupOfNames\ncn: big\nmember: cn=inner,%s\nmember: cn=admin,%s\n", s.GroupsDN, s.GroupsDN, s.Suffix)
	for i := range n {
		fmt.Fprintf(&b, "member: UID=u%d, %s\n", i, strings.ToUpper(s.PeopleDN))
	}
	if err := s.AddLDIF(context.Background(), b.String()); err != nil {
		t.Fatal(err)
	}
	st := newStore(t, s)
	expr, _ := schema.ParseFilter(`displayName eq "big"`)
	page, err := groups(t, st).List(context.Background(), Query{Filter: expr, Count: 10})
	if err != nil || len(page.Resources) != 1 {
		t.Fatalf("List = %+v, %v", page, err)
	}
	members := page.Resources[0].Attributes["members"].([]any)
	if len(members) != n+1 {
		t.Fatalf("%d members, want %d", len(members), n+1)
	}
	first := members[0].(map[string]any)
	if first["type"] != "Group" || first["display"] != "inner" {
		t.Errorf("first member = %v, want the group inner", first)
	}
	last := members[n].(map[string]any)
	if last["type"] != "User" || last["display"] != fmt.Sprintf("User %d", n-1) || last["value"] == "" {
		t.Errorf("last member = %v", last)
	}
}

// Load reports a size limit that would stop lists early.
func TestLoadReportsTheSizeLimit(t *testing.T) {
	for _, limit := range []int{0, 30} {
		s := slapd.New(t, slapd.Options{ServiceAccount: true, ServiceSizeLimit: limit})
		if err := s.AddLDIF(context.Background(), slapd.DemoLDIF(s)); err != nil {
			t.Fatal(err)
		}
		profile, _ := schema.Preset("openldap")
		st, err := NewStore(openPool(t, Config{URLs: []string{s.URL}, BindDN: s.ServiceDN, BindPassword: s.ServicePassword}),
			Options{Profile: profile, Users: UsersConfig{ResourceConfig: ResourceConfig{BaseDN: s.PeopleDN}}, Groups: GroupsConfig{ResourceConfig: ResourceConfig{BaseDN: s.GroupsDN}}})
		if err != nil {
			t.Fatal(err)
		}
		report, err := st.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		reported := strings.Contains(strings.Join(report.Limits, "\n"), "stops the bind DN's searches after 30 entries")
		if reported != (limit > 0) {
			t.Errorf("size limit %d: limits %q", limit, report.Limits)
		}
	}
}

// A group change computed from a read that a concurrent change made stale
// — here the placeholder to delete is already gone — is read again and
// recomputed, not failed (it was a 500 under concurrent member adds).
func TestStaleMemberDeletionIsRetried(t *testing.T) {
	s := slapd.New(t, slapd.Options{})
	st := newStore(t, s)
	us, gs := users(t, st), groups(t, st)
	ctx := context.Background()
	a, err := us.Create(ctx, map[string]any{"userName": "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := us.Create(ctx, map[string]any{"userName": "b"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := gs.Create(ctx, map[string]any{"displayName": "g"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := st.pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	stale, err := gs.find(ctx, conn, g.ID, []string{"*", "+"})
	if err != nil {
		t.Fatal(err)
	}
	if got := stale.GetAttributeValues("member"); len(got) != 1 || got[0] != gs.m.MemberPlaceholder {
		t.Fatalf("an empty group's members: %q", got)
	}
	// Another writer adds a member, taking the placeholder out.
	if _, err := gs.updateGroup(ctx, g.ID, Precondition{}, schema.MemberOps{Add: []string{a.ID}}, nil, true); err != nil {
		t.Fatal(err)
	}
	// This writer still believes the placeholder is there.
	mc := &memberChanges{add: []string{"uid=b," + s.PeopleDN}, del: []string{gs.m.MemberPlaceholder}}
	_, err = gs.write(ctx, conn, stale, stale.GetAttributeValue("entryCSN"), map[string]any{"displayName": "g"}, mc)
	if !errors.Is(err, errChanged) {
		t.Fatalf("a stale deletion: %v, want errChanged (read again)", err)
	}
	// Through the retrying path, the change lands.
	if _, err := gs.updateGroup(ctx, g.ID, Precondition{}, schema.MemberOps{Add: []string{b.ID}}, nil, true); err != nil {
		t.Fatalf("add b: %v", err)
	}
}

// A member value written after its entry was deleted or renamed (the race
// of a group change with the member's deletion or rename, set up here
// step by step) is mended by keepAdded: the deleted member's value is taken
// out, the renamed member's replaced by its new DN, and only the members
// that exist are returned (for the gateway-kept memberOf).
func TestKeepAddedMendsVanishedMembers(t *testing.T) {
	s := slapd.New(t, slapd.Options{NoRefint: true}) // nothing else mends the group meanwhile
	st := newStore(t, s)
	us, gs := users(t, st), groups(t, st)
	ctx := context.Background()
	ids := map[string]string{}
	for _, name := range []string{"kept", "deleted", "renamed"} {
		u, err := us.Create(ctx, map[string]any{"userName": name})
		if err != nil {
			t.Fatal(err)
		}
		ids[u.ID] = "uid=" + name + "," + s.PeopleDN
	}
	g, err := gs.Create(ctx, map[string]any{"displayName": "g"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The group gets all three, as the race's write would, after one was
	// deleted and one renamed.
	var added []string
	for _, dn := range ids {
		added = append(added, dn)
	}
	groupDN := "cn=g," + s.GroupsDN
	if err := c.Del(ldap.NewDelRequest("uid=deleted,"+s.PeopleDN, nil)); err != nil {
		t.Fatal(err)
	}
	if err := c.ModifyDN(ldap.NewModifyDNRequest("uid=renamed,"+s.PeopleDN, "uid=moved", true, "")); err != nil {
		t.Fatal(err)
	}
	req := ldap.NewModifyRequest(groupDN, nil)
	req.Replace("member", added)
	if err := c.Modify(req); err != nil {
		t.Fatal(err)
	}
	conn, err := st.pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	kept, err := gs.keepAdded(ctx, conn, groupDN, added, ids)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"uid=kept," + s.PeopleDN, "uid=moved," + s.PeopleDN}
	slices.Sort(kept)
	if !slices.Equal(kept, want) {
		t.Errorf("kept %q, want %q", kept, want)
	}
	got := entry(t, s, "(entryUUID="+g.ID+")").GetAttributeValues("member")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("members %q, want %q", got, want)
	}
}
