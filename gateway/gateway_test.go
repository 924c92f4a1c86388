package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/directory"
	"github.com/scimgate/scimgate/test/slapd"
)

const testToken = "test-token-with-every-scope"

func tokenConfig(name, token string, scopes ...string) auth.StaticToken {
	sum := sha256.Sum256([]byte(token))
	return auth.StaticToken{Name: name, SHA256: hex.EncodeToString(sum[:]), Scopes: scopes}
}

// newTestGateway serves a gateway over dir with static tokens: testToken
// with every scope, "reader-token" with users.read only, "bulk-only-token"
// with the bulk scope only, "searcher-token" with all-resources.search and
// users.read.
func newTestGateway(t *testing.T, ds directory.Server) *httptest.Server {
	t.Helper()
	dir := ds.Directory()
	// Warnings and errors go to the test's log, shown when it fails.
	return newLoggedGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
}

func newLoggedGateway(t *testing.T, ds directory.Server, log *zap.Logger) *httptest.Server {
	t.Helper()
	dir := ds.Directory()
	return newGateway(t, dir, log, ldapstore.Options{})
}

// newGateway serves a gateway over dir with the given store options; an
// empty profile means openldap, empty base DNs the directory's units.
func newGateway(t testing.TB, ds directory.Server, log *zap.Logger, opts ldapstore.Options, mods ...func(*Options)) *httptest.Server {
	t.Helper()
	dir := ds.Directory()
	_, hs := newGatewayServer(t, dir, log, opts, mods...)
	return hs
}

// newGatewayServer is newGateway, also returning the Server.
func newGatewayServer(t testing.TB, ds directory.Server, log *zap.Logger, opts ldapstore.Options, mods ...func(*Options)) (*Server, *httptest.Server) {
	t.Helper()
	dir := ds.Directory()
	return newGatewayServerURLs(t, dir, []string{dir.URL}, log, opts, mods...)
}

// newGatewayServerURLs is newGatewayServer with the directory at urls, in
// order of preference (dir gives the credentials and base DNs).
func newGatewayServerURLs(t testing.TB, ds directory.Server, urls []string, log *zap.Logger, opts ldapstore.Options, mods ...func(*Options)) (*Server, *httptest.Server) {
	t.Helper()
	dir := ds.Directory()
	bindDN, bindPW := dir.BindAccount() // the service account, as a deployment binds
	pool, err := ldapstore.Open(ldapstore.Config{URLs: urls, BindDN: bindDN, BindPassword: bindPW, CAFile: dir.CAFile, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Close() })
	if opts.Profile.Name == "" {
		opts.Profile, _ = schema.Preset("openldap")
	}
	if opts.Users.BaseDN == "" {
		opts.Users.BaseDN = dir.PeopleDN
	}
	if opts.Groups.BaseDN == "" {
		opts.Groups.BaseDN = dir.GroupsDN
	}
	store, err := ldapstore.NewStore(pool, opts)
	if err != nil {
		t.Fatal(err)
	}
	// As serve does: the order indexes, where the directory streams changes.
	runCtx, stopRun := context.WithCancel(context.Background())
	t.Cleanup(stopRun)
	go store.Run(runCtx)
	cfg := DefaultServerConfig()
	cfg.MaxBodyBytes = 4096
	ac := auth.DefaultConfig()
	ac.Mode = auth.ModeToken
	ac.Tokens = []auth.StaticToken{
		tokenConfig("all", testToken, auth.JanssenScopes.All()...),
		tokenConfig("reader", "reader-token", auth.JanssenScopes.UsersRead),
		tokenConfig("bulk-only", "bulk-only-token", auth.JanssenScopes.Bulk),
		tokenConfig("searcher", "searcher-token", auth.JanssenScopes.AllResourcesSearch, auth.JanssenScopes.UsersRead),
	}
	if err := ac.Validate(); err != nil {
		t.Fatal(err)
	}
	o := Options{Server: cfg, Auth: ac, Store: store, Logger: log}
	for _, mod := range mods {
		mod(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return srv, hs
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, method, url, token, contentType, body string) response {
	t.Helper()
	header := http.Header{}
	if token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		header.Set("Content-Type", contentType)
	}
	return doWith(t, method, url, header, body)
}

// doWith is do with the request's headers as given.
func doWith(t *testing.T, method, url string, header http.Header, body string) response {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %q", method, url, raw)
		}
	}
	return r
}

// postChunked POSTs body with the all-scopes token and no Content-Length
// (chunked), and returns the status.
func postChunked(t *testing.T, url, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", url, io.MultiReader(strings.NewReader(body)))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", contentTypeSCIM)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if req.ContentLength != 0 {
		t.Fatalf("the request has a Content-Length (%d)", req.ContentLength)
	}
	return res.StatusCode
}

// wantSCIMError checks that r is a SCIM error with the given status.
func wantSCIMError(t *testing.T, r response, status int, scimType string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != contentTypeSCIM {
		t.Errorf("Content-Type %q, want %s", ct, contentTypeSCIM)
	}
	schemas, _ := r.body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || r.body["status"] != strconv.Itoa(status) {
		t.Errorf("not a SCIM error body with status %q: %s", strconv.Itoa(status), r.raw)
	}
	if got, _ := r.body["scimType"].(string); got != scimType {
		t.Errorf("scimType %q, want %q", got, scimType)
	}
}

func TestErrorsAreSCIMErrors(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newTestGateway(t, dir)
	base := hs.URL + "/scim/v2"
	big := `{"userName":"` + strings.Repeat("x", 5000) + `"}`
	tests := []struct {
		name                string
		method, path, token string
		contentType, body   string
		status              int
		scimType            string
		header, headerValue string
		detail              string // what the detail must say
	}{
		{name: "unknown path", method: "GET", path: "/nope", status: 404},
		{name: "unknown path outside the base", method: "GET", path: "/../nope", status: 404},
		{name: "method not allowed", method: "DELETE", path: "/Users", token: testToken, status: 405, header: "Allow"},
		{name: "no token", method: "GET", path: "/Users", status: 401, header: "WWW-Authenticate", headerValue: `Bearer realm="scimgate"`},
		{name: "bad token", method: "GET", path: "/Users", token: "nope", status: 401, header: "WWW-Authenticate", headerValue: `Bearer realm="scimgate", error="invalid_token", error_description="the token is unknown"`},
		{name: "missing scope", method: "POST", path: "/Users", token: "reader-token", contentType: contentTypeSCIM, body: `{}`, status: 403,
			header: "WWW-Authenticate", headerValue: `Bearer realm="scimgate", error="insufficient_scope", scope="https://jans.io/scim/users.write"`},
		{name: "body too large", method: "POST", path: "/Users", token: testToken, contentType: contentTypeSCIM, body: big, status: 413},
		{name: "form body", method: "POST", path: "/Users", token: testToken, contentType: "application/x-www-form-urlencoded", body: "a=b", status: 415},
		{name: "malformed JSON", method: "POST", path: "/Users", token: testToken, contentType: contentTypeSCIM, body: `{"userName":`, status: 400, scimType: "invalidSyntax"},
		{name: "wrong type", method: "POST", path: "/Users", token: testToken, contentType: "application/json", body: `{"userName":42}`, status: 400, scimType: "invalidValue"},
		{name: "no userName", method: "POST", path: "/Users", token: testToken, contentType: contentTypeSCIM, body: `{"displayName":"x"}`, status: 400, scimType: "invalidValue",
			detail: "userName is required"},
		{name: "a null userName", method: "PUT", path: "/Users/2b4f4a4e-0000-0000-0000-000000000000", token: testToken, contentType: contentTypeSCIM,
			body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"UserName":null}`, status: 400, scimType: "invalidValue", detail: "userName is required"},
		{name: "no displayName", method: "POST", path: "/Groups", token: testToken, contentType: contentTypeSCIM, body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"members":[]}`,
			status: 400, scimType: "invalidValue", detail: "displayName is required"},
		{name: "PATCH without schemas", method: "PATCH", path: "/Users/2b4f4a4e-0000-0000-0000-000000000000", token: testToken, contentType: contentTypeSCIM,
			body: `{"Operations":[{"op":"replace","path":"title","value":"x"}]}`, status: 400, scimType: "invalidSyntax", detail: "urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		{name: "PATCH with another schema", method: "PATCH", path: "/Groups/2b4f4a4e-0000-0000-0000-000000000000", token: testToken, contentType: contentTypeSCIM,
			body: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"Operations":[{"op":"replace","path":"displayName","value":"x"}]}`, status: 400, scimType: "invalidSyntax"},
		{name: "unmapped filter attribute", method: "GET", path: "/Users?filter=" + urlQuery(`title eq "x" and userType eq "y"`), token: testToken, status: 400, scimType: "invalidFilter"},
		{name: "unknown id", method: "GET", path: "/Users/2b4f4a4e-0000-0000-0000-000000000000", token: testToken, status: 404},
		{name: "not an id", method: "DELETE", path: "/Users/*", token: testToken, status: 404},
		{name: "PUT of an unknown id", method: "PUT", path: "/Users/2b4f4a4e-0000-0000-0000-000000000000", token: testToken, contentType: contentTypeSCIM, body: `{"userName":"x"}`, status: 404},
		{name: "bulk without its schema", method: "POST", path: "/Bulk", token: testToken, contentType: contentTypeSCIM, body: `{}`, status: 400, scimType: "invalidSyntax"},
		{name: "unknown schema", method: "GET", path: "/Schemas/urn:nope", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token
			r := do(t, tt.method, base+tt.path, token, tt.contentType, tt.body)
			wantSCIMError(t, r, tt.status, tt.scimType)
			if tt.header != "" && (r.header.Get(tt.header) == "" || tt.headerValue != "" && r.header.Get(tt.header) != tt.headerValue) {
				t.Errorf("%s: %q, want %q", tt.header, r.header.Get(tt.header), tt.headerValue)
			}
			if detail, _ := r.body["detail"].(string); !strings.Contains(detail, tt.detail) {
				t.Errorf("detail %q does not say %q", detail, tt.detail)
			}
		})
	}
}

// urlQuery escapes a query parameter's value as clients do (spaces as
// %20, which Okta and Entra send).
func urlQuery(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func TestDiscoveryIsTruthful(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newTestGateway(t, dir)
	base := hs.URL + "/scim/v2"

	spc := do(t, "GET", base+"/ServiceProviderConfig", "", "", "")
	if spc.status != 200 || spc.header.Get("Content-Type") != contentTypeSCIM {
		t.Fatalf("ServiceProviderConfig: %d %s", spc.status, spc.header.Get("Content-Type"))
	}
	for feature, want := range map[string]bool{"patch": true, "etag": true, "changePassword": true, "bulk": true, "sort": true} {
		if spc.body[feature].(map[string]any)["supported"] != want {
			t.Errorf("%s.supported is not %v", feature, want)
		}
	}
	if b := spc.body["bulk"].(map[string]any); b["maxOperations"] != 30.0 || b["maxPayloadSize"] != 3072000.0 {
		t.Errorf("bulk = %v, want Janssen's limits, as configured by default", b)
	}
	if f := spc.body["filter"].(map[string]any); f["supported"] != true || f["maxResults"] != 200.0 {
		t.Errorf("filter = %v", f)
	}
	if p := spc.body["pagination"].(map[string]any); p["cursor"] != true || p["index"] != true || p["maxPageSize"] != 200.0 ||
		p["defaultPageSize"] != 200.0 || p["cursorTimeout"] != 3600.0 || p["defaultPaginationMethod"] != "index" {
		t.Errorf("pagination = %v", p)
	}
	if spc.body["meta"].(map[string]any)["location"] != base+"/ServiceProviderConfig" {
		t.Errorf("meta = %v", spc.body["meta"])
	}

	schemas := do(t, "GET", base+"/Schemas", "", "", "")
	var ids []string
	for _, s := range schemas.body["Resources"].([]any) {
		ids = append(ids, s.(map[string]any)["id"].(string))
	}
	if strings.Join(ids, " ") != schema.UserURN+" "+schema.GroupURN+" "+schema.EnterpriseUserURN {
		t.Errorf("schemas = %v", ids)
	}
	// This directory has neither scimgate's schema nor ppolicy: no
	// nickName, no active; the password is set by the extended operation.
	user := do(t, "GET", base+"/Schemas/"+schema.UserURN, "", "", "")
	advertised := map[string]bool{}
	for _, a := range user.body["attributes"].([]any) {
		advertised[a.(map[string]any)["name"].(string)] = true
	}
	for name, want := range map[string]bool{"userName": true, "password": true, "groups": true, "nickName": false, "active": false, "id": false, "externalId": false} {
		if advertised[name] != want {
			t.Errorf("User schema advertises %s: %v, want %v", name, advertised[name], want)
		}
	}
	rts := do(t, "GET", base+"/ResourceTypes", "", "", "")
	if rts.body["totalResults"] != 2.0 {
		t.Errorf("resource types: %s", rts.raw)
	}
	u := do(t, "GET", base+"/ResourceTypes/User", "", "", "")
	if u.body["endpoint"] != "/Users" || len(u.body["schemaExtensions"].([]any)) != 1 {
		t.Errorf("User resource type: %s", u.raw)
	}
}

func TestUserLifeCycleOverHTTP(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newTestGateway(t, dir)
	base := hs.URL + "/scim/v2"

	created := do(t, "POST", base+"/Users", testToken, contentTypeSCIM, `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName": "bjensen@example.com",
		"name": {"givenName": "Barbara", "familyName": "Jensen"},
		"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
		"active": "True",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tours"}
	}`)
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.raw)
	}
	id, _ := created.body["id"].(string)
	loc := base + "/Users/" + id
	if created.header.Get("Location") != loc || created.body["meta"].(map[string]any)["location"] != loc {
		t.Errorf("Location %q, meta %v, want %s", created.header.Get("Location"), created.body["meta"], loc)
	}
	c, err := dir.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(dir.PeopleDN, ldap.ScopeSingleLevel, 0, 0, 0, false, "(entryUUID="+id+")", []string{"uid", "mail", "departmentNumber"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("entry of %s: %v %v", id, res, err)
	}
	if e := res.Entries[0]; e.GetAttributeValue("uid") != "bjensen@example.com" || e.GetAttributeValue("mail") != "bjensen@example.com" || e.GetAttributeValue("departmentNumber") != "Tours" {
		t.Errorf("entry = %+v", e.Attributes)
	}

	dup := do(t, "POST", base+"/Users", testToken, contentTypeSCIM, `{"userName":"BJENSEN@example.com"}`)
	wantSCIMError(t, dup, 409, "uniqueness")

	got := do(t, "GET", loc, "reader-token", "", "")
	if got.status != 200 || got.body["userName"] != "bjensen@example.com" {
		t.Fatalf("get: %d %s", got.status, got.raw)
	}
	list := do(t, "GET", base+"/Users?filter="+urlQuery(`userName eq "BJensen@Example.com"`), testToken, "", "")
	if list.body["totalResults"] != 1.0 || list.body["itemsPerPage"] != 1.0 {
		t.Fatalf("list: %s", list.raw)
	}
	first := list.body["Resources"].([]any)[0].(map[string]any)
	if first["meta"].(map[string]any)["location"] != loc {
		t.Errorf("listed meta = %v", first["meta"])
	}
	empty := do(t, "GET", base+"/Users?filter="+urlQuery(`userName eq "nobody"`), testToken, "", "")
	if empty.status != 200 || empty.body["totalResults"] != 0.0 || len(empty.body["Resources"].([]any)) != 0 {
		t.Errorf("no match: %s", empty.raw)
	}

	if del := do(t, "DELETE", loc, testToken, "", ""); del.status != 204 || del.raw != "" {
		t.Fatalf("delete: %d %q", del.status, del.raw)
	}
	wantSCIMError(t, do(t, "GET", loc, testToken, "", ""), 404, "")
	res, _ = c.Search(ldap.NewSearchRequest(dir.PeopleDN, ldap.ScopeSingleLevel, 0, 0, 0, false, "(uid=bjensen@example.com)", nil, nil))
	if len(res.Entries) != 0 {
		t.Error("the entry is still in the directory")
	}
}

func TestGroupsAndDirectoryOutage(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	hs := newTestGateway(t, dir)
	base := hs.URL + "/scim/v2"

	list := do(t, "GET", base+"/Groups?filter="+urlQuery(`displayName eq "Administrators"`), testToken, "", "")
	if list.status != 200 || list.body["totalResults"] != 1.0 {
		t.Fatalf("groups: %s", list.raw)
	}
	g := list.body["Resources"].([]any)[0].(map[string]any)
	members := g["members"].([]any)
	if len(members) != 3 {
		t.Fatalf("members = %v", members)
	}
	m := members[0].(map[string]any)
	if m["type"] != "User" || m["display"] == "" || m["$ref"] != base+"/Users/"+m["value"].(string) {
		t.Errorf("member = %v", m)
	}
	if got := do(t, "GET", m["$ref"].(string), testToken, "", ""); got.status != 200 {
		t.Errorf("member $ref: %d", got.status)
	}

	dir.Stop()
	r := do(t, "GET", base+"/Users", testToken, "", "")
	wantSCIMError(t, r, 503, "")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	wantSCIMError(t, do(t, "GET", hs.URL+"/readyz", "", "", ""), 503, "")
	if h := do(t, "GET", hs.URL+"/healthz", "", "", ""); h.status != 200 {
		t.Errorf("healthz: %d", h.status)
	}
}

func TestRequestEdges(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newTestGateway(t, dir)
	users := hs.URL + "/scim/v2/Users"

	t.Run("basic auth is not bearer", func(t *testing.T) {
		req, _ := http.NewRequest("GET", users, nil)
		req.SetBasicAuth("admin", "secret")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != realm {
			t.Errorf("%d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("chunked body over the limit", func(t *testing.T) {
		// No Content-Length: the limit is met while reading, where the SCIM
		// library would have ignored the error.
		if status := postChunked(t, users, `{"userName":"`+strings.Repeat("x", 8000)+`"}`); status != 413 {
			t.Errorf("status %d, want 413", status)
		}
	})
}

func TestAccessLogNeverHoldsATokenOrPassword(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	core, logs := observer.New(zap.DebugLevel)
	hs := newLoggedGateway(t, dir, zap.New(core))
	users := hs.URL + "/scim/v2/Users"

	do(t, "GET", users, testToken, "", "")
	do(t, "GET", users, "a-wrong-token", "", "")
	do(t, "POST", users, testToken, contentTypeSCIM, `{"userName":"logged","password":"hunter2-password"}`)
	dir.Stop()
	do(t, "GET", users, testToken, "", "") // a 503, logged with the LDAP error

	var requests int
	for _, e := range logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		text := e.Message + string(line)
		for _, secret := range []string{testToken, "a-wrong-token", "hunter2-password", dir.Password} {
			if strings.Contains(text, secret) {
				t.Errorf("log line holds %q: %s", secret, text)
			}
		}
		if e.Message == "request" {
			requests++
			for _, k := range []string{"method", "route", "status", "latency", "request_id"} {
				if _, ok := e.ContextMap()[k]; !ok {
					t.Errorf("access log line lacks %s: %s", k, text)
				}
			}
		}
	}
	if requests != 4 {
		t.Errorf("%d access log lines, want 4", requests)
	}
}

// Endpoint names in any case and a trailing slash route as clients mean
// them; ids are left as given, for the directory to compare (entryUUIDs
// compare without regard to case).
func TestLoosePaths(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newTestGateway(t, dir)
	for _, path := range []string{"/scim/v2/users", "/scim/v2/Users/", "/scim/v2/USERS/?count=1", "/scim/v2/serviceconfiguration", "/scim/v2/schemas/"} {
		if r := do(t, "GET", hs.URL+path, testToken, "", ""); r.status != 200 {
			t.Errorf("GET %s: %d %s", path, r.status, r.raw)
		}
	}
	created := do(t, "POST", hs.URL+"/scim/v2/users", testToken, contentTypeSCIM, `{"userName":"loose"}`)
	id, _ := created.body["id"].(string)
	if created.status != 201 || id != strings.ToLower(id) {
		t.Fatalf("POST /users: %d %s", created.status, created.raw)
	}
	if r := do(t, "GET", hs.URL+"/scim/v2/users/"+strings.ToUpper(id)+"/", testToken, "", ""); r.status != 200 || r.body["id"] != id {
		t.Errorf("GET /users/{id in upper case}/: %d %s", r.status, r.raw)
	}
}

// mustJSON is v as the gateway encodes responses.
func mustJSON(v any) []byte {
	b, err := appendJSON(make([]byte, 0, 2048), v)
	if err != nil {
		panic(err) // only maps and slices of JSON values are passed
	}
	return b
}
