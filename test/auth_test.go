package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	// A user's tokens, from the authorization code flow: the refresh token
	// is no access token (RFC 6749 section 1.5), though Hydra's
	// introspection calls it active (with token_use refresh_token).
	user := as.UserTokens(t, "alice", usersRead)

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
		{"a revoked token", "GET", "/Users", revoked, "", 401, `error="invalid_token", error_description="the token is not active"`},
		{"a made-up token", "GET", "/Users", "ory_at_madeup.madeup", "", 401, `error="invalid_token", error_description="the token is not active"`},
		{"a user's access token", "GET", "/Users", user.Access, "", 200, ""},
		{"a user's refresh token", "GET", "/Users", user.Refresh, "", 401,
			`error="invalid_token", error_description="the token is a refresh token, not an access token"`},
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
	// Refusals say what is wrong in the protocol's words: no Go error
	// text, no issuer URL.
	refused := func(what, token, description string) {
		t.Helper()
		status, header, doc := call(t, "GET", base+"/Users", token, "")
		want := `Bearer realm="scimgate", error="invalid_token", error_description="` + description + `"`
		if status != 401 || header.Get("WWW-Authenticate") != want {
			t.Errorf("%s: %d %q, want 401 %q", what, status, header.Get("WWW-Authenticate"), want)
		}
		if detail, _ := doc["detail"].(string); strings.Contains(detail, "http") || strings.Contains(detail, "oidc") || !strings.Contains(detail, description) {
			t.Errorf("%s: detail %q", what, detail)
		}
	}
	refused("a tampered JWT", token[:len(token)-4]+"AAAA", "the token's signature does not verify")

	// Another Hydra has other keys and another issuer: its tokens are refused.
	other := hydra.New(t, hydra.Options{JWT: true})
	refused("a JWT from another server", other.NewClient(t, usersRead).Token(t, usersRead), "the token was issued by another issuer")
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

// Unauthenticated load does not reach the authorization server: a token
// longer than auth.max_token_bytes is refused unchecked, and past
// auth.failure_burst failed authentications from one address a token that
// would have to be checked gets 429 with Retry-After, whatever forwarding
// headers the client forges; tokens already checked keep working. The
// introspection calls are counted by a proxy in front of Hydra.
func TestJunkTokensDoNotReachHydra(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	as := hydra.New(t, hydra.Options{})
	counter, err := as.CountIntrospections()
	if err != nil {
		t.Fatal(err)
	}
	defer counter.Close()
	admin := freeAddr(t)
	const burst = 40
	base := oauthGateway(t, dir, as, "SCIMGATE_AUTH_INTROSPECTION_URL="+counter.URL, "SCIMGATE_SERVER_ADMIN_LISTEN="+admin,
		"SCIMGATE_AUTH_FAILURE_RATE=1", fmt.Sprint("SCIMGATE_AUTH_FAILURE_BURST=", burst))
	client := as.NewClient(t, usersRead)
	good := client.Token(t, usersRead)
	if status, _, doc := call(t, "GET", base+"/Users", good, ""); status != 200 || counter.Calls() != 1 {
		t.Fatalf("a good token: %d %v, %d introspections", status, doc, counter.Calls())
	}

	status, header, _ := call(t, "GET", base+"/Users", strings.Repeat("x", 900<<10), "")
	if want := `Bearer realm="scimgate", error="invalid_token", error_description="the token is too long"`; status != 401 || header.Get("WWW-Authenticate") != want {
		t.Errorf("a 900 KB token: %d %q, want 401 %q", status, header.Get("WWW-Authenticate"), want)
	}
	if n := counter.Calls(); n != 1 {
		t.Errorf("a 900 KB token was introspected (%d calls)", n)
	}

	// 200 junk tokens, 10 at a time, each request claiming another address.
	start := time.Now()
	statuses := make([]int, 200)
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for i := w; i < len(statuses); i += 10 {
				req, _ := http.NewRequest("GET", base+"/Users", nil)
				req.Header.Set("Authorization", fmt.Sprintf("Bearer ory_at_junk-%d.x", i))
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
				req.Header.Set("X-Real-IP", fmt.Sprintf("203.0.113.%d", i))
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				res.Body.Close()
				if res.StatusCode == 429 && res.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				statuses[i] = res.StatusCode
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	checked := counter.Calls() - 1
	t.Logf("200 junk tokens in %s: %v; %d introspections", elapsed, count, checked)
	if count[401]+count[429] != 200 || int64(count[401]) != checked || count[401] < burst || float64(count[401]) > burst+1+elapsed.Seconds() {
		t.Errorf("200 junk tokens in %s: statuses %v, %d introspections; want %d to %.0f refused (401) after one introspection each, the rest 429",
			elapsed, count, checked, burst, burst+1+elapsed.Seconds())
	}

	// Meanwhile: a token checked before still works; a new one is not checked.
	before := counter.Calls()
	if status, _, _ := call(t, "GET", base+"/Users", good, ""); status != 200 {
		t.Errorf("a token checked before the flood: %d, want 200", status)
	}
	if status, _, _ := call(t, "GET", base+"/Users", client.Token(t, usersRead), ""); status != 429 {
		t.Errorf("a new token from the flooding address: %d, want 429", status)
	}
	if n := counter.Calls() - before; n != 0 {
		t.Errorf("%d introspections during the block, want none", n)
	}

	res, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`scimgate_auth_failures_total{reason="invalid_token"} %d`, count[401]),
		fmt.Sprintf(`scimgate_auth_failures_total{reason="rate_limited"} %d`, count[429]+1),
		`scimgate_auth_failures_total{reason="token_too_long"} 1`,
	} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
