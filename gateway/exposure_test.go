package gateway

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/slapd"
)

// Metrics name the directory's URLs: they are served on the admin listener
// only, never on the public one, whether admin_listen is set or not.
func TestNoMetricsOnThePublicListener(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	for _, admin := range []string{"", "127.0.0.1:0"} {
		hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{}, func(o *Options) {
			o.Server.AdminListen = admin
		})
		res, err := http.Get(hs.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 404 || strings.Contains(string(body), dir.URL) {
			t.Errorf("admin_listen %q: GET /metrics on the public listener answered %d: %.200s", admin, res.StatusCode, body)
		}
	}
}

// Filters the directory cannot evaluate are refused in SCIM's words: the
// message names SCIM attributes, never the LDAP attributes that hold them.
func TestFilterErrorsNameSCIMAttributes(t *testing.T) {
	// Without scimgate's schema the e-mails are in mail alone, which LDAP
	// filters must express; with it, externalId is stored.
	plain := newTestGateway(t, slapd.New(t, slapd.Options{})).URL
	withSchema := newTestGateway(t, slapd.New(t, slapd.Options{ScimgateSchema: true})).URL
	ldapNames := regexp.MustCompile(`\b(uid|scimExternalId|mail|scimHomeEmail|scimOtherEmail|memberOf|member|entryUUID|entryCSN|` +
		`telephoneNumber|mobile|facsimileTelephoneNumber|homePhone|pager|sn|cn|objectClass|inetOrgPerson)\b`)
	for _, tt := range []struct{ base, filter, names string }{
		{plain, `userName gt "a"`, "userName"},
		{withSchema, `externalId lt "a"`, "externalId"},
		{plain, `emails[value sw "a" and value ew "z"]`, "emails.value"},
		{plain, `emails[not (value eq "a")]`, "emails.value"},
		{plain, `emails[type eq "work" and value ne "a"]`, "emails.value"},
		{plain, `emails.value gt "a"`, `emails[type eq "work"].value`},
		{plain, `phoneNumbers.value sw "+1"`, `phoneNumbers[type eq "fax"].value cannot be compared with sw`}, // fax numbers: no substring rule
		{plain, `addresses[type eq "work" and not (locality eq "Paris")]`, "cannot negate"},                   // LDAP cannot say "not this one" of a multi-valued l
	} {
		r := do(t, "GET", tt.base+"/scim/v2/Users?filter="+urlQuery(tt.filter), testToken, "", "")
		wantSCIMError(t, r, 400, "invalidFilter")
		detail, _ := r.body["detail"].(string)
		if m := ldapNames.FindString(detail); m != "" || !strings.Contains(detail, tt.names) {
			t.Errorf("%s: %q names %q; want it to name %s and no LDAP attribute", tt.filter, detail, m, tt.names)
		}
	}
}

// Every response says nosniff, and none may be stored by a cache: SCIM
// responses carry personal data (and errors, request ids).
func TestResponsesAreNeitherSniffedNorStored(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	hs := newTestGateway(t, dir)
	base := hs.URL + "/scim/v2"
	user := do(t, "POST", base+"/Users", testToken, contentTypeSCIM, `{"userName":"headers.user"}`)
	id, _ := user.body["id"].(string)
	groups := do(t, "GET", base+"/Groups?count=1", testToken, "", "")
	group := groups.body["Resources"].([]any)[0].(map[string]any)["id"].(string)
	responses := map[string]response{"POST /Users": user, "GET /Groups": groups}
	for _, rq := range []struct{ method, path, token, body string }{
		{"GET", "/Users?count=2", testToken, ""},
		{"GET", "/Users/" + id, testToken, ""},
		{"GET", "/Groups/" + group, testToken, ""},
		{"PUT", "/Users/" + id, testToken, `{"userName":"headers.user","displayName":"H"}`},
		{"PATCH", "/Users/" + id, testToken, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"T"}]}`},
		{"POST", "/Users/.search", testToken, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"count":1}`},
		{"POST", "/Bulk", testToken, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":[{"method":"DELETE","path":"/Users/` + id + `"}]}`},
		{"GET", "/Users/" + id, testToken, ""}, // 404 now
		{"GET", "/Users", "", ""},              // 401
		{"GET", "/ServiceProviderConfig", "", ""},
		{"GET", "/Schemas", "", ""},
		{"GET", "/nowhere", "", ""},
	} {
		ct := ""
		if rq.body != "" {
			ct = contentTypeSCIM
		}
		responses[rq.method+" "+rq.path] = do(t, rq.method, base+rq.path, rq.token, ct, rq.body)
	}
	responses["GET /healthz"] = do(t, "GET", hs.URL+"/healthz", "", "", "")
	for name, r := range responses {
		if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s (%d): X-Content-Type-Options %q, want nosniff", name, r.status, got)
		}
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s (%d): Cache-Control %q, want no-store", name, r.status, got)
		}
	}
}

// The admin listener's answers are not sniffed either.
func TestAdminResponsesAreNotSniffed(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	srv, _ := newGatewayServer(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{})
	for _, path := range []string{"/metrics", "/healthz", "/debug/pprof/", "/nowhere"} {
		req, _ := http.NewRequest("GET", path, nil)
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		srv.AdminHandler().ServeHTTP(rec, req)
		if got := rec.header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("admin %s (%d): X-Content-Type-Options %q, want nosniff", path, rec.status, got)
		}
	}
}
