package gateway

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/gateway/auth/authtest"
	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/directory"
	"github.com/scimgate/scimgate/test/slapd"
)

// /Me maps the token's subject to a user and acts on that user with the
// rights me.methods gives, whatever the token's own scopes.
func TestMe(t *testing.T) {
	dir := slapd.New(t, slapd.Options{ScimgateSchema: true, PPolicy: true, ServiceAccount: true})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	as := authtest.New(t)
	gateway := func(me MeConfig) string { return meGateway(t, dir, as, me) }
	token := func(sub string) string {
		// A user's token: no users scopes at all.
		return as.JWT(map[string]any{"sub": sub, "exp": time.Now().Add(time.Hour).Unix(), "scope": "openid profile"})
	}
	readOnly := gateway(MeConfig{Claim: "sub", Attribute: "userName"})
	patchable := gateway(MeConfig{Claim: "sub", Attribute: "userName", Methods: []string{"GET", "PATCH"}, Scope: "profile"})
	off := gateway(MeConfig{})
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"Countess"}]}`

	r := do(t, "GET", readOnly+"/Me", token("alovelace"), "", "")
	if r.status != 200 || r.body["userName"] != "alovelace" || !strings.HasPrefix(r.header.Get("Location"), readOnly+"/Users/") {
		t.Fatalf("GET /Me: %d %q %s", r.status, r.header.Get("Location"), r.raw)
	}
	if r := do(t, "GET", readOnly+"/Me?attributes=userName", token("alovelace"), "", ""); r.status != 200 || r.body["title"] != nil {
		t.Errorf("GET /Me?attributes=userName: %d %s", r.status, r.raw)
	}
	if r := do(t, "GET", readOnly+"/Users", token("alovelace"), "", ""); r.status != 403 {
		t.Errorf("the same token on /Users: %d, want 403 (it holds no users scope)", r.status)
	}
	wantSCIMError(t, do(t, "PATCH", readOnly+"/Me", token("alovelace"), contentTypeSCIM, patch), 403, "")
	wantSCIMError(t, do(t, "GET", readOnly+"/Me", token("nobody"), "", ""), 404, "")
	wantSCIMError(t, do(t, "GET", readOnly+"/Me", as.JWT(map[string]any{"exp": time.Now().Add(time.Hour).Unix()}), "", ""), 404, "")
	wantSCIMError(t, do(t, "POST", readOnly+"/Me", token("alovelace"), contentTypeSCIM, `{"userName":"x"}`), 501, "")
	wantSCIMError(t, do(t, "GET", off+"/Me", token("alovelace"), "", ""), 501, "")
	wantSCIMError(t, do(t, "GET", readOnly+"/Me", "", "", ""), 401, "")

	if r := do(t, "PATCH", patchable+"/Me", token("alovelace"), contentTypeSCIM, patch); r.status != 200 || r.body["title"] != "Countess" {
		t.Fatalf("PATCH /Me: %d %s", r.status, r.raw)
	}
	if r := do(t, "GET", patchable+"/Me", token("aturing"), "", ""); r.body["title"] == "Countess" {
		t.Error("another user's /Me shows the change")
	}
	wantSCIMError(t, do(t, "DELETE", patchable+"/Me", token("alovelace"), "", ""), 403, "")
}

// Through /Me a user cannot change what decides what the account may do: a
// deactivated user once lifted its own lock with PATCH active:true or a
// PUT without active, then set a password and bound to LDAP, and could
// rename itself. An inactive user gets 403 on every /Me method; active,
// userName (me.attribute), roles, entitlements, password and the
// enterprise extension are read-only (403 naming the attribute, nothing
// written) unless me.writable lists them; a PUT that leaves them out keeps
// them.
func TestMeReadOnly(t *testing.T) {
	dir := slapd.New(t, slapd.Options{ScimgateSchema: true, PPolicy: true, ServiceAccount: true})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	as := authtest.New(t)
	gateway := func(me MeConfig) string { return meGateway(t, dir, as, me) }
	methods := []string{"GET", "PUT", "PATCH", "DELETE"}
	me := gateway(MeConfig{Claim: "sub", Attribute: "userName", Methods: methods, Scope: "profile"})
	withPassword := gateway(MeConfig{Claim: "sub", Attribute: "userName", Methods: methods, Scope: "profile", Writable: []string{"password"}})
	exp := time.Now().Add(time.Hour).Unix()
	admin := as.JWT(map[string]any{"sub": "admin", "exp": exp, "scope": strings.Join(auth.JanssenScopes.All(), " ")})
	user := as.JWT(map[string]any{"sub": "alovelace", "exp": exp, "scope": "openid profile"})

	r := do(t, "GET", me+`/Users?filter=userName%20eq%20%22alovelace%22`, admin, "", "")
	id := resources(r)[0]["id"].(string)
	if r := do(t, "PATCH", me+"/Users/"+id, admin, contentTypeSCIM, patchBody(patchOp("add", "roles", []any{map[string]any{"value": "auditor"}}))); r.status != 200 {
		t.Fatalf("give a role: %d %s", r.status, r.raw)
	}
	entry := func() map[string][]string { return readEntry(t, dir, "uid=alovelace,"+dir.PeopleDN) }
	before := entry()

	for _, tt := range []struct{ name, method, body, attr string }{
		{"rename", "PATCH", patchBody(patchOp("replace", "userName", "mallory")), "userName"},
		{"rename to another case", "PATCH", patchBody(patchOp("replace", "userName", "ALovelace")), "userName"},
		{"rename without a path", "PATCH", patchBody(patchOp("replace", "", map[string]any{"userName": "mallory"})), "userName"},
		{"deactivate", "PATCH", patchBody(patchOp("replace", "active", false)), "active"},
		{"add a role", "PATCH", patchBody(patchOp("add", "roles", []any{map[string]any{"value": "admin"}})), "roles"},
		{"remove the roles", "PATCH", patchBody(patchOp("remove", "roles", nil)), "roles"},
		{"add an entitlement", "PATCH", patchBody(patchOp("add", "entitlements", []any{map[string]any{"value": "vpn"}})), "entitlements"},
		{"employee number", "PATCH", patchBody(patchOp("replace", schema.EnterpriseUserURN+":employeeNumber", "1")), schema.EnterpriseUserURN},
		{"password", "PATCH", patchBody(patchOp("replace", "password", "N3w-passw0rd!")), "password"},
		{"PUT renames", "PUT", `{"schemas":["` + schema.UserURN + `"],"userName":"mallory"}`, "userName"},
		{"PUT changes the roles", "PUT", `{"schemas":["` + schema.UserURN + `"],"userName":"alovelace","roles":[{"value":"admin"}]}`, "roles"},
		{"PUT sets a password", "PUT", `{"schemas":["` + schema.UserURN + `"],"userName":"alovelace","password":"N3w-passw0rd!"}`, "password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, me+"/Me", user, contentTypeSCIM, tt.body)
			wantSCIMError(t, r, 403, "")
			if d, _ := r.body["detail"].(string); !strings.HasPrefix(d, tt.attr+" ") {
				t.Errorf("detail %q does not name %s", d, tt.attr)
			}
			if after := entry(); !maps.EqualFunc(before, after, slices.Equal) {
				t.Errorf("the entry changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}

	// What may change does; a PUT leaving the read-only attributes out keeps them.
	put := `{"schemas":["` + schema.UserURN + `"],"userName":"alovelace","title":"Countess","name":{"familyName":"Lovelace"}}`
	if r := do(t, "PUT", me+"/Me", user, contentTypeSCIM, put); r.status != 200 || r.body["title"] != "Countess" {
		t.Fatalf("PUT /Me: %d %s", r.status, r.raw)
	}
	after := entry()
	for _, attr := range []string{"uid", "scimRole", "employeeNumber"} {
		if !slices.Equal(after[attr], before[attr]) {
			t.Errorf("%s: %v after the PUT, want %v", attr, after[attr], before[attr])
		}
	}
	if len(after["pwdAccountLockedTime"]) != 0 {
		t.Error("the PUT locked the account")
	}
	if r := do(t, "PATCH", withPassword+"/Me", user, contentTypeSCIM, patchBody(patchOp("replace", "password", "N3w-passw0rd!"))); r.status != 200 {
		t.Errorf("password with me.writable: [password]: %d %s", r.status, r.raw)
	}

	// Inactive: nothing, not even a read.
	if r := do(t, "PATCH", me+"/Users/"+id, admin, contentTypeSCIM, patchBody(patchOp("replace", "active", false))); r.status != 200 {
		t.Fatalf("deactivate: %d %s", r.status, r.raw)
	}
	locked := entry()
	if len(locked["pwdAccountLockedTime"]) == 0 {
		t.Fatal("deactivating did not lock the account")
	}
	for _, req := range []struct{ method, body string }{
		{"GET", ""},
		{"PATCH", patchBody(patchOp("replace", "active", true))},
		{"PATCH", patchBody(patchOp("remove", "active", nil))},
		{"PUT", put},
		{"DELETE", ""},
	} {
		wantSCIMError(t, do(t, req.method, withPassword+"/Me", user, contentTypeSCIM, req.body), 403, "")
	}
	if now := entry(); !maps.EqualFunc(locked, now, slices.Equal) {
		t.Errorf("an inactive user changed its entry:\nbefore %v\nafter  %v", locked, now)
	}
}

// Writes through /Me need tokens meant for this gateway: start refuses
// write methods with neither auth.audience nor me.scope.
func TestMeWritesNeedAudienceOrScope(t *testing.T) {
	ac := auth.DefaultConfig()
	ac.Issuer = "https://as.example.org"
	for _, tt := range []struct {
		name     string
		me       MeConfig
		audience string
		ok       bool
	}{
		{"read only", MeConfig{Claim: "sub", Attribute: "userName", Methods: []string{"GET"}}, "", true},
		{"writes, nothing", MeConfig{Claim: "sub", Attribute: "userName", Methods: []string{"GET", "PATCH"}}, "", false},
		{"writes, scope", MeConfig{Claim: "sub", Attribute: "userName", Methods: []string{"PUT"}, Scope: "profile"}, "", true},
		{"writes, audience", MeConfig{Claim: "sub", Attribute: "userName", Methods: []string{"DELETE"}}, "scimgate", true},
		{"writable that is writable anyway", MeConfig{Claim: "sub", Attribute: "userName", Scope: "x", Writable: []string{"title"}}, "", false},
		{"writable me.attribute", MeConfig{Claim: "sub", Attribute: "emails.value", Scope: "x", Writable: []string{"emails", "password"}}, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := ac
			a.Audience = tt.audience
			err := tt.me.Validate(a)
			if (err == nil) != tt.ok {
				t.Errorf("Validate = %v, want ok %v", err, tt.ok)
			}
			if !tt.ok && err != nil && !strings.HasPrefix(err.Error(), "me.") {
				t.Errorf("the error does not name its key: %v", err)
			}
		})
	}
}

// patchOp is one PATCH operation, for patchBody (no path when path is "",
// no value when value is nil).
func patchOp(op, path string, value any) string {
	o := map[string]any{"op": op}
	if path != "" {
		o["path"] = path
	}
	if value != nil {
		o["value"] = value
	}
	return string(mustJSON(o))
}

// readEntry reads an entry's user attributes straight from the directory.
func readEntry(t *testing.T, ds directory.Server, dn string) map[string][]string {
	t.Helper()
	dir := ds.Directory()
	c, err := dir.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"*", "pwdAccountLockedTime"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v", dn, err)
	}
	out := map[string][]string{}
	for _, a := range res.Entries[0].Attributes {
		out[a.Name] = a.Values
	}
	return out
}

// meGateway serves a gateway over dir whose tokens as issues, with /Me as
// me says, and returns its base URL.
func meGateway(t *testing.T, ds directory.Server, as *authtest.Server, me MeConfig) string {
	t.Helper()
	dir := ds.Directory()
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{}, func(o *Options) {
		o.Auth = auth.DefaultConfig()
		o.Auth.Issuer = as.URL
		o.Me = me
	})
	return hs.URL + "/scim/v2"
}
