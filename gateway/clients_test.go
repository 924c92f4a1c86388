package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/schema"
)

// Each step below is a request as Okta or Microsoft Entra ID sends it (see
// "What real provisioning clients send" in the project's shared notes),
// followed by a look at the directory.

func TestOktaUserLifeCycle(t *testing.T) {
	u := newUserEnv(t)
	// Existence check, with the user name in another case than stored later.
	r := u.send("GET", "/Users?filter="+urlQuery(`userName eq "Isaac.Brock@Example.com"`)+"&startIndex=1&count=100", "")
	if r.status != 200 || r.body["totalResults"] != 0.0 {
		t.Fatalf("existence check: %s", r.raw)
	}
	// Create: password, groups: [], active, locale, externalId.
	id, created := u.create(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"isaac.brock@example.com",
		"name":{"givenName":"Isaac","familyName":"Brock"},"emails":[{"primary":true,"value":"isaac.brock@example.com","type":"work"}],
		"displayName":"Isaac Brock","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`)
	e := u.entry(id)
	wantAttr(t, e, "scimExternalId", "00ujl29u0le5T6Aj10h7")
	wantAttr(t, e, "scimLocale", "en-US")
	if !u.binds(e.DN, "1mz050nq") {
		t.Error("the password Okta sent does not bind")
	}
	r = u.send("GET", "/Users?filter="+urlQuery(`userName eq "ISAAC.BROCK@EXAMPLE.COM"`)+"&startIndex=1&count=100", "")
	if r.body["totalResults"] != 1.0 {
		t.Errorf("userName matching is not case-insensitive: %s", r.raw)
	}
	wantSCIMError(t, u.send("POST", "/Users", `{"userName":"Isaac.Brock@example.com","name":{"givenName":"I","familyName":"B"}}`), 409, "uniqueness")

	// Custom apps update with PUT: the whole object, as read, changed.
	var full map[string]any
	json.Unmarshal([]byte(u.send("GET", "/Users/"+id, "").raw), &full)
	full["title"] = "Lead"
	full["active"] = false
	body, _ := json.Marshal(full)
	if r := u.send("PUT", "/Users/"+id, string(body)); r.status != 200 || r.body["active"] != false {
		t.Fatalf("PUT: %s", r.raw)
	}
	e = u.entry(id)
	wantAttr(t, e, "title", "Lead")
	wantAttr(t, e, "pwdAccountLockedTime", "000001010000Z")
	if u.binds(e.DN, "1mz050nq") {
		t.Error("a user Okta deactivated can still bind")
	}
	// Catalog apps deactivate and reactivate with a path-less PATCH.
	r = u.send("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}`)
	if r.status != 200 {
		t.Fatalf("reactivate: %s", r.raw)
	}
	wantAttr(t, u.entry(id), "pwdAccountLockedTime")
	if r.body["id"] != id || created.body["id"] != id {
		t.Error("the id changed")
	}
}

func TestEntraUserLifeCycle(t *testing.T) {
	u := newUserEnv(t)
	manager := u.idOf("alovelace")
	for _, f := range []string{`userName eq "alice@contoso.com"`, `externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`} {
		if r := u.send("GET", "/Users?filter="+urlQuery(f), ""); r.status != 200 || r.body["totalResults"] != 0.0 {
			t.Fatalf("%s: %s", f, r.raw)
		}
	}
	// Create, with the manager as a plain string and a string boolean.
	id, _ := u.create(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"alice@contoso.com","active":"True","displayName":"Alice",
		"emails":[{"primary":true,"type":"work","value":"alice@contoso.com"}],"name":{"familyName":"Smith","givenName":"Alice"},
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1234","department":"Sales","manager":"` + manager + `"}}`)
	e := u.entry(id)
	wantAttr(t, e, "manager", "uid=alovelace,"+u.dir.PeopleDN)
	wantAttr(t, e, "employeeNumber", "1234")
	r := u.send("GET", "/Users?filter="+urlQuery(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), "")
	if r.body["totalResults"] != 1.0 {
		t.Fatalf("by externalId: %s", r.raw)
	}
	// Soft delete: Entra disables, then still reads the user.
	r = u.send("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	if r.status != 200 {
		t.Fatalf("disable: %s", r.raw)
	}
	if r := u.send("GET", "/Users/"+id+"?excludedAttributes=members", ""); r.status != 200 || r.body["active"] != false {
		t.Errorf("a disabled user must still be returned: %s", r.raw)
	}
	if r := u.send("GET", "/Users?filter="+urlQuery(`userName eq "alice@contoso.com"`), ""); r.body["totalResults"] != 1.0 {
		t.Errorf("a disabled user must still be found: %s", r.raw)
	}
	// No nulls in any response.
	if strings.Contains(u.send("GET", "/Users/"+id, "").raw, "null") {
		t.Error("a response holds null")
	}
	// The manager, read back, is the id with its display name.
	mgr := u.send("GET", "/Users/"+id, "").body[schema.EnterpriseUserURN].(map[string]any)["manager"].(map[string]any)
	if mgr["value"] != manager || mgr["displayName"] != "Ada Lovelace" {
		t.Errorf("manager = %v", mgr)
	}
}
