package ldapstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/scim2/filter-parser/v2"

	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/directory"
	"github.com/scimgate/scimgate/test/ds389"
	"github.com/scimgate/scimgate/test/samba"
	"github.com/scimgate/scimgate/test/slapd"
)

// indexedDirectory starts a slapd that streams its changes, with n users of
// varied family names (some without a displayName) and a few groups.
func indexedDirectory(t *testing.T, n int) *slapd.Server {
	t.Helper()
	dir := slapd.New(t, slapd.Options{ServiceAccount: true, SyncProv: true})
	addIndexed(t, dir, personDialect, n)
	return dir
}

// A dialect is how a directory program spells a user entry whose userName
// is name: its DN, the attributes to add it with, and a change of its
// userName (a rename where the name is the RDN).
type dialect struct {
	dn     func(dir *directory.Info, name string) string
	user   func(name string) []string // attribute: value lines, without the DN
	group  string                     // object class
	rename func(c *ldap.Conn, dir *directory.Info, from, to string) error
}

// personDialect: inetOrgPerson named by uid (OpenLDAP, 389).
var personDialect = dialect{
	dn: func(dir *directory.Info, name string) string { return "uid=" + name + "," + dir.PeopleDN },
	user: func(name string) []string {
		return []string{"objectClass: inetOrgPerson", "uid: " + name, "cn: " + name}
	},
	group: "groupOfNames",
	rename: func(c *ldap.Conn, dir *directory.Info, from, to string) error {
		return c.ModifyDN(ldap.NewModifyDNRequest("uid="+from+","+dir.PeopleDN, "uid="+to, true, ""))
	},
}

// adDialect: Active Directory's user, named by cn, userName its
// userPrincipalName.
var adDialect = dialect{
	dn: func(dir *directory.Info, name string) string { return "CN=" + name + "," + dir.PeopleDN },
	user: func(name string) []string {
		return []string{"objectClass: user", "cn: " + name, "sAMAccountName: " + name, "userPrincipalName: " + name}
	},
	group: "group",
	rename: func(c *ldap.Conn, dir *directory.Info, from, to string) error {
		mod := ldap.NewModifyRequest("CN="+from+","+dir.PeopleDN, nil)
		mod.Replace("userPrincipalName", []string{to})
		return c.Modify(mod)
	},
}

// streamingDirectories are the directory programs whose changes the order
// index follows, each with its preset: content sync on OpenLDAP and 389,
// DirSync polled on Active Directory (Samba).
var streamingDirectories = []struct {
	name, preset string
	dialect      dialect
	start        func(t *testing.T) directory.Server
}{
	{"openldap", "openldap", personDialect, func(t *testing.T) directory.Server {
		return slapd.New(t, slapd.Options{ServiceAccount: true, SyncProv: true})
	}},
	{"389ds", "389ds", personDialect, func(t *testing.T) directory.Server { return ds389.New(t, ds389.Options{}) }},
	{"activedirectory", "activedirectory", adDialect, func(t *testing.T) directory.Server { return samba.New(t, samba.Options{}) }},
}

// addIndexed adds indexedDirectory's users and groups to dir.
func addIndexed(t *testing.T, ds directory.Server, d dialect, n int) {
	t.Helper()
	dir := ds.Directory()
	var b strings.Builder
	families := []string{"Lovelace", "turing", "Hopper", "hopper", "Ritchie", "Émile", "Zuse"}
	for i := range n {
		name := fmt.Sprintf("user%04d", i)
		fmt.Fprintf(&b, "dn: %s\n%s\nsn: %s\n", d.dn(dir, name), strings.Join(d.user(name), "\n"), families[i%len(families)])
		if i%5 != 0 {
			fmt.Fprintf(&b, "displayName: %s %d\n", families[(i*3)%len(families)], i%17)
		}
		b.WriteString("\n")
	}
	for i := range 3 {
		fmt.Fprintf(&b, "dn: cn=group%d,%s\nobjectClass: %s\ncn: group%d\nmember: %s\n\n", i, dir.GroupsDN, d.group, i, d.dn(dir, fmt.Sprintf("user%04d", i)))
	}
	if err := dir.AddLDIF(context.Background(), b.String()); err != nil {
		t.Fatal(err)
	}
}

func preset(t *testing.T, name string) schema.Profile {
	t.Helper()
	p, err := schema.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runIndexed runs st's change streams until the test ends, or until the
// function it returns is called, and waits until both indexes are ready.
func runIndexed(t *testing.T, st *Store) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	waitIndex(t, st, "ready")
	return stop
}

func waitIndex(t *testing.T, st *Store, state string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if s := st.IndexStatus(); s.Users == state && s.Groups == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the indexes are %+v, want %s", st.IndexStatus(), state)
		}
	}
}

// pageOf is what a page says, for comparing two answers.
func pageOf(t *testing.T, r *Resources, q Query) string {
	t.Helper()
	p, err := r.List(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", describe(q), err)
	}
	var ids []string
	for _, res := range p.Resources {
		ids = append(ids, res.ID)
	}
	return fmt.Sprintf("total %d ids %v next %+v previous %+v", p.Total, ids, p.Next, p.Previous)
}

func describe(q Query) string {
	after := ""
	if q.After != nil {
		after = fmt.Sprintf(" after %+v", *q.After)
	}
	return fmt.Sprintf("filter %v sortBy %q desc %v start %d count %d cursor %v%s", q.Filter, q.SortBy, q.Descending, q.StartIndex, q.Count, q.Cursor, after)
}

// The order index answers every query it takes exactly as the snapshots
// do — totals, pages, cursor positions — with one LDAP search per page
// (per fetchBatch entries of it) and no scan: two stores over one directory, one keeping the index, one
// with search.index off, asked the same queries.
func TestIndexAnswersAsSnapshots(t *testing.T) {
	dir := indexedDirectory(t, 700)
	indexed := newStore(t, dir)
	runIndexed(t, indexed)
	plain := newStoreWith(t, dir, Options{Search: SearchConfig{Index: IndexOff}})
	withIndex, without := users(t, indexed), users(t, plain)

	filters := []string{"", `userName sw "user01"`, `userName eq "USER0042"`, `displayName pr`, `name.familyName eq "hopper"`,
		`displayName sw "ritchie 1"`, `userName sw "nobody"`, `meta.lastModified gt "2000-01-01T00:00:00Z"`,
		`meta.created lt "2000-01-01T00:00:00Z"`, `name.familyName pr`}
	sorts := []string{"", "userName", "displayName", "name.familyName", "meta.created", "meta.lastModified"}
	rng := rand.New(rand.NewPCG(1, 2))
	ops := indexed.pool.Stats().Operations
	queries, allowed := 0, 0
	searches := func(count int) int { return (count + fetchBatch - 1) / fetchBatch }
	for _, fs := range filters {
		f := mustFilter(t, fs)
		for _, sortBy := range sorts {
			for _, desc := range []bool{false, true} {
				q := Query{Filter: f, SortBy: sortBy, Descending: desc, StartIndex: 1 + rng.IntN(700), Count: 1 + rng.IntN(30)}
				if got, want := pageOf(t, withIndex, q), pageOf(t, without, q); got != want {
					t.Errorf("%s:\nindex     %s\nsnapshots %s", describe(q), got, want)
				}
				queries++
				allowed += searches(q.Count)
				// A cursor walk, forward then back one page.
				q = Query{Filter: f, SortBy: sortBy, Descending: desc, Cursor: true, Count: 1 + rng.IntN(200)}
				for step := 0; step < 4; step++ {
					p, err := withIndex.List(context.Background(), q)
					if err != nil {
						t.Fatal(err)
					}
					if got, want := pageOf(t, withIndex, q), pageOf(t, without, q); got != want {
						t.Errorf("%s:\nindex     %s\nsnapshots %s", describe(q), got, want)
					}
					queries += 2
					allowed += 2 * searches(q.Count)
					switch {
					case step == 2 && p.Previous != nil:
						q.After = p.Previous
					case p.Next != nil:
						q.After = p.Next
					}
				}
			}
		}
	}
	if s := indexed.ScanStats(); s.Scans != 0 {
		t.Errorf("the indexed store ran %d scans", s.Scans)
	}
	if s := plain.ScanStats(); s.Scans == 0 {
		t.Error("the store without an index ran no scans: the queries are too small to tell")
	}
	t.Logf("%d queries; scans without the index: %d", queries, plain.ScanStats().Scans)
	if n := indexed.pool.Stats().Operations - ops; n > int64(allowed) {
		t.Errorf("%d LDAP operations for %d indexed lists, want at most %d: one per fetchBatch entries of a page", n, queries, allowed)
	}
}

func mustFilter(t *testing.T, s string) filter.Expression {
	t.Helper()
	if s == "" {
		return nil
	}
	f, err := schema.ParseFilter(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// userNames lists the userNames of a query's first page of up to 1,000,
// sorted by userName; when they are not all the total says (a change the
// index has not seen yet: milliseconds), the list ends with a note of it.
func userNames(t *testing.T, r *Resources, fs string) []string {
	t.Helper()
	p, err := r.List(context.Background(), Query{Filter: mustFilter(t, fs), SortBy: "userName", StartIndex: 1, Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, res := range p.Resources {
		out = append(out, res.Attributes["userName"].(string))
	}
	if len(out) != p.Total {
		out = append(out, fmt.Sprintf("(total %d)", p.Total))
	}
	return out
}

// eventually waits up to 2 s for cond, the most a change made straight in
// the directory may take to show in lists.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within 2 s: %s", what)
		}
	}
}

// Changes made straight in the directory — add, modify of a sort key,
// rename, delete — show in lists within 2 s, exactly.
func TestIndexFollowsTheDirectory(t *testing.T) { onStreamingDirectories(t, 150, indexFollows) }

// onStreamingDirectories runs test on each of streamingDirectories, with n
// users (addIndexed) and a store with its preset (DirSync polled every
// 100 ms).
func onStreamingDirectories(t *testing.T, n int, test func(*testing.T, *directory.Info, dialect, *Store)) {
	for _, d := range streamingDirectories {
		t.Run(d.name, func(t *testing.T) {
			ds := d.start(t)
			addIndexed(t, ds, d.dialect, n)
			st := newStoreWith(t, ds, Options{Profile: preset(t, d.preset), Search: SearchConfig{PollInterval: 100 * time.Millisecond}})
			test(t, ds.Directory(), d.dialect, st)
		})
	}
}

func indexFollows(t *testing.T, dir *directory.Info, d dialect, st *Store) {
	runIndexed(t, st)
	u := users(t, st)
	c, err := dir.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := dir.AddLDIF(context.Background(), "dn: "+d.dn(dir, "zz-new")+"\n"+strings.Join(d.user("zz-new"), "\n")+"\nsn: Aaa\n"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an added user listed", func() bool { return slices.Equal(userNames(t, u, `userName sw "zz"`), []string{"zz-new"}) })

	first := func() string {
		p, err := u.List(context.Background(), Query{SortBy: "name.familyName", StartIndex: 1, Count: 1})
		if err != nil || len(p.Resources) != 1 {
			t.Fatalf("%v %v", p, err)
		}
		return p.Resources[0].Attributes["userName"].(string)
	}
	if first() != "zz-new" {
		t.Errorf("sorted by family name, %s comes first, want zz-new (Aaa)", first())
	}
	mod := ldap.NewModifyRequest(d.dn(dir, "zz-new"), nil)
	mod.Replace("sn", []string{"Zzz"})
	if err := c.Modify(mod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a changed family name sorted anew", func() bool {
		return first() != "zz-new" && slices.Equal(userNames(t, u, `name.familyName eq "zzz"`), []string{"zz-new"})
	})

	if err := d.rename(c, dir, "zz-new", "zz-renamed"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a renamed user listed under its new name", func() bool {
		return slices.Equal(userNames(t, u, `userName sw "zz"`), []string{"zz-renamed"})
	})
	gone := d.dn(dir, "zz-renamed")
	if _, err := c.Search(ldap.NewSearchRequest(gone, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil)); err != nil {
		gone = d.dn(dir, "zz-new") // renamed in place (AD: userPrincipalName)
	}
	if err := c.Del(ldap.NewDelRequest(gone, nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a deleted user gone", func() bool { return len(userNames(t, u, `userName sw "zz"`)) == 0 })
	// This replica's own write, then the stream's word of it: one user,
	// under the same key (on 389 the stream's is the nsUniqueId).
	own, err := u.Create(context.Background(), map[string]any{"userName": "zz-own", "name": map[string]any{"familyName": "Own"}})
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if got := userNames(t, u, `userName sw "zz"`); !slices.Equal(got, []string{"zz-own"}) {
			t.Fatalf("after its own create: %q", got)
		}
	}
	if err := u.Delete(context.Background(), own.ID, Precondition{}); err != nil {
		t.Fatal(err)
	}
	if n := len(userNames(t, u, "")); n != 150 {
		t.Errorf("%d users at the end, want 150", n)
	}
	if s := st.ScanStats(); s.Scans != 0 {
		t.Errorf("%d scans: the index did not answer", s.Scans)
	}
}

// A replica's own writes show in its lists at once, whatever the change
// stream's delay: here the stream is gone altogether (its context ended,
// the index left as it was), and creates, renames and deletes through the
// store still show.
func TestIndexReadsItsWrites(t *testing.T) { onStreamingDirectories(t, 50, indexReadsWrites) }

func indexReadsWrites(t *testing.T, dir *directory.Info, _ dialect, st *Store) {
	runIndexed(t, st)() // stopped at once: the index left as it is
	u := users(t, st)
	created, err := u.Create(context.Background(), map[string]any{"userName": "aaa-first", "name": map[string]any{"familyName": "X"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := userNames(t, u, `userName sw "aaa"`); !slices.Equal(got, []string{"aaa-first"}) {
		t.Errorf("after a create: %q", got)
	}
	path, _ := filter.ParsePath([]byte("userName"))
	ops := []schema.Operation{{Op: "replace", Path: &path, Value: "aaa-second"}}
	if _, err := u.Patch(context.Background(), created.ID, ops, Precondition{}); err != nil {
		t.Fatal(err)
	}
	if got := userNames(t, u, `userName sw "aaa"`); !slices.Equal(got, []string{"aaa-second"}) {
		t.Errorf("after a rename: %q", got)
	}
	if err := u.Delete(context.Background(), created.ID, Precondition{}); err != nil {
		t.Fatal(err)
	}
	if got := userNames(t, u, `userName sw "aaa"`); len(got) != 0 {
		t.Errorf("after a delete: %q", got)
	}
	if s := st.ScanStats(); s.Scans != 0 {
		t.Errorf("%d scans: the index did not answer", s.Scans)
	}
}

// When the directory goes away the index is dropped (lists fall back to
// snapshots, which are never stale), and when it is back the stream
// connects again and a new refresh brings what changed meanwhile.
func TestIndexResyncsAfterARestart(t *testing.T) {
	dir := indexedDirectory(t, 80)
	st := newStore(t, dir)
	runIndexed(t, st)
	u := users(t, st)
	dir.Kill()
	waitIndex(t, st, "lost")
	if err := dir.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := dir.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Del(ldap.NewDelRequest("uid=user0003,"+dir.PeopleDN, nil)); err != nil {
		t.Fatal(err)
	}
	waitIndex(t, st, "ready")
	eventually(t, "the deletion made while the stream was down", func() bool {
		got := userNames(t, u, `userName sw "user000"`)
		return slices.Equal(got, []string{"user0000", "user0001", "user0002", "user0004", "user0005", "user0006", "user0007", "user0008", "user0009"})
	})
	if st.IndexStatus().UsersEntries != 79 {
		t.Errorf("index %+v, want 79 users", st.IndexStatus())
	}
}

// Versions pack to bytes that order as the changes do: entryCSNs by time
// then counters, numbers as numbers.
func TestPackVersion(t *testing.T) {
	ordered := [][]string{
		{"20261130115959.123456Z#000000#000#000000", "20261130115959.123456Z#000001#000#000000", "20261130115959.123457Z#000000#000#000000",
			"20261130120000.000000Z#000000#001#000000", "20261201000000.000000Z#000000#000#000000"},
		{"9", "10", "100", "18446744073709551615"},
	}
	for _, list := range ordered {
		for i := 1; i < len(list); i++ {
			a, b := packVersion(list[i-1]), packVersion(list[i])
			if bytes.Compare(a, b) >= 0 {
				t.Errorf("%s packs to %x, not before %s (%x)", list[i-1], a, list[i], b)
			}
		}
	}
	if n := len(packVersion("20261130115959.123456Z#000000#000#000000")); n != 16 {
		t.Errorf("an entryCSN packs to %d bytes, want 16", n)
	}
	if got := packVersion("W/odd"); string(got) != "W/odd" {
		t.Errorf("an unknown version packs to %q, want it as it is", got)
	}
}

// Stream keys read from either spelling of 128 bits: an entryUUID and a
// 389 nsUniqueId name the same key when their digits are the same.
func TestUUIDBytes(t *testing.T) {
	want := [16]byte{0x3a, 0xd7, 0x52, 0x40, 0xec, 0xc8, 0x11, 0xf1, 0xab, 0x58, 0x8c, 0x06, 0x7e, 0xaf, 0xaf, 0xdf}
	tests := []struct {
		in string
		ok bool
	}{
		{"3ad75240-ecc8-11f1-ab58-8c067eafafdf", true},
		{"3ad75240-ecc811f1-ab588c06-7eafafdf", true},
		{"3AD75240-ECC811F1-AB588C06-7EAFAFDF", true},
		{"3ad75240ecc811f1ab588c067eafafdf", true},
		{"3ad75240-ecc811f1-ab588c06-7eafafd", false},
		{"3ad75240-ecc811f1-ab588c06-7eafafdf0", false},
		{"3ad75240-ecc811f1-ab588c06-7eafafdg", false},
		{"", false},
	}
	for _, tc := range tests {
		got, ok := uuidBytes(tc.in)
		if ok != tc.ok || (ok && got != want) {
			t.Errorf("uuidBytes(%q) = %x, %v", tc.in, got, ok)
		}
	}
}
