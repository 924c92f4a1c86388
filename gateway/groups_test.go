package gateway

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/slapd"
)

// memberDNs are the member values of a group's entry, lower-cased.
func (u *userEnv) memberDNs(groupID string) []string {
	u.t.Helper()
	e := u.groupEntry(groupID)
	if e == nil {
		u.t.Fatalf("group %s has no entry", groupID)
	}
	var out []string
	for _, v := range e.GetAttributeValues("member") {
		out = append(out, strings.ToLower(v))
	}
	slices.Sort(out)
	return out
}

func (u *userEnv) userDN(userName string) string {
	return "uid=" + userName + "," + strings.ToLower(u.dir.PeopleDN)
}

func (u *userEnv) createGroup(body string) string {
	u.t.Helper()
	r := u.send("POST", "/Groups", body)
	if r.status != 201 {
		u.t.Fatalf("create group: %d %s", r.status, r.raw)
	}
	return r.body["id"].(string)
}

func memberValues(r response) []string {
	var out []string
	list, _ := r.body["members"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	slices.Sort(out)
	return out
}

func sorted(xs ...string) []string { slices.Sort(xs); return xs }

// Group writes over HTTP, in every form real clients send, checked in the
// directory.
func TestGroupWrites(t *testing.T) {
	u := newUserEnv(t)
	ada, alan, barbara := u.idOf("alovelace"), u.idOf("ahopper"), u.idOf("bhamilton")
	placeholder := strings.ToLower(schema.DefaultMemberPlaceholder)

	// Created empty (as Entra and Okta do): the placeholder keeps the entry valid, unseen.
	g := u.createGroup(`{"displayName":"Pilots","externalId":"okta-1","members":[]}`)
	if got := u.memberDNs(g); !slices.Equal(got, []string{placeholder}) {
		t.Errorf("empty group's members in the directory: %q", got)
	}
	r := u.send("GET", "/Groups/"+g, "")
	if len(memberValues(r)) != 0 || r.body["externalId"] != "okta-1" {
		t.Errorf("empty group: %s", r.raw)
	}
	if n := total(u.list(`/Groups?filter=` + urlQuery(`displayName eq "Pilots" and members pr`))); n != 0 {
		t.Errorf("members pr matched the placeholder")
	}

	// Entra's add, with $ref null: 204, the placeholder gone.
	r = u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+ada+`"},{"value":"`+alan+`"}]}]}`)
	if r.status != 204 || r.raw != "" {
		t.Fatalf("add members: %d %s", r.status, r.raw)
	}
	if got := u.memberDNs(g); !slices.Equal(got, sorted(u.userDN("alovelace"), u.userDN("ahopper"))) {
		t.Errorf("after add: %q", got)
	}
	// The users' groups follow at once.
	if gs := u.send("GET", "/Users/"+ada+"?attributes=groups", "").body["groups"].([]any); !slices.ContainsFunc(gs, func(x any) bool { return x.(map[string]any)["value"] == g }) {
		t.Errorf("alovelace's groups lack Pilots: %v", gs)
	}
	// Adding again is no error; nor is removing an absent member.
	r = u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+ada+`"}]},{"op":"remove","path":"members[value eq \"`+barbara+`\"]"}]}`)
	if r.status != 204 {
		t.Fatalf("idempotent add and absent remove: %d %s", r.status, r.raw)
	}
	// Okta's remove by filter, Entra's by value array.
	u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+alan+`\"]"}]}`)
	if got := u.memberDNs(g); !slices.Equal(got, []string{u.userDN("alovelace")}) {
		t.Errorf("after Okta's remove: %q", got)
	}
	u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"value":"`+ada+`"}]}]}`)
	if got := u.memberDNs(g); !slices.Equal(got, []string{placeholder}) {
		t.Errorf("after removing the last member: %q", got)
	}
	// Mixed: rename, a path-less value with Okta's unchanged id, members added.
	r = u.send("PATCH", "/Groups/"+g+"?attributes=displayName,members", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"`+g+`","displayName":"Aviators"}},{"op":"add","path":"members","value":[{"value":"`+barbara+`"}]}]}`)
	if r.status != 200 || r.body["displayName"] != "Aviators" || !slices.Equal(memberValues(r), []string{barbara}) {
		t.Fatalf("mixed PATCH with attributes: %d %s", r.status, r.raw)
	}
	// Replace the whole list: only the difference is written.
	u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members","value":[{"value":"`+ada+`"},{"value":"`+alan+`"}]}]}`)
	if got := u.memberDNs(g); !slices.Equal(got, sorted(u.userDN("alovelace"), u.userDN("ahopper"))) {
		t.Errorf("after replace: %q", got)
	}
	// Remove all.
	u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members"}]}`)
	if got := u.memberDNs(g); !slices.Equal(got, []string{placeholder}) {
		t.Errorf("after remove all: %q", got)
	}
	// PUT sets the members given, and a nested group is a member too.
	other := u.createGroup(`{"displayName":"Crew"}`)
	r = u.send("PUT", "/Groups/"+g, `{"displayName":"Aviators","members":[{"value":"`+barbara+`"},{"value":"`+other+`","type":"Group"}]}`)
	if r.status != 200 || !slices.Equal(memberValues(r), sorted(barbara, other)) || r.body["externalId"] != nil {
		t.Fatalf("PUT: %d %s", r.status, r.raw)
	}
	for _, m := range r.body["members"].([]any) {
		el := m.(map[string]any)
		if el["value"] == other && (el["type"] != "Group" || el["display"] != "Crew" || !strings.HasSuffix(el["$ref"].(string), "/Groups/"+other)) {
			t.Errorf("nested group member: %v", el)
		}
	}

	// Unknown ids are named; nothing changes.
	r = u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+ada+`"},{"value":"no-such-id"}]}]}`)
	wantSCIMError(t, r, 400, "invalidValue")
	if !strings.Contains(r.body["detail"].(string), "no-such-id") || slices.Contains(u.memberDNs(g), u.userDN("alovelace")) {
		t.Errorf("unknown member: %s; members %q", r.raw, u.memberDNs(g))
	}
	wantSCIMError(t, u.send("POST", "/Groups", `{"displayName":"Ghosts","members":[{"value":"nobody"}]}`), 400, "invalidValue")
	wantSCIMError(t, u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[display eq \"x\"]"}]}`), 400, "invalidFilter")
	// displayName is unique.
	wantSCIMError(t, u.send("POST", "/Groups", `{"displayName":"Crew"}`), 409, "uniqueness")
	wantSCIMError(t, u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Crew"}]}`), 409, "uniqueness")
	// If-Match holds member changes too.
	r = u.send("GET", "/Groups/"+g, "")
	stale := r.header.Get("ETag")
	u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+ada+`"}]}]}`)
	wantSCIMError(t, u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+alan+`"}]}]}`, "If-Match", stale), 412, "")

	// Deleting a member user takes it out of the group (the directory's
	// referential integrity).
	if r := u.send("DELETE", "/Users/"+ada, ""); r.status != 204 {
		t.Fatalf("delete user: %d", r.status)
	}
	// slapd's refint overlay works after the delete is answered: wait for it.
	if !eventually(func() bool { return !slices.Contains(u.memberDNs(g), u.userDN("alovelace")) }) {
		t.Error("a deleted user is still a member")
	}
	// Deleting a group's only member leaves the placeholder (refint_nothing).
	solo := u.createGroup(`{"displayName":"Solo","members":[{"value":"` + alan + `"}]}`)
	if r := u.send("DELETE", "/Users/"+alan, ""); r.status != 204 {
		t.Fatalf("delete user: %d", r.status)
	}
	if !eventually(func() bool { return slices.Equal(u.memberDNs(solo), []string{placeholder}) }) {
		t.Errorf("group whose only member was deleted: %q", u.memberDNs(solo))
	}
	if r := u.send("GET", "/Groups/"+solo, ""); len(memberValues(r)) != 0 {
		t.Errorf("group whose only member was deleted: %s", r.raw)
	}
	// Deleting a group leaves no memberOf behind on its members.
	if r := u.send("DELETE", "/Groups/"+g, ""); r.status != 204 || r.header.Get("Content-Type") != "" {
		t.Fatalf("delete group: %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	gone := func() bool {
		for _, v := range u.entry(barbara).GetAttributeValues("memberOf") {
			if strings.HasPrefix(strings.ToLower(v), "cn=aviators,") {
				return false
			}
		}
		return true
	}
	if !eventually(gone) {
		t.Errorf("bhamilton's memberOf still names the deleted group: %q", u.entry(barbara).GetAttributeValues("memberOf"))
	}
}

// Concurrent member additions and removals never undo each other.
func TestConcurrentMemberChanges(t *testing.T) {
	u := newUserEnv(t)
	const clients, each = 10, 20
	var b strings.Builder
	for i := range clients * each {
		fmt.Fprintf(&b, "dn: uid=m%d,%s\nobjectClass: inetOrgPerson\nuid: m%d\ncn: M %d\nsn: M\n\n", i, u.dir.PeopleDN, i, i)
	}
	if err := u.dir.AddLDIF(context.Background(), b.String()); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, clients*each)
	for _, res := range resources(u.list(`/Users?count=200&attributes=userName&filter=` + urlQuery(`name.familyName eq "M"`))) {
		var i int
		fmt.Sscanf(res["userName"].(string), "m%d", &i)
		ids[i] = res["id"].(string)
	}
	if slices.Contains(ids, "") {
		t.Fatalf("not every member was found: %q", ids)
	}
	g := u.createGroup(`{"displayName":"Crowd","members":[{"value":"` + u.idOf("alovelace") + `"}]}`)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c * each; i < (c+1)*each; i++ {
				r := u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+ids[i]+`"}]}]}`)
				if r.status != 204 {
					t.Errorf("add %d: %d %s", i, r.status, r.raw)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // removes a member the others do not touch, meanwhile
		defer wg.Done()
		r := u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+u.idOf("alovelace")+`\"]"}]}`)
		if r.status != 204 {
			t.Errorf("remove: %d %s", r.status, r.raw)
		}
	}()
	wg.Wait()
	var want []string
	for i := range clients * each {
		want = append(want, u.userDN(fmt.Sprintf("m%d", i)))
	}
	slices.Sort(want)
	if got := u.memberDNs(g); !slices.Equal(got, want) {
		t.Errorf("members after %d concurrent additions and one removal:\n got %q\nwant %q", clients*each, got, want)
	}
}

// Members without display names: asked for, or with Janssen's
// Group-Overhead-Bypass.
func TestMemberDisplayNames(t *testing.T) {
	u := newUserEnv(t)
	g := u.idOf("alovelace")
	id := u.createGroup(`{"displayName":"Readers","members":[{"value":"` + g + `"}]}`)
	display := func(r response) any {
		list, _ := r.body["members"].([]any)
		if len(list) != 1 {
			t.Fatalf("members: %s", r.raw)
		}
		return list[0].(map[string]any)["display"]
	}
	if d := display(u.send("GET", "/Groups/"+id, "")); d != "Ada Lovelace" {
		t.Errorf("display = %v", d)
	}
	for _, r := range []response{
		u.send("GET", "/Groups/"+id+"?excludedAttributes=members.display", ""),
		u.send("GET", "/Groups/"+id+"?attributes=members.value", ""),
		u.send("GET", "/Groups/"+id+"?Group-Overhead-Bypass=true", ""),
		u.send("GET", "/Groups/"+id, "", "Group-Overhead-Bypass", "1"),
	} {
		if d := display(r); d != nil {
			t.Errorf("display = %v in %s", d, r.raw)
		}
	}
	r := u.list("/Groups?filter=" + urlQuery(`displayName eq "Readers"`) + "&Group-Overhead-Bypass=1")
	if m := resources(r)[0]["members"].([]any)[0].(map[string]any); m["display"] != nil || m["value"] != g {
		t.Errorf("listed with the bypass: %v", m)
	}
}

// eventually reports whether cond holds within five seconds, for what the
// directory does in the background (slapd's refint overlay).
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// A group larger than a batch is written as it is read, and whole: by a
// GET, and by a PATCH answered with the group (groups.patch_response: 200).
func TestLargeGroupIsStreamed(t *testing.T) {
	u := newUserEnvWith(t, ldapstore.Options{}, func(o *Options) { o.Groups.PatchResponse = http.StatusOK })
	const n = 1234 // three batches
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "dn: uid=big%d,%s\nobjectClass: inetOrgPerson\nuid: big%d\ncn: Big %d\nsn: Big\n\n", i, u.dir.PeopleDN, i, i)
	}
	fmt.Fprintf(&b, "dn: cn=big,%s\nobjectClass: groupOfNames\ncn: big\n", u.dir.GroupsDN)
	for i := range n {
		fmt.Fprintf(&b, "member: uid=big%d,%s\n", i, u.dir.PeopleDN)
	}
	if err := u.dir.AddLDIF(context.Background(), b.String()); err != nil {
		t.Fatal(err)
	}
	id := resources(u.list(`/Groups?excludedAttributes=members&filter=` + urlQuery(`displayName eq "big"`)))[0]["id"].(string)
	r := u.send("GET", "/Groups/"+id, "")
	if r.status != 200 || r.header.Get("Content-Type") != contentTypeSCIM || r.header.Get("ETag") == "" {
		t.Fatalf("GET: %d %v", r.status, r.header)
	}
	list := r.body["members"].([]any)
	seen := map[string]bool{}
	for _, m := range list {
		el := m.(map[string]any)
		if el["type"] != "User" || !strings.HasPrefix(el["display"].(string), "Big ") || !strings.HasSuffix(el["$ref"].(string), "/Users/"+el["value"].(string)) {
			t.Fatalf("member %v", el)
		}
		seen[el["value"].(string)] = true
	}
	if len(list) != n || len(seen) != n || r.body["displayName"] != "big" || r.body["meta"] == nil {
		t.Errorf("%d members (%d distinct), want %d; %v", len(list), len(seen), n, r.body["displayName"])
	}
	// The same through the projection, and a conditional GET.
	r = u.send("GET", "/Groups/"+id+"?attributes=members.value", "")
	if list := r.body["members"].([]any); len(list) != n || len(list[0].(map[string]any)) != 1 || r.body["displayName"] != nil {
		t.Errorf("attributes=members.value: %d members, first %v", len(list), list[0])
	}
	if r := u.send("GET", "/Groups/"+id, "", "If-None-Match", u.send("GET", "/Groups/"+id, "").header.Get("ETag")); r.status != 304 || r.header.Get("Content-Type") != "" {
		t.Errorf("If-None-Match: %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	wantSCIMError(t, u.send("GET", "/Groups/no-such-group", ""), 404, "")

	// A PATCH answers the group as the GET after it does.
	p := u.send("PATCH", "/Groups/"+id, patchBody(`{"op":"replace","path":"displayName","value":"bigger"}`))
	g := u.send("GET", "/Groups/"+id, "")
	if p.status != 200 || p.header.Get("Content-Type") != contentTypeSCIM || p.header.Get("ETag") != g.header.Get("ETag") || p.body["displayName"] != "bigger" {
		t.Fatalf("PATCH: %d %v, %v; the GET's ETag %s", p.status, p.header, p.body["displayName"], g.header.Get("ETag"))
	}
	if len(p.body["members"].([]any)) != n || !reflect.DeepEqual(p.body, g.body) {
		t.Errorf("the PATCH's group (%d members) is not the GET's", len(p.body["members"].([]any)))
	}
}

// How a PATCH is answered, as configured (users.patch_response,
// groups.patch_response): 204 with the new ETag and neither body nor
// Content-Type, or 200 with the resource and its ETag; with attributes or
// excludedAttributes always 200 with what they ask. The ETag is the one a
// GET then gives. Directly and through /Bulk, whose result holds the
// status and the version.
func TestPatchResponses(t *testing.T) {
	for _, cfg := range []struct{ users, groups int }{{0, 0}, {204, 200}} {
		t.Run(fmt.Sprintf("users %d groups %d", cfg.users, cfg.groups), func(t *testing.T) {
			u := newUserEnvWith(t, ldapstore.Options{}, func(o *Options) {
				o.Users.PatchResponse, o.Groups.PatchResponse = cfg.users, cfg.groups
			})
			ada := u.idOf("alovelace")
			g := u.createGroup(`{"displayName":"Responders"}`)
			users, groups := cmp.Or(cfg.users, 200), cmp.Or(cfg.groups, 204)
			const user, group = `{"op":"replace","path":"title","value":"T%d"}`,
				`{"op":"replace","path":"displayName","value":"Responders %d"},{"op":"add","path":"members","value":[{"value":"ADA"}]}`
			tests := []struct {
				name, path, ops string
				header          []string
				want            int
				check           func(t *testing.T, b map[string]any)
			}{
				{name: "user", path: "/Users/" + ada, ops: user, want: users,
					check: func(t *testing.T, b map[string]any) { eq(t, b["userName"], "alovelace") }},
				{name: "user with attributes", path: "/Users/" + ada + "?attributes=title", ops: user, want: 200,
					check: func(t *testing.T, b map[string]any) { eq(t, b["userName"], nil) }},
				{name: "group", path: "/Groups/" + g, ops: group, want: groups,
					check: func(t *testing.T, b map[string]any) {
						eq(t, b["members"], []any{map[string]any{"value": ada, "display": "Ada Lovelace", "type": "User", "$ref": u.base + "/Users/" + ada}})
					}},
				{name: "group, Group-Overhead-Bypass", path: "/Groups/" + g, ops: group, header: []string{"Group-Overhead-Bypass", "1"}, want: groups,
					check: func(t *testing.T, b map[string]any) {
						eq(t, b["members"], []any{map[string]any{"value": ada, "type": "User", "$ref": u.base + "/Users/" + ada}})
					}},
				{name: "group with attributes", path: "/Groups/" + g + "?attributes=displayName", ops: group, want: 200,
					check: func(t *testing.T, b map[string]any) { eq(t, b["members"], nil) }},
				{name: "group with excludedAttributes", path: "/Groups/" + g + "?excludedAttributes=members", ops: group, want: 200,
					check: func(t *testing.T, b map[string]any) { eq(t, b["members"], nil) }},
			}
			n := 0
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					n++
					resource, _, _ := strings.Cut(tt.path, "?")
					before := u.send("GET", resource, "").header.Get("ETag")
					ops := strings.ReplaceAll(fmt.Sprintf(tt.ops, n), "ADA", ada)
					r := u.send("PATCH", tt.path, patchBody(ops), tt.header...)
					after := u.send("GET", resource, "").header.Get("ETag")
					if r.status != tt.want || r.header.Get("ETag") != after || after == before {
						t.Fatalf("%d, ETag %q (before %q, a GET after %q), want %d: %s", r.status, r.header.Get("ETag"), before, after, tt.want, r.raw)
					}
					if r.status == 204 {
						if r.raw != "" || r.header.Get("Content-Type") != "" {
							t.Errorf("204 with Content-Type %q and body %q", r.header.Get("Content-Type"), r.raw)
						}
						return
					}
					if r.header.Get("Content-Type") != contentTypeSCIM || r.body["id"] != path.Base(resource) {
						t.Errorf("200 with Content-Type %q: %s", r.header.Get("Content-Type"), r.raw)
					}
					tt.check(t, r.body)
				})
			}
			// Through /Bulk: the same status, the ETag as the version.
			for i, res := range []struct{ path, ops string }{{"/Users/" + ada, user}, {"/Groups/" + g, group}} {
				ops := strings.ReplaceAll(fmt.Sprintf(res.ops, 100+i), "ADA", ada)
				_, results := u.bulk(testToken, 0, `{"method":"PATCH","path":"`+res.path+`","data":`+patchBody(ops)+`}`)
				want := strconv.Itoa([]int{users, groups}[i])
				if etag := u.send("GET", res.path, "").header.Get("ETag"); len(results) != 1 || results[0]["status"] != want || results[0]["version"] != etag {
					t.Errorf("bulk PATCH of %s: %v, want status %s and version %s", res.path, results, want, etag)
				}
			}
		})
	}
}

// groupOfUniqueNames groups, configured: members in uniqueMember, users'
// groups found by searching (the memberof overlay here keeps only
// groupOfNames), the placeholder for empty groups.
func TestUniqueMemberGroups(t *testing.T) {
	u := newGroupModelEnv(t, schema.GroupMappingConfig{MappingConfig: schema.MappingConfig{ObjectClasses: []string{"groupOfUniqueNames"}}, Members: "uniqueMember"})
	ada, alan := u.idOf("alovelace"), u.idOf("ahopper")
	g := u.createGroup(`{"displayName":"Unique","members":[{"value":"` + ada + `"}]}`)
	e := u.groupEntry(g)
	if oc := e.GetAttributeValues("objectClass"); !slices.Contains(oc, "groupOfUniqueNames") {
		t.Fatalf("objectClass %q", oc)
	}
	wantAttr(t, e, "uniqueMember", "uid=alovelace,"+u.dir.PeopleDN)
	u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+alan+`"}]},{"op":"remove","path":"members[value eq \"`+ada+`\"]"}]}`)
	wantAttr(t, u.groupEntry(g), "uniqueMember", "uid=ahopper,"+u.dir.PeopleDN)
	if gs, _ := u.send("GET", "/Users/"+alan+"?attributes=groups", "").body["groups"].([]any); len(gs) != 1 || gs[0].(map[string]any)["value"] != g {
		t.Errorf("ahopper's groups: %v", gs)
	}
	if r := u.send("GET", "/Groups/"+g, ""); !slices.Equal(memberValues(r), []string{alan}) {
		t.Errorf("members: %s", r.raw)
	}
	u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members"}]}`)
	wantAttr(t, u.groupEntry(g), "uniqueMember", schema.DefaultMemberPlaceholder)
	if n := total(u.list(`/Groups?filter=` + urlQuery(`members[value eq "`+alan+`"]`))); n != 0 {
		t.Errorf("filter on a removed member: %d", n)
	}
}

// posixGroup groups, configured: memberUid holds the users' uid, not DNs;
// users' groups are found by searching for their uid.
func TestPosixGroups(t *testing.T) {
	u := newGroupModelEnv(t, schema.GroupMappingConfig{Members: "memberUid", MemberValue: "uid",
		MappingConfig: schema.MappingConfig{ObjectClasses: []string{"posixGroup"}, CreateAttributes: map[string][]string{"gidNumber": {"10000"}}}})
	ada, alan := u.idOf("alovelace"), u.idOf("ahopper")
	g := u.createGroup(`{"displayName":"staff","members":[{"value":"` + ada + `"},{"value":"` + alan + `"}]}`)
	wantAttr(t, u.groupEntry(g), "memberUid", "alovelace", "ahopper")
	r := u.send("GET", "/Groups/"+g, "")
	if !slices.Equal(memberValues(r), sorted(ada, alan)) {
		t.Errorf("members: %s", r.raw)
	}
	if gs, _ := u.send("GET", "/Users/"+ada+"?attributes=groups", "").body["groups"].([]any); len(gs) != 1 || gs[0].(map[string]any)["value"] != g {
		t.Errorf("alovelace's groups: %v", gs)
	}
	if n := total(u.list(`/Groups?filter=` + urlQuery(`members[value eq "`+alan+`"]`))); n != 1 {
		t.Errorf("groups with ahopper: %d", n)
	}
	r = u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+ada+`\"]"},{"op":"remove","path":"members[value eq \"`+ada+`\"]"}]}`)
	if r.status != 204 {
		t.Fatalf("remove: %d %s", r.status, r.raw)
	}
	wantAttr(t, u.groupEntry(g), "memberUid", "ahopper")
	u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members"}]}`)
	wantAttr(t, u.groupEntry(g), "memberUid") // posixGroup may be empty: no placeholder
	other := u.createGroup(`{"displayName":"other"}`)
	wantSCIMError(t, u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+other+`"}]}]}`), 400, "invalidValue")
}

// newGroupModelEnv serves the demo directory with groups mapped as given
// and users' groups found by searching the groups (the memberof overlay of
// the harness keeps memberOf for groupOfNames only).
func newGroupModelEnv(t *testing.T, groups schema.GroupMappingConfig) *userEnv {
	t.Helper()
	return newUserEnvWith(t, ldapstore.Options{
		Users:  ldapstore.UsersConfig{UserMappingConfig: schema.UserMappingConfig{MemberOf: "none"}},
		Groups: ldapstore.GroupsConfig{GroupMappingConfig: groups},
	})
}

// Where the directory does not take deleted members out of groups (no
// refint), groups.remove_deleted_members has the gateway do it.
func TestGatewayRemovesDeletedMembers(t *testing.T) {
	dir := slapd.New(t, slapd.Options{ScimgateSchema: true, PPolicy: true, ServiceAccount: true, NoRefint: true})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{
		Groups: ldapstore.GroupsConfig{GroupMappingConfig: schema.GroupMappingConfig{RemoveDeletedMembers: true}},
	})
	u := &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/scim/v2"}
	ada, alan := u.idOf("alovelace"), u.idOf("ahopper")
	both := u.createGroup(`{"displayName":"Both","members":[{"value":"` + ada + `"},{"value":"` + alan + `"}]}`)
	solo := u.createGroup(`{"displayName":"Solo","members":[{"value":"` + ada + `"}]}`)
	outer := u.createGroup(`{"displayName":"Outer","members":[{"value":"` + solo + `"},{"value":"` + alan + `"}]}`)
	if r := u.send("DELETE", "/Users/"+ada, ""); r.status != 204 {
		t.Fatalf("delete user: %d %s", r.status, r.raw)
	}
	if got := u.memberDNs(both); !slices.Equal(got, []string{u.userDN("ahopper")}) {
		t.Errorf("Both after deleting alovelace: %q", got)
	}
	if got := u.memberDNs(solo); !slices.Equal(got, []string{strings.ToLower(schema.DefaultMemberPlaceholder)}) {
		t.Errorf("Solo after deleting its only member: %q", got)
	}
	if r := u.send("DELETE", "/Groups/"+solo, ""); r.status != 204 {
		t.Fatalf("delete group: %d %s", r.status, r.raw)
	}
	if got := u.memberDNs(outer); !slices.Equal(got, []string{u.userDN("ahopper")}) {
		t.Errorf("Outer after deleting its member group: %q", got)
	}
}

// A member added while it is being deleted does not dangle: after the
// requests, every member value of every group names an entry, and the
// members' memberOf (the overlay's, or the gateway's in the janssen
// profile) lists exactly the groups that list them. Each case runs 50
// additions, each concurrent with the deletion of the member it adds.
func TestMemberAddedWhileDeletedDoesNotDangle(t *testing.T) {
	const pairs = 50
	const patchAdd = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"%s"}]}]}`
	envs := []struct {
		name string
		env  func(t *testing.T) *userEnv
	}{
		{"openldap", newUserEnv},
		{"janssen", func(t *testing.T) *userEnv { return newJanssenEnv(t) }},
	}
	// Each case adds member i to a group (returned) while member i,
	// created by newMember, is deleted through deletePath.
	cases := []struct {
		name       string
		memberType string // what is added: "Users" or "Groups"
		add        func(u *userEnv, keeper string, i int, member string) (group string)
	}{
		{"PATCH adds a user", "Users", func(u *userEnv, _ string, _ int, member string) string {
			return u.sendGroupChange("PATCH", "Shared", fmt.Sprintf(patchAdd, member))
		}},
		{"PATCH adds a group", "Groups", func(u *userEnv, _ string, _ int, member string) string {
			return u.sendGroupChange("PATCH", "Shared", fmt.Sprintf(patchAdd, member))
		}},
		{"POST with members", "Users", func(u *userEnv, keeper string, i int, member string) string {
			r := u.send("POST", "/Groups", fmt.Sprintf(`{"displayName":"Posted %d","members":[{"value":"%s"},{"value":"%s"}]}`, i, keeper, member))
			if r.status == 400 { // the member was gone before the request looked it up
				return ""
			}
			if r.status != 201 {
				u.t.Errorf("POST: %d %s", r.status, r.raw)
				return ""
			}
			return r.body["id"].(string)
		}},
		{"PUT with members", "Users", func(u *userEnv, keeper string, i int, member string) string {
			return u.sendGroupChange("PUT", fmt.Sprintf("Put %d", i), fmt.Sprintf(`{"displayName":"Put %d","members":[{"value":"%s"},{"value":"%s"}]}`, i, keeper, member))
		}},
	}
	for _, e := range envs {
		for _, tt := range cases {
			t.Run(e.name+"/"+tt.name, func(t *testing.T) {
				u := e.env(t)
				keeper, _ := u.create(`{"userName":"keeper"}`)
				u.createGroup(`{"displayName":"Shared","members":[{"value":"` + keeper + `"}]}`)
				members := make([]string, pairs)
				for i := range pairs {
					if tt.memberType == "Users" {
						members[i], _ = u.create(fmt.Sprintf(`{"userName":"doomed%d"}`, i))
					} else {
						members[i] = u.createGroup(fmt.Sprintf(`{"displayName":"Doomed %d"}`, i))
					}
					if strings.HasPrefix(tt.name, "PUT") {
						u.createGroup(fmt.Sprintf(`{"displayName":"Put %d"}`, i))
					}
				}
				groups := []string{u.groupID("Shared")}
				var mu sync.Mutex
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i, m := range members {
					wg.Add(2)
					go func() {
						defer wg.Done()
						<-start
						if g := tt.add(u, keeper, i, m); g != "" {
							mu.Lock()
							groups = append(groups, g)
							mu.Unlock()
						}
					}()
					go func() {
						defer wg.Done()
						<-start
						if r := u.send("DELETE", "/"+tt.memberType+"/"+m, ""); r.status != 204 {
							t.Errorf("DELETE %s: %d %s", m, r.status, r.raw)
						}
					}()
				}
				close(start)
				wg.Wait()
				slices.Sort(groups)
				groups = slices.Compact(groups)
				u.wantOnlyMember(groups, keeper)
			})
		}
	}
}

// sendGroupChange sends a PATCH or PUT that adds a member to the group
// named displayName and returns its id, or "" when the member was gone
// before the request looked it up (400).
func (u *userEnv) sendGroupChange(method, displayName, body string) string {
	u.t.Helper()
	id := u.groupID(displayName)
	r := u.send(method, "/Groups/"+id, body)
	switch {
	case r.status == 400 && strings.Contains(r.raw, "no user or group has the id"):
		return ""
	case r.status != 204 && r.status != 200:
		u.t.Errorf("%s %s: %d %s", method, displayName, r.status, r.raw)
	}
	return id
}

// groupID is the id of the group named displayName.
func (u *userEnv) groupID(displayName string) string {
	u.t.Helper()
	list := resources(u.list(`/Groups?attributes=id&filter=` + urlQuery(`displayName eq "`+displayName+`"`)))
	if len(list) != 1 {
		u.t.Fatalf("group %q: %d found", displayName, len(list))
	}
	return list[0]["id"].(string)
}

// wantOnlyMember checks in the directory that each group's members are
// exactly the user keeper (the placeholder aside), that every member value
// names an entry, and that keeper's memberOf lists exactly these groups
// (with groups others may have left there). The directory's referential
// integrity works in the background: it is waited for.
func (u *userEnv) wantOnlyMember(groups []string, keeper string) {
	u.t.Helper()
	keeperDN := strings.ToLower(u.entry(keeper).DN)
	placeholder := strings.ToLower(schema.DefaultMemberPlaceholder)
	members := func(g string) []string {
		return slices.DeleteFunc(u.memberDNs(g), func(dn string) bool { return dn == placeholder })
	}
	eventually(func() bool {
		for _, g := range groups {
			if !slices.Equal(members(g), []string{keeperDN}) {
				return false
			}
		}
		return true
	})
	var groupDNs []string
	for _, g := range groups {
		groupDNs = append(groupDNs, strings.ToLower(u.groupEntry(g).DN))
		got := members(g)
		if !slices.Equal(got, []string{keeperDN}) {
			u.t.Errorf("group %s: members %q, want only %s", g, got, keeperDN)
		}
		for _, dn := range got {
			if !u.exists(dn) {
				u.t.Errorf("group %s: member %s names no entry", g, dn)
			}
		}
	}
	slices.Sort(groupDNs)
	var memberOf []string
	for _, dn := range u.entry(keeper).GetEqualFoldAttributeValues("memberOf") {
		if dn = strings.ToLower(dn); slices.Contains(groupDNs, dn) {
			memberOf = append(memberOf, dn)
		} else if !u.exists(dn) {
			u.t.Errorf("keeper's memberOf %s names no entry", dn)
		}
	}
	slices.Sort(memberOf)
	if !slices.Equal(memberOf, groupDNs) {
		u.t.Errorf("keeper's memberOf %q, want %q", memberOf, groupDNs)
	}
}

// exists reports whether the directory has an entry of that DN.
func (u *userEnv) exists(dn string) bool {
	u.t.Helper()
	c, err := u.dir.Dial()
	if err != nil {
		u.t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return false
	}
	if err != nil {
		u.t.Fatal(err)
	}
	return true
}

// An empty group has no "members" (unassigned, RFC 7643 section 2.5), not
// an empty list; a user without extension attributes lists only the core
// schema in "schemas" (RFC 7643 section 3), with or without a projection.
func TestUnassignedIsOmitted(t *testing.T) {
	u := newUserEnv(t)
	g := u.createGroup(`{"displayName":"Nobody"}`)
	for _, path := range []string{"/Groups/" + g, "/Groups?filter=" + urlQuery(`displayName eq "Nobody"`)} {
		r := u.send("GET", path, "")
		doc := r.body
		if list, ok := r.body["Resources"].([]any); ok && len(list) == 1 {
			doc = list[0].(map[string]any)
		}
		if _, has := doc["members"]; has || r.status != 200 {
			t.Errorf("GET %s: %d %s, want no members", path, r.status, r.raw)
		}
	}
	id, created := u.create(`{"userName":"plain","title":"T"}`)
	for _, r := range []response{created, u.send("GET", "/Users/"+id, ""), u.send("GET", "/Users/"+id+"?attributes=title", ""),
		resourceOf(u.list("/Users?filter=" + urlQuery(`userName eq "plain"`)))} {
		if got := fmt.Sprint(r.body["schemas"]); got != "[urn:ietf:params:scim:schemas:core:2.0:User]" {
			t.Errorf("schemas = %s, want the core schema alone", got)
		}
	}
	with := u.send("GET", "/Users/"+u.idOf("alovelace"), "") // employeeNumber
	if got := fmt.Sprint(with.body["schemas"]); got != "[urn:ietf:params:scim:schemas:core:2.0:User urn:ietf:params:scim:schemas:extension:enterprise:2.0:User]" {
		t.Errorf("schemas of a user with an employee number = %s", got)
	}
}

// resourceOf is a list response's only resource as a response of its own.
func resourceOf(list response) response {
	rs := resources(list)
	if len(rs) != 1 {
		return response{}
	}
	return response{status: list.status, body: rs[0]}
}
