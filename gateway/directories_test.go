package gateway

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/directory"
	"github.com/scimgate/scimgate/test/ds389"
	"github.com/scimgate/scimgate/test/samba"
	"github.com/scimgate/scimgate/test/slapd"
)

// The portable suite: what a deployment relies on, run on every directory
// program scimgate ships a preset for — a real OpenLDAP (the reference), a
// real 389 Directory Server 2.3, a real Samba 4.17 AD DC — each with its
// preset as
// deploy/examples configures it and nothing standing in. The round trip
// (roundtrip_test.go) and the client replays (replay_test.go) run on them
// too.

// A realDirectory starts a directory program with its preset's gateway.
type realDirectory struct {
	name string
	// start serves the preset over a fresh server, with the demo users and
	// groups (directory.DemoLDIF) when demo is set.
	start func(t *testing.T, demo bool) *userEnv
}

func realDirectories() []realDirectory {
	return []realDirectory{
		{"openldap", newOpenLDAPEnv},
		{"389ds", newDS389Env},
		{"activedirectory", newSambaEnv},
	}
}

// newOpenLDAPEnv serves the openldap preset over slapd with scimgate's
// schema, the password policy, content sync and the service account.
func newOpenLDAPEnv(t *testing.T, demo bool) *userEnv {
	t.Helper()
	dir := slapd.New(t, slapd.Options{ScimgateSchema: true, PPolicy: true, ServiceAccount: true, SyncProv: true})
	return presetEnv(t, dir, "openldap", demo, nil)
}

// newDS389Env serves the 389ds preset over a real 389 Directory Server
// 2.3 with scimgate's schema (test/ds389: MemberOf, referential integrity,
// content sync and USN plugins on, as docs/directories.md asks).
func newDS389Env(t *testing.T, demo bool) *userEnv {
	t.Helper()
	dir := ds389.New(t, ds389.Options{ScimgateSchema: true})
	return presetEnv(t, dir, "389ds", demo, func(id string) string { return "(nsUniqueId=" + ldap.EscapeFilter(id) + ")" })
}

// newSambaEnv serves the activedirectory preset over a real Samba 4.17
// Active Directory domain controller, through LDAPS, bound as a service
// account with delegated rights (test/samba).
func newSambaEnv(t *testing.T, demo bool) *userEnv {
	t.Helper()
	dir := samba.New(t, samba.Options{})
	return presetEnv(t, dir, "activedirectory", demo, func(id string) string {
		guid, err := schema.CodecGUID.Encode(id)
		if err != nil {
			t.Fatalf("id %q: %v", id, err)
		}
		return "(objectGUID=" + ldap.EscapeFilter(guid) + ")"
	})
}

// presetEnv serves the named preset, unchanged, over ds; idFilter finds an
// entry by its SCIM id (nil: entryUUID).
func presetEnv(t *testing.T, ds directory.Server, preset string, demo bool, idFilter func(string) string) *userEnv {
	t.Helper()
	dir := ds.Directory()
	if demo {
		dialect := directory.InetOrgPerson
		if preset == "activedirectory" {
			dialect = directory.ActiveDirectory
		}
		if err := dir.AddLDIF(context.Background(), directory.DemoLDIF(dir, dialect)); err != nil {
			t.Fatal(err)
		}
	}
	profile, err := schema.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{Profile: profile})
	return &userEnv{t: t, dir: dir, base: hs.URL + "/scim/v2", profile: preset, idFilter: idFilter}
}

// directoryChecks are the suite, each on the same gateway and directory
// (their users and groups are named apart).
var directoryChecks = []struct {
	name string
	run  func(u *userEnv)
}{
	{"user life cycle", checkUserLifeCycle},
	{"filters", checkFilters},
	{"paging and cursors", checkPaging},
	{"ETag and If-Match", checkIfMatch},
	{"passwords and active", checkPasswordAndActive},
	{"group members", checkMembers},
	{"concurrent member changes", checkConcurrentMembers},
}

func TestDirectories(t *testing.T) {
	for _, d := range realDirectories() {
		t.Run(d.name, func(t *testing.T) {
			u := d.start(t, false)
			for _, c := range directoryChecks {
				t.Run(c.name, func(t *testing.T) { c.run(u.on(t)) })
			}
		})
	}
}

// on is u for the (sub)test t.
func (u *userEnv) on(t *testing.T) *userEnv {
	c := *u
	c.t = t
	return &c
}

// checkUserLifeCycle: create, read, find, PATCH, PUT, delete.
func checkUserLifeCycle(u *userEnv) {
	t := u.t
	id, created := u.create(`{"userName":"lc-barbara","name":{"givenName":"Barbara","familyName":"Jensen"},
		"emails":[{"value":"lc-barbara@example.org","type":"work"}],"title":"Tour guide",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Tours"}}`)
	if created.header.Get("Etag") == "" || created.header.Get("Location") != u.base+"/Users/"+id {
		t.Errorf("create: ETag %q, Location %q", created.header.Get("Etag"), created.header.Get("Location"))
	}
	if e := u.entry(id); e == nil || !strings.EqualFold(e.GetAttributeValue("sn"), "Jensen") {
		t.Fatalf("the entry of %s: %v", id, e)
	}
	wantSCIMError(t, u.send("POST", "/Users", `{"userName":"LC-Barbara"}`), 409, "uniqueness")
	if got := u.idOf("LC-BARBARA"); got != id {
		t.Errorf("userName eq, in another case: %s, want %s", got, id)
	}
	r := u.send("PATCH", "/Users/"+id, patchBody(`{"op":"replace","path":"title","value":"Head guide"},
		{"op":"add","path":"phoneNumbers","value":[{"value":"+1 555 0100","type":"work"}]},
		{"op":"replace","path":"name.givenName","value":"Babs"}`))
	if r.status != 200 || r.body["title"] != "Head guide" || r.body["name"].(map[string]any)["givenName"] != "Babs" {
		t.Fatalf("PATCH: %d %s", r.status, r.raw)
	}
	r = u.send("PUT", "/Users/"+id, `{"userName":"lc-barbara","name":{"familyName":"Jensen"},"displayName":"B. Jensen"}`)
	if r.status != 200 || r.body["displayName"] != "B. Jensen" || r.body["title"] != nil || r.body["phoneNumbers"] != nil {
		t.Fatalf("PUT: %d %s", r.status, r.raw)
	}
	if got := u.send("GET", "/Users/"+id, ""); got.status != 200 || got.raw != r.raw {
		t.Errorf("GET after PUT differs:\n%s\n%s", got.raw, r.raw)
	}
	if r := u.send("DELETE", "/Users/"+id, ""); r.status != 204 {
		t.Fatalf("DELETE: %d %s", r.status, r.raw)
	}
	wantSCIMError(t, u.send("GET", "/Users/"+id, ""), 404, "")
	if u.entry(id) != nil {
		t.Error("the entry is still in the directory")
	}
}

// checkFilters: each operator and shape, by the exact set of users found.
func checkFilters(u *userEnv) {
	people := []string{
		`{"userName":"flt-ada","name":{"familyName":"Lovelace"},"title":"Engineer","emails":[{"value":"flt-ada@example.org","type":"work"}]}`,
		`{"userName":"flt-bob","name":{"familyName":"Babbage"},"title":"Engineer"}`,
		`{"userName":"flt-cy","name":{"familyName":"Hopper"},"title":"Admiral"}`,
		`{"userName":"flt-dee","name":{"familyName":"Turing"}}`,
	}
	for _, p := range people {
		u.create(p)
	}
	tests := []struct{ filter, want string }{
		{`userName eq "flt-ada"`, "flt-ada"},
		{`userName eq "FLT-ADA"`, "flt-ada"},
		{`userName sw "flt-"`, "flt-ada flt-bob flt-cy flt-dee"},
		{`userName co "lt-b"`, "flt-bob"},
		{`userName ew "-cy"`, "flt-cy"},
		{`userName sw "flt-" and title eq "engineer"`, "flt-ada flt-bob"},
		{`userName sw "flt-" and not (title eq "Engineer")`, "flt-cy flt-dee"},
		{`userName sw "flt-" and (name.familyName eq "Hopper" or name.familyName eq "Turing")`, "flt-cy flt-dee"},
		{`userName sw "flt-" and title pr`, "flt-ada flt-bob flt-cy"},
		{`emails.value eq "flt-ada@example.org"`, "flt-ada"},
		{`emails[type eq "work" and value co "ada@"]`, "flt-ada"},
		{`userName sw "flt-" and meta.lastModified gt "2000-01-01T00:00:00Z"`, "flt-ada flt-bob flt-cy flt-dee"},
		{`userName sw "flt-" and meta.created lt "2000-01-01T00:00:00Z"`, ""},
		{`userName eq "flt-nobody"`, ""},
	}
	for _, tc := range tests {
		r := u.list("/Users?sortBy=userName&attributes=userName&filter=" + urlQuery(tc.filter))
		if got := strings.Join(userNames(r), " "); got != tc.want || total(r) != len(strings.Fields(tc.want)) {
			u.t.Errorf("%s: %q (total %d), want %q", tc.filter, got, total(r), tc.want)
		}
	}
}

// checkPaging: index pages both ways, and a cursor walk there and back.
func checkPaging(u *userEnv) {
	var all []string
	for i := range 12 {
		name := fmt.Sprintf("pg-%02d", i)
		u.create(`{"userName":"` + name + `"}`)
		all = append(all, name)
	}
	desc := slices.Clone(all)
	slices.Reverse(desc)
	q := "&attributes=userName&count=5&filter=" + urlQuery(`userName sw "pg-"`)
	for _, order := range []struct {
		param string
		want  []string
	}{{"ascending", all}, {"descending", desc}} {
		var got []string
		for start := 1; start <= 12; start += 5 {
			r := u.list(fmt.Sprintf("/Users?sortBy=userName&sortOrder=%s&startIndex=%d", order.param, start) + q)
			if total(r) != 12 {
				u.t.Errorf("%s page at %d: total %d", order.param, start, total(r))
			}
			got = append(got, userNames(r)...)
		}
		if !slices.Equal(got, order.want) {
			u.t.Errorf("%s pages: %q", order.param, got)
		}
		got = u.cursorWalk("/Users?sortBy=userName&sortOrder=" + order.param + q)
		if !slices.Equal(got, order.want) {
			u.t.Errorf("%s cursor walk: %q", order.param, got)
		}
	}
}

// cursorWalk follows nextCursor from the first page, then previousCursor
// back one page, and returns the userNames of the forward walk.
func (u *userEnv) cursorWalk(path string) []string {
	var got []string
	var pages []response
	for cursor := ""; ; {
		r := u.list(path + "&cursor=" + url.QueryEscape(cursor))
		pages = append(pages, r)
		got = append(got, userNames(r)...)
		next, _ := r.body["nextCursor"].(string)
		if next == "" || len(pages) > 10 {
			break
		}
		cursor = next
	}
	if n := len(pages); n > 1 {
		prev, _ := pages[n-1].body["previousCursor"].(string)
		back := u.list(path + "&cursor=" + url.QueryEscape(prev))
		if !slices.Equal(userNames(back), userNames(pages[n-2])) {
			u.t.Errorf("previousCursor gave %q, want %q", userNames(back), userNames(pages[n-2]))
		}
	}
	return got
}

// checkIfMatch: every write moves the ETag, even several in one second; a
// stale If-Match is refused and changes nothing; of writers racing with
// one ETag exactly one wins.
func checkIfMatch(u *userEnv) {
	t := u.t
	id, r := u.create(`{"userName":"etag-eve","title":"t0"}`)
	etags := []string{r.header.Get("Etag")}
	for i := 1; i <= 3; i++ { // back to back: within a second
		r = u.send("PATCH", "/Users/"+id, patchBody(fmt.Sprintf(`{"op":"replace","path":"title","value":"t%d"}`, i)), "If-Match", etags[len(etags)-1])
		if r.status != 200 {
			t.Fatalf("PATCH %d with the current ETag: %d %s", i, r.status, r.raw)
		}
		if etag := r.header.Get("Etag"); etag == "" || slices.Contains(etags, etag) {
			t.Errorf("PATCH %d: ETag %q, after %q", i, etag, etags)
		}
		etags = append(etags, r.header.Get("Etag"))
	}
	wantSCIMError(t, u.send("PATCH", "/Users/"+id, patchBody(`{"op":"replace","path":"title","value":"stale"}`), "If-Match", etags[2]), 412, "")
	wantSCIMError(t, u.send("PUT", "/Users/"+id, `{"userName":"etag-eve","title":"stale"}`, "If-Match", etags[0]), 412, "")
	if got := u.send("GET", "/Users/"+id, ""); got.body["title"] != "t3" || got.header.Get("Etag") != etags[3] {
		t.Errorf("after stale writes: title %v, ETag %q, want t3 %q", got.body["title"], got.header.Get("Etag"), etags[3])
	}
	if nm := u.send("GET", "/Users/"+id, "", "If-None-Match", etags[3]); nm.status != 304 {
		t.Errorf("If-None-Match with the current ETag: %d", nm.status)
	}
	statuses := make(chan int, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			statuses <- u.send("PATCH", "/Users/"+id, patchBody(fmt.Sprintf(`{"op":"replace","path":"title","value":"racer %d"}`, i)), "If-Match", etags[3]).status
		})
	}
	wg.Wait()
	close(statuses)
	var got []int
	for s := range statuses {
		got = append(got, s)
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{200, 412, 412, 412, 412, 412, 412, 412}) {
		t.Errorf("8 writers with one ETag: %v, want one 200 and seven 412", got)
	}
	wantSCIMError(t, u.send("DELETE", "/Users/"+id, "", "If-Match", etags[3]), 412, "")
}

// checkPasswordAndActive: the password set on create and by PATCH binds,
// the old one no longer; a deactivated user cannot bind and reads
// inactive; reactivated, binds again.
func checkPasswordAndActive(u *userEnv) {
	t := u.t
	id, _ := u.create(`{"userName":"pw-pat","name":{"familyName":"Pat"},"password":"Fir5t-Secret!"}`)
	dn := u.entry(id).DN
	if !u.binds(dn, "Fir5t-Secret!") {
		t.Fatal("the password set on create does not bind")
	}
	if r := u.send("PATCH", "/Users/"+id, patchBody(`{"op":"replace","path":"password","value":"Sec0nd-Secret!"}`)); r.status != 200 || r.body["password"] != nil {
		t.Fatalf("PATCH password: %d %s", r.status, r.raw)
	}
	if !u.binds(dn, "Sec0nd-Secret!") || u.binds(dn, "Fir5t-Secret!") {
		t.Error("after the PATCH, the new password must bind and the old one not")
	}
	for _, step := range []struct {
		value string
		binds bool
	}{{"false", false}, {"true", true}} {
		r := u.send("PATCH", "/Users/"+id, patchBody(`{"op":"replace","path":"active","value":`+step.value+`}`))
		if r.status != 200 || fmt.Sprint(r.body["active"]) != step.value {
			t.Fatalf("active %s: %d %s", step.value, r.status, r.raw)
		}
		if got := u.send("GET", "/Users/"+id, ""); fmt.Sprint(got.body["active"]) != step.value {
			t.Errorf("read back active %v, want %s", got.body["active"], step.value)
		}
		if u.binds(dn, "Sec0nd-Secret!") != step.binds {
			t.Errorf("active %s: binds %v", step.value, !step.binds)
		}
	}
	inactive := u.list("/Users?attributes=userName&filter=" + urlQuery(`userName eq "pw-pat" and active eq true`))
	if !slices.Equal(userNames(inactive), []string{"pw-pat"}) {
		t.Errorf("active eq true: %q", userNames(inactive))
	}
}

// checkMembers: members by POST, PATCH add (one already in), remove (one
// already out), replace; read from the group, from each user's groups and
// from the directory, as exact sets.
func checkMembers(u *userEnv) {
	t := u.t
	ids := map[string]string{}
	for _, n := range []string{"mb-a", "mb-b", "mb-c", "mb-d"} {
		ids[n], _ = u.create(`{"userName":"` + n + `"}`)
	}
	gid := u.createGroup(`{"displayName":"mb-team","members":[{"value":"` + ids["mb-a"] + `"},{"value":"` + ids["mb-b"] + `"}]}`)
	u.wantMembers(gid, ids, "mb-a", "mb-b")
	steps := []struct {
		op   string
		want []string
	}{
		{`{"op":"add","path":"members","value":[{"value":"` + ids["mb-b"] + `"},{"value":"` + ids["mb-c"] + `"}]}`, []string{"mb-a", "mb-b", "mb-c"}},
		{`{"op":"remove","path":"members[value eq \"` + ids["mb-a"] + `\"]"}`, []string{"mb-b", "mb-c"}},
		{`{"op":"remove","path":"members","value":[{"value":"` + ids["mb-a"] + `"},{"value":"` + ids["mb-b"] + `"}]}`, []string{"mb-c"}},
		{`{"op":"replace","path":"members","value":[{"value":"` + ids["mb-d"] + `"},{"value":"` + ids["mb-a"] + `"}]}`, []string{"mb-a", "mb-d"}},
		{`{"op":"replace","path":"displayName","value":"mb-renamed"}`, []string{"mb-a", "mb-d"}},
	}
	for _, s := range steps {
		if r := u.send("PATCH", "/Groups/"+gid, patchBody(s.op)); r.status != 200 && r.status != 204 {
			t.Fatalf("%s: %d %s", s.op, r.status, r.raw)
		}
		u.wantMembers(gid, ids, s.want...)
	}
	if r := u.send("DELETE", "/Users/"+ids["mb-d"], ""); r.status != 204 {
		t.Fatalf("delete a member: %d", r.status)
	}
	delete(ids, "mb-d")
	u.wantMembers(gid, ids, "mb-a")
	if r := u.send("DELETE", "/Groups/"+gid, ""); r.status != 204 {
		t.Fatalf("delete the group: %d", r.status)
	}
	u.wantGroups(ids["mb-a"])
}

// wantMembers checks a group's members three ways: the group's members,
// each user's groups, and the group entry's member DNs.
func (u *userEnv) wantMembers(gid string, ids map[string]string, names ...string) {
	u.t.Helper()
	var want, wantDNs []string
	for _, n := range names {
		want = append(want, ids[n])
		wantDNs = append(wantDNs, strings.ToLower(u.entry(ids[n]).DN))
	}
	slices.Sort(want)
	slices.Sort(wantDNs)
	if got := memberValues(u.send("GET", "/Groups/"+gid, "")); !slices.Equal(got, want) {
		u.t.Errorf("members %q, want %q (%v)", got, want, names)
	}
	if got := u.memberDNs(gid); !slices.Equal(got, wantDNs) {
		u.t.Errorf("member DNs %q, want %q", got, wantDNs)
	}
	for n, id := range ids {
		if slices.Contains(names, n) {
			u.wantGroups(id, gid)
		} else {
			u.wantGroups(id)
		}
	}
}

// wantGroups checks a user's groups. They are the directory's memberOf,
// which slapd's refint overlay rewrites in the background after a group is
// renamed (refint_attributes memberOf): wait for it.
func (u *userEnv) wantGroups(id string, gids ...string) {
	u.t.Helper()
	slices.Sort(gids)
	var got []string
	if !eventually(func() bool {
		r := u.send("GET", "/Users/"+id+"?attributes=groups", "")
		list, _ := r.body["groups"].([]any)
		got = got[:0]
		for _, g := range list {
			got = append(got, g.(map[string]any)["value"].(string))
		}
		slices.Sort(got)
		return slices.Equal(got, gids)
	}) {
		u.t.Errorf("user %s in groups %q, want %q", id, got, gids)
	}
}

// checkConcurrentMembers: writers adding and removing members of one group
// at once lose nothing.
func checkConcurrentMembers(u *userEnv) {
	gid := u.createGroup(`{"displayName":"cc-team"}`)
	ids := map[string]string{}
	var names []string
	for i := range 12 {
		n := fmt.Sprintf("cc-%02d", i)
		ids[n], _ = u.create(`{"userName":"` + n + `"}`)
		names = append(names, n)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for _, n := range names[w*3 : w*3+3] {
				r := u.send("PATCH", "/Groups/"+gid, patchBody(`{"op":"add","path":"members","value":[{"value":"`+ids[n]+`"}]}`))
				if r.status != 200 && r.status != 204 {
					u.t.Errorf("add %s: %d %s", n, r.status, r.raw)
				}
			}
			n := names[w*3]
			if r := u.send("PATCH", "/Groups/"+gid, patchBody(`{"op":"remove","path":"members[value eq \"`+ids[n]+`\"]"}`)); r.status != 200 && r.status != 204 {
				u.t.Errorf("remove %s: %d %s", n, r.status, r.raw)
			}
		})
	}
	wg.Wait()
	var want []string
	for i, n := range names {
		if i%3 != 0 {
			want = append(want, n)
		}
	}
	u.wantMembers(gid, ids, want...)
}

// What only Active Directory does, on Samba: sAMAccountName, derived from
// a user's userName and a group's displayName, follows renames; a clash of
// the derived name is named as such; the domain's password policy is said
// in its own words.
func TestActiveDirectoryNames(t *testing.T) {
	u := newSambaEnv(t, false)
	sam := func(base, id string) string {
		u.t.Helper()
		e := u.entryBelow(base, id)
		if e == nil {
			t.Fatalf("no entry for %s", id)
		}
		return e.GetAttributeValue("sAMAccountName")
	}
	uid, _ := u.create(`{"userName":"dave@example.org"}`)
	gid := u.createGroup(`{"displayName":"Sales: EMEA"}`)
	if got, got2 := sam(u.dir.PeopleDN, uid), sam(u.dir.GroupsDN, gid); got != "dave" || got2 != "Sales_ EMEA" {
		t.Errorf("sAMAccountName %q and %q, want dave and Sales_ EMEA", got, got2)
	}
	u.send("PATCH", "/Users/"+uid, patchBody(`{"op":"replace","path":"userName","value":"david@example.org"}`))
	u.send("PATCH", "/Groups/"+gid, patchBody(`{"op":"replace","path":"displayName","value":"Sales APAC"}`))
	if got, got2 := sam(u.dir.PeopleDN, uid), sam(u.dir.GroupsDN, gid); got != "david" || got2 != "Sales APAC" {
		t.Errorf("after renames, sAMAccountName %q and %q, want david and Sales APAC", got, got2)
	}
	u.refuseAll(t, []refusal{
		{"a userName alike before the @", "POST", "/Users", `{"userName":"david@other.org"}`, 409, "uniqueness",
			"sAMAccountName (derived from userName) is already taken"},
		{"a short password", "POST", "/Users", `{"userName":"pat@example.org","password":"x"}`, 400, "invalidValue",
			"password policy refused the password: check_password_restrictions: the password is too short"},
		{"a short password by PATCH", "PATCH", "/Users/" + uid, patchBody(`{"op":"replace","path":"password","value":"x"}`), 400, "invalidValue",
			"password policy refused the password"},
	})
}
