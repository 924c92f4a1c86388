package test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/test/hydra"
	"github.com/scimgate/scimgate/test/slapd"
)

// Janssen's scope names, which scimgate requires by default.
const (
	usersRead   = "https://jans.io/scim/users.read"
	usersWrite  = "https://jans.io/scim/users.write"
	groupsRead  = "https://jans.io/scim/groups.read"
	groupsWrite = "https://jans.io/scim/groups.write"
	bulk        = "https://jans.io/scim/bulk"
)

// oauthGateway runs scimgate in oauth mode against the Hydra server as,
// over dir, configured by the environment alone; extra overrides.
func oauthGateway(t *testing.T, dir *slapd.Server, as *hydra.Server, extra ...string) string {
	t.Helper()
	addr := freeAddr(t)
	env := append(directoryEnv(t, dir, addr),
		"SCIMGATE_AUTH_MODE=oauth",
		"SCIMGATE_AUTH_ISSUER="+as.Issuer,
		"SCIMGATE_AUTH_INTROSPECTION_URL="+as.IntrospectionURL(),
		"SCIMGATE_AUTH_INTROSPECTION_AUTH=none",
	)
	start(t, cleanEnv(append(env, extra...)...), "serve")
	base := "http://" + addr
	waitReady(t, base)
	return base + "/scim/v2"
}

// End to end with a real authorization server issuing opaque tokens:
// scimgate discovers it, introspects each token once, enforces Janssen's
// scopes, and answers 503 when the server is gone.
func TestOAuthWithHydraOpaqueTokens(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	as := hydra.New(t, hydra.Options{})
	base := oauthGateway(t, dir, as)

	provisioner := as.NewClient(t, usersRead, usersWrite, groupsRead, groupsWrite, bulk)
	token := provisioner.Token(t, usersRead, usersWrite, groupsRead, groupsWrite)
	readOnly := provisioner.Token(t, usersRead)
	bulkOnly := provisioner.Token(t, bulk)
	revoked := provisioner.Token(t, usersRead)
	provisioner.Revoke(t, revoked)

	steps := []struct {
		name, method, path, token, body string
		status                          int
		authenticate                    string // a part of WWW-Authenticate
	}{
		{"create a user", "POST", "/Users", token, `{"userName":"hydra.user"}`, 201, ""},
		{"list users", "GET", "/Users?filter=userName%20eq%20%22hydra.user%22", token, "", 200, ""},
		{"create a group", "POST", "/Groups", token, `{"displayName":"hydra-group"}`, 201, ""},
		{"read with a read-only token", "GET", "/Users", readOnly, "", 200, ""},
		{"write with a read-only token", "POST", "/Users", readOnly, `{"userName":"nope"}`, 403, `error="insufficient_scope", scope="` + usersWrite + `"`},
		{"read groups with a users token", "GET", "/Groups", readOnly, "", 403, `scope="` + groupsRead + `"`},
		{"a bulk-only token cannot create users", "POST", "/Users", bulkOnly, `{"userName":"nope"}`, 403, `scope="` + usersWrite + `"`},
		{"a revoked token", "GET", "/Users", revoked, "", 401, `error="invalid_token"`},
		{"a made-up token", "GET", "/Users", "ory_at_madeup.madeup", "", 401, `error="invalid_token"`},
		{"no token", "GET", "/Users", "", "", 401, `Bearer realm="scimgate"`},
		{"discovery is anonymous", "GET", "/ServiceProviderConfig", "", "", 200, ""},
	}
	for _, s := range steps {
		status, header, doc := call(t, s.method, base+s.path, s.token, s.body)
		if status != s.status {
			t.Errorf("%s: status %d, want %d: %v", s.name, status, s.status, doc)
			continue
		}
		if got := header.Get("WWW-Authenticate"); !strings.Contains(got, s.authenticate) || (s.authenticate == "") != (got == "") {
			t.Errorf("%s: WWW-Authenticate %q, want it to hold %q", s.name, got, s.authenticate)
		}
		if status == 401 && doc["status"] != "401" {
			t.Errorf("%s: body %v, want a SCIM error with status \"401\"", s.name, doc)
		}
	}

	as.Stop() // the authorization server is gone
	if status, _, _ := call(t, "GET", base+"/Users", token, ""); status != http.StatusOK {
		t.Errorf("a token checked before: %d, want 200 from the cache", status)
	}
	status, header, _ := call(t, "GET", base+"/Users", "ory_at_never.seen", "")
	if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
		t.Errorf("a new token with the server down: %d (Retry-After %q), want 503 with Retry-After", status, header.Get("Retry-After"))
	}
}

// With JWT access tokens scimgate verifies locally against Hydra's JWKS:
// the introspection URL here leads nowhere, so a request that needed it
// would fail with 503.
func TestOAuthWithHydraJWTs(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	as := hydra.New(t, hydra.Options{JWT: true})
	base := oauthGateway(t, dir, as, "SCIMGATE_AUTH_INTROSPECTION_URL=http://127.0.0.1:1/nowhere")

	client := as.NewClient(t, usersRead, groupsRead)
	token := client.Token(t, usersRead)
	if strings.Count(token, ".") != 2 {
		t.Fatalf("Hydra did not issue a JWT: %q", token[:min(len(token), 20)])
	}
	if status, _, doc := call(t, "GET", base+"/Users", token, ""); status != 200 {
		t.Fatalf("JWT with the scope: %d %v", status, doc)
	}
	if status, header, _ := call(t, "GET", base+"/Groups", token, ""); status != 403 || !strings.Contains(header.Get("WWW-Authenticate"), groupsRead) {
		t.Errorf("JWT without the groups scope: %d %q", status, header.Get("WWW-Authenticate"))
	}
	tampered := token[:len(token)-4] + "AAAA"
	if status, header, _ := call(t, "GET", base+"/Users", tampered, ""); status != 401 || !strings.Contains(header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("tampered JWT: %d %q", status, header.Get("WWW-Authenticate"))
	}

	// Another Hydra has other keys and another issuer: its tokens are refused.
	other := hydra.New(t, hydra.Options{JWT: true})
	foreign := other.NewClient(t, usersRead).Token(t, usersRead)
	if status, _, _ := call(t, "GET", base+"/Users", foreign, ""); status != 401 {
		t.Errorf("JWT from another server: %d, want 401", status)
	}
}

// `scimgate token new` prints a token and configuration lines that work as
// printed: pasted into a tokens file, the token is accepted with exactly the
// scopes asked for.
func TestTokenNewPrintsAWorkingToken(t *testing.T) {
	out, err := runScimgate(t, cleanEnv(), "token", "new", "--name", "okta", "--scopes", usersRead)
	if err != nil {
		t.Fatalf("token new: %v\n%s", err, out)
	}
	_, rest, _ := strings.Cut(out, "\n\n")
	token, rest, _ := strings.Cut(rest, "\n\n")
	token = strings.TrimSpace(token)
	_, snippet, _ := strings.Cut(rest, "\n\n")
	if len(token) < 32 || strings.Contains(snippet, token) {
		t.Fatalf("unexpected output (token %q):\n%s", token, out)
	}
	var lines []string
	for _, l := range strings.Split(snippet, "\n") {
		lines = append(lines, strings.TrimPrefix(l, "  "))
	}
	tokens := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(tokens, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}

	dir := slapd.New(t, slapd.Options{})
	addr := freeAddr(t)
	start(t, cleanEnv(append(directoryEnv(t, dir, addr), "SCIMGATE_AUTH_MODE=token", "SCIMGATE_AUTH_TOKENS_FILE="+tokens)...), "serve")
	base := "http://" + addr
	waitReady(t, base)
	if status, _, doc := call(t, "GET", base+"/scim/v2/Users", token, ""); status != 200 {
		t.Errorf("GET with the new token: %d %v", status, doc)
	}
	if status, _, _ := call(t, "POST", base+"/scim/v2/Users", token, `{"userName":"x"}`); status != 403 {
		t.Errorf("POST with a read-only token: %d, want 403", status)
	}
	if status, _, _ := call(t, "GET", base+"/scim/v2/Users", token+"x", ""); status != 401 {
		t.Errorf("GET with another token: %d, want 401", status)
	}
}

// /Me end to end with a real authorization server: a client-credentials
// token's subject is its client id, which names a user. Deactivated, that
// user cannot reactivate itself (PATCH active:true, a PUT without active)
// nor read itself; active, it may change its title but not its userName.
func TestMeWithHydra(t *testing.T) {
	dir := slapd.New(t, slapd.Options{PPolicy: true})
	as := hydra.New(t, hydra.Options{})
	base := oauthGateway(t, dir, as, "SCIMGATE_ME_CLAIM=sub", "SCIMGATE_ME_METHODS=GET,PUT,PATCH", "SCIMGATE_ME_SCOPE=profile")
	admin := as.NewClient(t, usersRead, usersWrite).Token(t, usersRead, usersWrite)
	self := as.NewClient(t, "profile")
	token := self.Token(t, "profile")

	status, _, doc := call(t, "POST", base+"/Users", admin, `{"userName":"`+self.ID+`"}`)
	if status != 201 {
		t.Fatalf("create the client's user: %d %v", status, doc)
	}
	id := doc["id"].(string)
	patch := func(op, path, value string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"` + op + `","path":"` + path + `","value":` + value + `}]}`
	}
	steps := []struct {
		name, method, path, token, body string
		status                          int
	}{
		{"read itself", "GET", "/Me", token, "", 200},
		{"change its title", "PATCH", "/Me", token, patch("replace", "title", `"Countess"`), 200},
		{"rename itself", "PATCH", "/Me", token, patch("replace", "userName", `"mallory"`), 403},
		{"the admin deactivates it", "PATCH", "/Users/" + id, admin, patch("replace", "active", "false"), 200},
		{"read itself, inactive", "GET", "/Me", token, "", 403},
		{"reactivate itself", "PATCH", "/Me", token, patch("replace", "active", "true"), 403},
		{"reactivate itself by a PUT", "PUT", "/Me", token, `{"userName":"` + self.ID + `"}`, 403},
		{"still inactive", "GET", "/Users/" + id + "?attributes=active,userName,title", admin, "", 200},
	}
	for _, s := range steps {
		status, _, doc = call(t, s.method, base+s.path, s.token, s.body)
		if status != s.status {
			t.Errorf("%s: status %d, want %d: %v", s.name, status, s.status, doc)
		}
	}
	if doc["active"] != false || doc["userName"] != self.ID || doc["title"] != "Countess" {
		t.Errorf("the user at the end: %v", doc)
	}
}
