package gateway

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/slapd"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// newJanssenEnv is a gateway with the janssen profile over a directory laid
// out like a Janssen Server's (o=jans, the Janssen test schema), on
// Janssen's base path, with users already there as Janssen wrote them.
func newJanssenEnv(t *testing.T, users ...schema.MappingConfig) *userEnv {
	t.Helper()
	dir := slapd.New(t, slapd.Options{Janssen: true, ServiceAccount: true})
	fixture := `dn: inum=0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e01,ou=people,o=jans
objectClass: jansPerson
objectClass: jansCustomPerson
inum: 0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e01
uid: admin
givenName: Admin
sn: User
displayName: Default Admin User
mail: admin@jans.example
jansStatus: active
memberOf: inum=60B7,ou=groups,o=jans

dn: inum=0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e02,ou=people,o=jans
objectClass: jansPerson
inum: 0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e02
uid: olduser
jansActive: FALSE

dn: inum=0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e03,ou=people,o=jans
objectClass: jansPerson
inum: 0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e03
uid: nostatus
jansMetaCreated: 2021-04-22T17:42:54.812Z
jansMetaLastMod: 20230101120000Z

dn: inum=0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e04,ou=people,o=jans
objectClass: jansPerson
objectClass: jansCustomPerson
inum: 0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e04
uid: jsonuser
jansStatus: active
mail: first@jans.example
mail: second@jans.example
jansEmail: {"value":"first@jans.example","display":null,"type":"work","primary":true}
jansEmail: {"value":"second@jans.example","type":"home","primary":false}
jansAddres: {"type":"work","streetAddress":"1 Main St","locality":"Austin","country":"United States","formatted":null}

dn: inum=60B7,ou=groups,o=jans
objectClass: jansGrp
inum: 60B7
displayName: Janssen Manager Group
member: inum=0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e01,ou=people,o=jans
`
	if err := dir.AddLDIF(context.Background(), fixture); err != nil {
		t.Fatal(err)
	}
	profile, err := schema.Preset("janssen")
	if err != nil {
		t.Fatal(err)
	}
	opts := ldapstore.Options{Profile: profile}
	if len(users) > 0 {
		opts.Users.MappingConfig = users[0]
	}
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), opts, func(o *Options) {
		o.Server.BasePath = "/jans-scim/restv1/v2"
	})
	return &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/jans-scim/restv1/v2"}
}

func TestJanssenProfile(t *testing.T) {
	u := newJanssenEnv(t)
	const admin = "0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e01"

	// Users Janssen wrote read as they are; active from either attribute,
	// and active when neither says otherwise.
	r := u.send("GET", "/Users/"+admin, "")
	if r.status != 200 || r.body["userName"] != "admin" || r.body["active"] != true || r.body["displayName"] != "Default Admin User" {
		t.Fatalf("the Janssen admin: %d %s", r.status, r.raw)
	}
	if r := u.send("GET", "/Users/0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e02", ""); r.body["active"] != false {
		t.Errorf("jansActive FALSE reads active %v", r.body["active"])
	}
	r = u.send("GET", "/Users/0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e03", "")
	if r.body["active"] != true {
		t.Errorf("no status reads active %v", r.body["active"])
	}
	if meta, _ := r.body["meta"].(map[string]any); meta["created"] != "2021-04-22T17:42:54Z" || meta["lastModified"] != "2023-01-01T12:00:00Z" {
		t.Errorf("meta from jansMetaCreated and jansMetaLastMod: %v", r.body["meta"])
	}
	if got := userNames(u.list(`/Users?filter=` + urlQuery(`active eq false`))); !slices.Equal(got, []string{"olduser"}) {
		t.Errorf("active eq false: %q", got)
	}

	// Create: the id is a new UUID, the inum naming the entry.
	id, created := u.create(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jdoe","externalId":"ext-7",
		"name":{"givenName":"John","familyName":"Doe","middleName":"Q","formatted":"John Q Doe"},"nickName":"Johnny","title":"Engineer",
		"userType":"Employee","locale":"en-US","timezone":"America/Chicago","emails":[{"value":"jdoe@jans.example","type":"work"}],"password":"s3cret-Passw0rd"}`)
	if !uuidPattern.MatchString(id) {
		t.Errorf("id %q is not a random UUID", id)
	}
	if created.body["active"] != true {
		t.Errorf("a user created without active is %v (Janssen stored it inactive; active is right)", created.body["active"])
	}
	e := u.entryBelow(u.dir.PeopleDN, id)
	if e.DN != "inum="+id+","+u.dir.PeopleDN {
		t.Errorf("DN %s", e.DN)
	}
	for attr, want := range map[string][]string{
		"objectClass": {"jansPerson", "jansCustomPerson"}, "inum": {id}, "uid": {"jdoe"}, "jansExtId": {"ext-7"},
		"middleName": {"Q"}, "jansNameFormatted": {"John Q Doe"}, "nickname": {"Johnny"}, "jansTitle": {"Engineer"},
		"jansUsrTyp": {"Employee"}, "locale": {"en-US"}, "zoneinfo": {"America/Chicago"}, "mail": {"jdoe@jans.example"},
		"jansStatus": {"active"}, "jansActive": {"TRUE"},
	} {
		if got := e.GetAttributeValues(attr); !slices.Equal(sorted(got...), sorted(want...)) {
			t.Errorf("%s = %q, want %q", attr, got, want)
		}
	}
	if c, m := e.GetAttributeValue("jansMetaCreated"), e.GetAttributeValue("jansMetaLastMod"); c == "" || m == "" {
		t.Errorf("jansMetaCreated %q, jansMetaLastMod %q: Janssen's times not written", c, m)
	}
	if !u.binds(e.DN, "s3cret-Passw0rd") {
		t.Error("the password does not bind")
	}

	// Deactivate: both attributes written.
	r = u.send("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)
	if r.status != 200 || r.body["active"] != false {
		t.Fatalf("deactivate: %d %s", r.status, r.raw)
	}
	createdAt := e.GetAttributeValue("jansMetaCreated")
	e = u.entryBelow(u.dir.PeopleDN, id)
	if e.GetAttributeValue("jansMetaCreated") != createdAt {
		t.Errorf("jansMetaCreated changed on a write: %q → %q", createdAt, e.GetAttributeValue("jansMetaCreated"))
	}
	if e.GetAttributeValue("jansStatus") != "inactive" || e.GetAttributeValue("jansActive") != "FALSE" {
		t.Errorf("deactivated: jansStatus %q, jansActive %q", e.GetAttributeValue("jansStatus"), e.GetAttributeValue("jansActive"))
	}

	// A new userName is a modify of uid; the DN (by inum) stays.
	r = u.send("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"userName","value":"john.doe"}]}`)
	if r.status != 200 || r.body["id"] != id {
		t.Fatalf("rename: %d %s", r.status, r.raw)
	}
	if e := u.entryBelow(u.dir.PeopleDN, id); e.DN != "inum="+id+","+u.dir.PeopleDN || e.GetAttributeValue("uid") != "john.doe" {
		t.Errorf("after the rename: %s uid=%s", e.DN, e.GetAttributeValue("uid"))
	}
	wantSCIMError(t, u.send("POST", "/Users", `{"userName":"ADMIN"}`), 409, "uniqueness")

	// Groups: inum ids too; members by DN; a user's groups found in the groups.
	g := u.createGroup(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineers","externalId":"grp-1",
		"members":[{"value":"` + id + `"},{"value":"` + admin + `"}]}`)
	if !uuidPattern.MatchString(g) {
		t.Errorf("group id %q is not a random UUID", g)
	}
	ge := u.entryBelow(u.dir.GroupsDN, g)
	if ge.DN != "inum="+g+","+u.dir.GroupsDN || ge.GetAttributeValue("jansExtId") != "grp-1" {
		t.Errorf("group entry %s %v", ge.DN, ge.Attributes)
	}
	if got := sorted(ge.GetAttributeValues("member")...); !slices.Equal(got, sorted("inum="+id+","+u.dir.PeopleDN, "inum="+admin+","+u.dir.PeopleDN)) {
		t.Errorf("member = %q", got)
	}
	r = u.send("GET", "/Groups/"+g+"?excludedAttributes=members.display", "")
	if got := sorted(memberValues(r)...); !slices.Equal(got, sorted(id, admin)) || strings.Contains(r.raw, `"display"`) {
		t.Errorf("members without display: %s", r.raw)
	}
	r = u.send("GET", "/Users/"+admin, "")
	groups, _ := r.body["groups"].([]any)
	if len(groups) != 2 {
		t.Errorf("the admin's groups: %v", r.body["groups"])
	}
	wantSCIMError(t, u.send("POST", "/Groups", `{"displayName":"engineers"}`), 409, "uniqueness")

	// memberOf, which Janssen's directory does not keep, kept by the gateway.
	memberOf := func(user string) []string {
		return sorted(u.entryBelow(u.dir.PeopleDN, user).GetAttributeValues("memberOf")...)
	}
	gdn := "inum=" + g + "," + u.dir.GroupsDN
	if got := memberOf(id); !slices.Equal(got, []string{gdn}) {
		t.Errorf("a new member's memberOf = %q", got)
	}
	if got := memberOf(admin); !slices.Equal(got, sorted(gdn, "inum=60B7,"+u.dir.GroupsDN)) {
		t.Errorf("the admin's memberOf = %q", got)
	}
	u.send("PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"`+id+`\"]"}]}`)
	if got := memberOf(id); len(got) != 0 {
		t.Errorf("a removed member's memberOf = %q", got)
	}
	if r := u.send("DELETE", "/Groups/"+g, ""); r.status != 204 {
		t.Errorf("delete group: %d", r.status)
	}
	if got := memberOf(admin); !slices.Equal(got, []string{"inum=60B7," + u.dir.GroupsDN}) {
		t.Errorf("the admin's memberOf after the group's deletion = %q", got)
	}
}

// Complex multi-valued attributes are JSON documents, one per value, as
// Janssen keeps them; those a client did not change keep their bytes.
func TestJanssenJSONValues(t *testing.T) {
	u := newJanssenEnv(t)
	const jsonUser = "0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e04"
	before := u.entryBelow(u.dir.PeopleDN, jsonUser)

	r := u.send("GET", "/Users/"+jsonUser, "")
	if path, ok := subset(map[string]any{
		"emails":    []any{map[string]any{"value": "first@jans.example", "type": "work", "primary": true}, map[string]any{"value": "second@jans.example", "type": "home"}},
		"addresses": []any{map[string]any{"streetAddress": "1 Main St", "country": "United States"}},
	}, any(r.body)); !ok || strings.Contains(r.raw, "null") {
		t.Fatalf("read at %s: %s", path, r.raw)
	}
	if n := total(u.list(`/Users?filter=` + urlQuery(`emails.value eq "second@jans.example"`))); n != 1 {
		t.Errorf("emails.value eq: %d, want 1 (through mail)", n)
	}

	// A change elsewhere leaves the JSON values as Janssen wrote them.
	u.send("PATCH", "/Users/"+jsonUser, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Dev"},
		{"op":"add","path":"phoneNumbers","value":[{"value":"+1 555 0100","type":"work"}]}]}`)
	after := u.entryBelow(u.dir.PeopleDN, jsonUser)
	for _, a := range []string{"jansEmail", "jansAddres"} {
		if !slices.Equal(before.GetAttributeValues(a), after.GetAttributeValues(a)) {
			t.Errorf("%s changed: %q → %q", a, before.GetAttributeValues(a), after.GetAttributeValues(a))
		}
	}
	if got := after.GetAttributeValues("jansPhoneValue"); len(got) != 1 || !strings.Contains(got[0], `"value":"+1 555 0100"`) {
		t.Errorf("jansPhoneValue = %q", got)
	}

	// Changing one e-mail rewrites that one; the other keeps its bytes; mail
	// follows, primary first.
	r = u.send("PATCH", "/Users/"+jsonUser, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","path":"emails[type eq \"home\"].value","value":"third@jans.example"}]}`)
	if r.status != 200 {
		t.Fatalf("PATCH emails: %d %s", r.status, r.raw)
	}
	after = u.entryBelow(u.dir.PeopleDN, jsonUser)
	emails := after.GetAttributeValues("jansEmail")
	if !slices.Contains(emails, `{"value":"first@jans.example","display":null,"type":"work","primary":true}`) || len(emails) != 2 ||
		!slices.ContainsFunc(emails, func(s string) bool { return strings.Contains(s, "third@jans.example") }) {
		t.Errorf("jansEmail = %q", emails)
	}
	if got := after.GetAttributeValues("mail"); !slices.Equal(got, []string{"first@jans.example", "third@jans.example"}) {
		t.Errorf("mail = %q", got)
	}

	// Filters on the JSON documents: narrowed in LDAP, checked exactly.
	for _, tt := range []struct {
		filter string
		want   int
	}{
		{`phoneNumbers.value eq "+1 555 0100"`, 1},
		{`phoneNumbers.value eq "+1 555"`, 0},                     // a substring of the JSON text, not the value
		{`phoneNumbers.value eq "work"`, 0},                       // in the JSON text, as the type
		{`addresses.locality eq "Aus"`, 0},                        // a prefix
		{`addresses[type eq "work" and locality eq "austin"]`, 1}, // caseExact false
		{`addresses[type eq "home"]`, 0},
		{`addresses.country co "United"`, 1},
		{`emails[type eq "home" and value eq "third@jans.example"]`, 1},
		{`not (addresses pr)`, 3},
		{`userName eq "jsonuser" and phoneNumbers pr`, 1},
		{`userName eq "admin" or phoneNumbers.type eq "work"`, 2},
	} {
		r := u.send("GET", "/Users?count=1&filter="+urlQuery(tt.filter), "")
		if r.status != 200 || total(r) != tt.want || len(resources(r)) != min(tt.want, 1) {
			t.Errorf("%s: %d, totalResults %d with %d resources, want %d: %.300s", tt.filter, r.status, total(r), len(resources(r)), tt.want, r.raw)
		}
	}
	wantSCIMError(t, u.send("GET", "/Users?filter="+urlQuery(`addresses.bogus eq "x"`), ""), 400, "invalidFilter")
	if r := u.searchBody("", map[string]any{"filter": `phoneNumbers.value eq "+1 555 0100" or displayName eq "Janssen Manager Group"`}); r.status != 200 || total(r) != 2 {
		t.Errorf("root .search on a JSON document and a group: %d %s", r.status, r.raw)
	}

	// An entry with mail and no jansEmail reads its e-mails from mail.
	r = u.send("GET", "/Users/0d5e0a9c-1b2c-4d3e-8f40-5a6b7c8d9e01", "")
	if path, ok := subset(map[string]any{"emails": []any{map[string]any{"value": "admin@jans.example"}}}, any(r.body)); !ok {
		t.Errorf("mail only, at %s: %s", path, r.raw)
	}
}

// The requests Janssen's documentation shows, answered in Janssen's shapes
// over its base path and scopes: the gluu user extension from configured
// attributes, Group-Overhead-Bypass, bulk with bulkId, root .search.
func TestJanssenFlavouredRequests(t *testing.T) {
	const gluu = "urn:ietf:params:scim:schemas:extension:gluu:2.0:User"
	u := newJanssenEnv(t, schema.MappingConfig{Extensions: []schema.ExtensionConfig{{
		URN: gluu, Name: "GluuUser",
		Attributes: []schema.ExtensionAttributeConfig{{Name: "employeeType", Type: "string", LDAP: "employeeType"}},
	}}})

	id, r := u.create(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + gluu + `"],"userName":"ext.user",
		"` + gluu + `":{"employeeType":"contractor"}}`)
	if ext, _ := r.body[gluu].(map[string]any); ext["employeeType"] != "contractor" {
		t.Errorf("the gluu extension: %s", r.raw)
	}
	if got := u.entryBelow(u.dir.PeopleDN, id).GetAttributeValue("employeeType"); got != "contractor" {
		t.Errorf("employeeType = %q", got)
	}
	if n := total(u.list(`/Users?filter=` + urlQuery(gluu+`:employeeType eq "contractor"`))); n != 1 {
		t.Errorf("filter on the extension: %d", n)
	}

	// Bulk with bulkId: a user and a group naming it.
	res, results := u.bulk(testToken, 0,
		`{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Bulk Jans","members":[{"value":"bulkId:u"}]}}`,
		`{"method":"POST","path":"/Users","bulkId":"u","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bulk.jans"}}`)
	if res.status != 200 || len(results) != 2 || results[1]["status"] != "201" {
		t.Fatalf("bulk: %s", res.raw)
	}
	group := results[1]["location"].(string)
	groupID := group[strings.LastIndexByte(group, '/')+1:]

	// Group-Overhead-Bypass: members without display, existence unchecked.
	r = u.send("GET", "/Groups/"+groupID, "", "Group-Overhead-Bypass", "true")
	if r.status != 200 || strings.Contains(r.raw, `"display"`) || len(memberValues(r)) != 1 {
		t.Errorf("Group-Overhead-Bypass: %s", r.raw)
	}

	// Root .search across Users and Groups.
	r = u.searchBody("", map[string]any{"filter": `displayName sw "Bulk" or userName eq "bulk.jans"`})
	if r.status != 200 || total(r) != 2 {
		t.Errorf("root .search: %d %s", r.status, r.raw)
	}
}

// In the janssen profile the gateway keeps memberOf on users; a group
// that is a member of a group has none, and adding one is no error (it
// once answered 400: the directory refused memberOf on the group).
func TestJanssenNestedGroup(t *testing.T) {
	u := newJanssenEnv(t)
	inner := u.createGroup(`{"displayName":"Inner"}`)
	outer := u.createGroup(`{"displayName":"Outer"}`)
	r := u.send("PATCH", "/Groups/"+outer, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+inner+`"}]}]}`)
	if r.status != 204 && r.status != 200 {
		t.Fatalf("add a group to a group: %d %s", r.status, r.raw)
	}
	if got := u.memberDNs(outer); len(got) != 1 || got[0] != strings.ToLower(u.groupEntry(inner).DN) {
		t.Errorf("members of Outer: %q, want Inner's DN", got)
	}
}
