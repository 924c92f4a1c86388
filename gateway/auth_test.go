package gateway

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/slapd"
)

// fakeAS is an authorization server written for these tests. The end-to-end
// tests in test/ run against a real one (Ory Hydra); this one produces what
// a real server cannot easily be made to: expired, not-yet-valid, foreign,
// unsigned and HMAC tokens, rotated keys, failures, slowness, and each of
// the introspection client authentication methods.
type fakeAS struct {
	*httptest.Server
	t   *testing.T
	key *rsa.PrivateKey
	kid string

	introspections, jwksFetches atomic.Int64

	mu       sync.Mutex
	answers  map[string]map[string]any // introspection answers by token
	status   int                       // forced introspection status, 0: none
	delay    time.Duration             // before each introspection answer
	lastAuth string                    // how the last introspection authenticated
}

func newFakeAS(t *testing.T) *fakeAS {
	t.Helper()
	as := &fakeAS{t: t, answers: map[string]map[string]any{}}
	as.rotate()
	mux := http.NewServeMux()
	discovery := func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                 as.URL,
			"jwks_uri":               as.URL + "/jwks",
			"introspection_endpoint": as.URL + "/introspect",
			"token_endpoint":         as.URL + "/token",
		})
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", discovery)
	mux.HandleFunc("GET /elsewhere/.well-known/openid-configuration", discovery) // for auth.discovery_url
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		as.jwksFetches.Add(1)
		as.mu.Lock()
		pub := jose.JSONWebKey{Key: &as.key.PublicKey, KeyID: as.kid, Algorithm: "RS256", Use: "sig"}
		as.mu.Unlock()
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		as.introspections.Add(1)
		r.ParseForm()
		as.mu.Lock()
		answer, status, delay := as.answers[r.PostForm.Get("token")], as.status, as.delay
		switch id, secret, ok := r.BasicAuth(); {
		case ok:
			as.lastAuth = "basic " + id + ":" + secret
		case r.PostForm.Get("client_secret") != "":
			as.lastAuth = "post " + r.PostForm.Get("client_id") + ":" + r.PostForm.Get("client_secret")
		case r.Header.Get("Authorization") == "Bearer "+r.PostForm.Get("token"):
			as.lastAuth = "token"
		case r.Header.Get("Authorization") == "":
			as.lastAuth = "none"
		default:
			as.lastAuth = "other"
		}
		as.mu.Unlock()
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if answer == nil {
			answer = map[string]any{"active": false}
		}
		json.NewEncoder(w).Encode(answer)
	})
	as.Server = httptest.NewServer(mux)
	t.Cleanup(as.Close)
	return as
}

// rotate gives the server a new signing key with a new key id.
func (as *fakeAS) rotate() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		as.t.Fatal(err)
	}
	as.mu.Lock()
	as.key, as.kid = key, fmt.Sprintf("key-%d", time.Now().UnixNano())
	as.mu.Unlock()
}

// jwt signs claims with the server's key (iss defaults to the server).
func (as *fakeAS) jwt(claims map[string]any) string {
	as.mu.Lock()
	key, kid := as.key, as.kid
	as.mu.Unlock()
	return sign(as.t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, as.claims(claims))
}

func (as *fakeAS) claims(claims map[string]any) map[string]any {
	if _, ok := claims["iss"]; !ok {
		claims["iss"] = as.URL
	}
	return claims
}

func sign(t *testing.T, key jose.SigningKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (as *fakeAS) answer(token string, claims map[string]any) {
	as.mu.Lock()
	as.answers[token] = claims
	as.mu.Unlock()
}

func (as *fakeAS) set(f func(as *fakeAS)) {
	as.mu.Lock()
	f(as)
	as.mu.Unlock()
}

// clock is a settable time for the cache and expiry tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// oauthFor returns an authenticator for as, with cfg's changes, on clk.
func oauthFor(t *testing.T, as *fakeAS, clk *clock, change func(*AuthConfig)) *oauthTokens {
	t.Helper()
	cfg := DefaultAuthConfig()
	cfg.Issuer = as.URL
	if change != nil {
		change(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := newOAuthTokens(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if clk != nil {
		a.now = clk.Now
	}
	return a
}

// outcome is how a check ended: "ok", "invalid: <reason>" or "unavailable".
func outcome(id *Identity, err error) string {
	var bad *invalidToken
	var down *authUnavailable
	switch {
	case err == nil && id != nil:
		return "ok"
	case errors.As(err, &bad):
		return "invalid: " + bad.Reason
	case errors.As(err, &down):
		return "unavailable"
	}
	return fmt.Sprintf("unexpected %v %v", id, err)
}

func TestJWTAccessTokens(t *testing.T) {
	as := newFakeAS(t)
	now := time.Now()
	exp := now.Add(time.Hour).Unix()
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	hmacKey := []byte("a-shared-hmac-key-of-32-bytes-or-more")
	hmacFile := writeTemp(t, string(hmacKey))
	base := func(extra map[string]any) map[string]any {
		c := map[string]any{"sub": "subject-1", "client_id": "okta-client", "exp": exp, "scope": JanssenScopes.UsersRead + " " + JanssenScopes.GroupsRead}
		for k, v := range extra {
			if c[k] = v; v == nil {
				delete(c, k) // nil: leave the claim out
			}
		}
		return c
	}
	unsigned := func(claims map[string]any) string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		p, _ := json.Marshal(as.claims(claims))
		return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}
	tests := []struct {
		name   string
		cfg    func(*AuthConfig)
		token  string
		want   string
		scopes []string
	}{
		{name: "valid", token: as.jwt(base(nil)), want: "ok", scopes: []string{JanssenScopes.UsersRead, JanssenScopes.GroupsRead}},
		{name: "scopes as a list (scp)", token: as.jwt(base(map[string]any{"scope": nil, "scp": []string{"a", "b"}})), want: "ok", scopes: []string{"a", "b"}},
		{name: "expired", token: as.jwt(base(map[string]any{"exp": now.Add(-time.Minute).Unix()})), want: "invalid: " + reasonExpired},
		{name: "no exp", token: as.jwt(base(map[string]any{"exp": nil})), want: "invalid: " + reasonExpired},
		{name: "not yet valid", token: as.jwt(base(map[string]any{"nbf": now.Add(time.Hour).Unix()})), want: "invalid: " + reasonNotYetValid},
		{name: "foreign issuer", token: as.jwt(base(map[string]any{"iss": "https://evil.example"})), want: "invalid: " + reasonIssuer},
		{name: "audience required, absent", cfg: func(c *AuthConfig) { c.Audience = "scimgate" }, token: as.jwt(base(nil)), want: "invalid: " + reasonAudience},
		{name: "audience required, present", cfg: func(c *AuthConfig) { c.Audience = "scimgate" }, token: as.jwt(base(map[string]any{"aud": []string{"x", "scimgate"}})), want: "ok"},
		{name: "granted scopes (Entra)", cfg: func(c *AuthConfig) { c.Audience = "8adf8e6e"; c.GrantedScopes = []string{"g"} },
			token: as.jwt(base(map[string]any{"aud": "8adf8e6e", "scope": nil})), want: "ok", scopes: []string{"g"}},
		{name: "alg none", token: unsigned(base(nil)), want: "invalid: " + reasonMalformed},
		{name: "signed by another key, same kid", token: sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: as.kid}}, as.claims(base(nil))), want: "invalid: " + reasonSignature},
		{name: "HMAC refused without a key", token: sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey}, as.claims(base(nil))), want: "invalid: " + reasonMalformed},
		{name: "HMAC with the configured key", cfg: func(c *AuthConfig) { c.JWTHMACKeyFile = hmacFile },
			token: sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey}, as.claims(base(nil))), want: "ok"},
		{name: "HMAC with another key", cfg: func(c *AuthConfig) { c.JWTHMACKeyFile = hmacFile },
			token: sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte("another-key-another-key-another-key!")}, as.claims(base(nil))), want: "invalid: " + reasonSignature},
		{name: "algorithm not allowed", cfg: func(c *AuthConfig) { c.JWTAlgorithms = []string{"ES256"} }, token: as.jwt(base(nil)), want: "invalid: " + reasonMalformed},
		{name: "a refresh token", token: as.jwt(base(map[string]any{"token_use": "refresh"})), want: "invalid: " + reasonRefresh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := oauthFor(t, as, nil, tt.cfg)
			before := as.introspections.Load()
			id, err := a.authenticate(context.Background(), tt.token)
			if got := outcome(id, err); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %q, want %q...", got, tt.want)
			}
			if as.introspections.Load() != before {
				t.Error("a JWT was introspected, not verified locally")
			}
			if tt.want == "ok" {
				if tt.scopes != nil && strings.Join(id.Scopes, " ") != strings.Join(tt.scopes, " ") {
					t.Errorf("scopes %q, want %q", id.Scopes, tt.scopes)
				}
				if id.Name != "okta-client" || id.Subject != "subject-1" {
					t.Errorf("identity %+v", id)
				}
			}
		})
	}
}

// Keys are fetched once; a new key id makes the gateway fetch again, but
// made-up key ids cannot make it fetch more than once per interval.
func TestJWKSRotationIsRateLimited(t *testing.T) {
	as := newFakeAS(t)
	clk := &clock{now: time.Now()}
	a := oauthFor(t, as, clk, func(c *AuthConfig) { c.JWKSRefreshInterval = 10 * time.Second })
	claims := func() map[string]any { return map[string]any{"sub": "s", "exp": clk.Now().Add(time.Hour).Unix()} }
	ctx := context.Background()
	check := func(token, want string) {
		t.Helper()
		if got := outcome(a.authenticate(ctx, token)); !strings.HasPrefix(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	check(as.jwt(claims()), "ok")
	check(as.jwt(claims()), "ok")
	if n := as.jwksFetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for two tokens, want 1", n)
	}
	clk.add(11 * time.Second)
	as.rotate()
	check(as.jwt(claims()), "ok") // unknown kid: fetched again
	if n := as.jwksFetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after a rotation, want 2", n)
	}
	// Made-up key ids right after: no fetch, 503 (a key rotated twice in
	// ten seconds is worth a retry, not a refusal).
	for i := range 20 {
		forged := sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: as.key, KeyID: fmt.Sprint("made-up-", i)}}, as.claims(claims()))
		check(forged, "unavailable")
	}
	if n := as.jwksFetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after 20 made-up key ids, want still 2", n)
	}
	// Another issuer's token is refused (401, not 503) before any key
	// lookup, even past the interval.
	clk.add(time.Minute)
	foreign := claims()
	foreign["iss"] = "https://other.example"
	check(sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: as.key, KeyID: "theirs"}}, foreign), "invalid: "+reasonIssuer)
	if n := as.jwksFetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after a foreign token, want still 2", n)
	}
}

func TestIntrospection(t *testing.T) {
	as := newFakeAS(t)
	clk := &clock{now: time.Now()}
	secretFile := writeTemp(t, "s3cret\n")
	active := func(extra map[string]any) map[string]any {
		c := map[string]any{"active": true, "client_id": "c1", "sub": "u1", "scope": "x y", "exp": clk.Now().Add(time.Hour).Unix(), "iss": as.URL}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name     string
		cfg      func(*AuthConfig)
		answer   map[string]any
		status   int
		want     string
		wantAuth string
	}{
		{name: "active, Janssen's way", answer: active(nil), want: "ok", wantAuth: "token"},
		{name: "client_secret_basic", cfg: func(c *AuthConfig) { c.ClientID, c.ClientSecretFile = "gw", secretFile }, answer: active(nil), want: "ok", wantAuth: "basic gw:s3cret"},
		{name: "client_secret_post", cfg: func(c *AuthConfig) { c.ClientID, c.ClientSecret, c.IntrospectionAuth = "gw", "pw", IntrospectPost }, answer: active(nil), want: "ok", wantAuth: "post gw:pw"},
		{name: "none", cfg: func(c *AuthConfig) { c.IntrospectionAuth = IntrospectNone }, answer: active(nil), want: "ok", wantAuth: "none"},
		{name: "inactive", answer: map[string]any{"active": false}, want: "invalid: " + reasonInactive},
		{name: "a refresh token (token_type)", answer: active(map[string]any{"token_type": "refresh_token"}), want: "invalid: " + reasonRefresh},
		{name: "a refresh token (token_use, Hydra's way)", answer: active(map[string]any{"token_use": "refresh_token"}), want: "invalid: " + reasonRefresh},
		{name: "an access token (Hydra's way)", answer: active(map[string]any{"token_type": "Bearer", "token_use": "access_token"}), want: "ok"},
		{name: "unknown", answer: nil, want: "invalid: " + reasonInactive},
		{name: "expired", answer: active(map[string]any{"exp": clk.Now().Add(-time.Second).Unix()}), want: "invalid: " + reasonExpired},
		{name: "not yet valid", answer: active(map[string]any{"nbf": clk.Now().Add(time.Minute).Unix()}), want: "invalid: " + reasonNotYetValid},
		{name: "foreign issuer", answer: active(map[string]any{"iss": "https://evil.example"}), want: "invalid: " + reasonIssuer},
		{name: "issuer with a trailing slash", answer: active(map[string]any{"iss": as.URL + "/"}), want: "ok"},
		{name: "wrong audience", cfg: func(c *AuthConfig) { c.Audience = "scimgate" }, answer: active(map[string]any{"aud": "other"}), want: "invalid: " + reasonAudience},
		{name: "right audience", cfg: func(c *AuthConfig) { c.Audience = "scimgate" }, answer: active(map[string]any{"aud": []any{"scimgate"}}), want: "ok"},
		{name: "token refused as its own credential", status: http.StatusUnauthorized, want: "invalid: " + reasonRefused},
		{name: "gateway's credentials refused", cfg: func(c *AuthConfig) { c.ClientID, c.ClientSecret = "gw", "wrong" }, status: http.StatusUnauthorized, want: "unavailable"},
		{name: "server error", status: http.StatusBadGateway, want: "unavailable"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := fmt.Sprintf("opaque-token-%d", i)
			as.answer(token, tt.answer)
			as.set(func(as *fakeAS) { as.status = tt.status })
			a := oauthFor(t, as, clk, tt.cfg)
			id, err := a.authenticate(context.Background(), token)
			if got := outcome(id, err); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %q, want %q...", got, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("the error shows the token: %v", err)
			}
			if tt.wantAuth != "" && as.lastAuth != tt.wantAuth {
				t.Errorf("the gateway authenticated as %q, want %q", as.lastAuth, tt.wantAuth)
			}
			if tt.want == "ok" && (id.Name != "c1" || id.Subject != "u1" || strings.Join(id.Scopes, ",") != "x,y") {
				t.Errorf("identity %+v", id)
			}
		})
	}
}

// Results are cached until min(exp, cache_ttl), refusals for
// negative_cache_ttl, and failures not at all.
func TestTokenCache(t *testing.T) {
	as := newFakeAS(t)
	clk := &clock{now: time.Now()}
	a := oauthFor(t, as, clk, func(c *AuthConfig) { c.CacheTTL, c.NegativeCacheTTL = time.Minute, 10*time.Second })
	ctx := context.Background()
	calls := func() int64 { return as.introspections.Load() }
	step := func(token, want string, wantCalls int64) {
		t.Helper()
		if got := outcome(a.authenticate(ctx, token)); !strings.HasPrefix(got, want) {
			t.Fatalf("%s: got %q, want %q", token, got, want)
		}
		if calls() != wantCalls {
			t.Fatalf("%s: %d introspections so far, want %d", token, calls(), wantCalls)
		}
	}
	as.answer("long", map[string]any{"active": true, "sub": "u", "exp": clk.Now().Add(time.Hour).Unix()})
	as.answer("short", map[string]any{"active": true, "sub": "u", "exp": clk.Now().Add(20 * time.Second).Unix()})
	step("long", "ok", 1)
	step("long", "ok", 1)
	step("short", "ok", 2)
	step("bad", "invalid", 3)
	step("bad", "invalid", 3) // refusal cached
	clk.add(15 * time.Second)
	step("bad", "invalid", 4) // past negative_cache_ttl
	step("short", "ok", 4)
	clk.add(10 * time.Second) // past short's exp, within cache_ttl
	step("short", "invalid: "+reasonExpired, 5)
	step("long", "ok", 5)
	clk.add(time.Minute) // past cache_ttl
	step("long", "ok", 6)

	as.set(func(as *fakeAS) { as.status = http.StatusInternalServerError })
	step("other", "unavailable", 7)
	step("other", "unavailable", 8) // failures are not cached
	as.set(func(as *fakeAS) { as.status = 0 })
}

// 100 concurrent first requests with one token cause one introspection.
func TestConcurrentFirstRequestsShareOneCheck(t *testing.T) {
	as := newFakeAS(t)
	as.set(func(as *fakeAS) { as.delay = 100 * time.Millisecond })
	as.answer("shared", map[string]any{"active": true, "sub": "u", "scope": "s"})
	a := oauthFor(t, as, nil, nil)
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 100 {
		wg.Go(func() {
			if id, err := a.authenticate(context.Background(), "shared"); err == nil && id.Has("s") {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 100 || as.introspections.Load() != 1 {
		t.Fatalf("%d of 100 accepted with %d introspections, want 100 with 1", ok.Load(), as.introspections.Load())
	}
}

func TestTokenCacheIsBounded(t *testing.T) {
	c := newTokenCache(100)
	now := time.Now()
	for i := range 10_000 {
		c.put(tokenKey{byte(i), byte(i >> 8)}, tokenResult{expires: now.Add(time.Hour)})
		if n := c.len(); n > 100 {
			t.Fatalf("%d entries after %d puts, want at most 100", n, i+1)
		}
	}
	// A token in use survives a flood of others.
	hot := tokenKey{0xff, 0xff, 0xff}
	c.put(hot, tokenResult{expires: now.Add(time.Hour)})
	for i := range 10_000 {
		c.put(tokenKey{1, byte(i), byte(i >> 8)}, tokenResult{expires: now.Add(time.Hour)})
		if _, ok := c.get(hot, now); !ok {
			t.Fatalf("the token in use was dropped after %d others", i+1)
		}
	}
}

// A slow or absent authorization server gives 503, never access, and
// never a wait past auth.timeout.
func TestAuthServerSlowOrDown(t *testing.T) {
	as := newFakeAS(t)
	as.set(func(as *fakeAS) { as.delay = 5 * time.Second })
	a := oauthFor(t, as, nil, func(c *AuthConfig) { c.Timeout = 200 * time.Millisecond })
	start := time.Now()
	if got := outcome(a.authenticate(context.Background(), "slow")); got != "unavailable" {
		t.Fatalf("slow server: got %q", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the check took %s with a 200ms timeout", d)
	}

	down := oauthFor(t, as, nil, func(c *AuthConfig) { c.Issuer = "http://127.0.0.1:1" })
	if got := outcome(down.authenticate(context.Background(), "any")); got != "unavailable" {
		t.Fatalf("no server: got %q", got)
	}
}

// Discovery that failed is tried again, not forever remembered.
func TestDiscoveryRecovers(t *testing.T) {
	as := newFakeAS(t)
	clk := &clock{now: time.Now()}
	url := as.URL
	as.Close()
	a := oauthFor(t, as, clk, nil)
	if got := outcome(a.authenticate(context.Background(), "x")); got != "unavailable" {
		t.Fatalf("server down: got %q", got)
	}
	as2 := newFakeAS(t) // a new server, on a new port: point the gateway there
	a.cfg.Issuer = as2.URL
	if got := outcome(a.authenticate(context.Background(), "x")); got != "unavailable" {
		t.Fatalf("within the retry delay: got %q, want still unavailable", got)
	}
	clk.add(discoveryRetry)
	as2.answer("x", map[string]any{"active": true, "sub": "u"})
	if got := outcome(a.authenticate(context.Background(), "x")); got != "ok" {
		t.Fatalf("after the retry delay: got %q (old issuer %s)", got, url)
	}
}

// auth.discovery_url: the document is read there, and must still be for
// auth.issuer.
func TestDiscoveryURL(t *testing.T) {
	as := newFakeAS(t)
	as.answer("t", map[string]any{"active": true, "sub": "u"})
	for _, tt := range []struct {
		issuer, want string
	}{
		{as.URL, "ok"},
		{"https://another.example/", "unavailable"},
	} {
		a := oauthFor(t, as, nil, func(c *AuthConfig) {
			c.Issuer, c.DiscoveryURL = tt.issuer, as.URL+"/elsewhere/.well-known/openid-configuration"
		})
		if got := outcome(a.authenticate(context.Background(), "t")); got != tt.want {
			t.Errorf("issuer %s: got %q, want %q", tt.issuer, got, tt.want)
		}
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for token, want := range map[string]bool{
		"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln": true,
		"ory_at_abc.def":                       false, // Hydra's opaque tokens
		"2b4f4a4e-1c6b-4d43-9b0a-1f1f1f1f1f1f": false, // Janssen's
		"a.b.c":                                false,
		"eyJ0eXAiOiJKV1QifQ.e30.x":             false, // a header without alg
	} {
		if got := looksLikeJWT(token); got != want {
			t.Errorf("looksLikeJWT(%q) = %v", token, got)
		}
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	f := t.TempDir() + "/file"
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// Over HTTP, in oauth mode: the statuses and WWW-Authenticate values of RFC
// 6750, 503 when the authorization server is down, identities in the log,
// tokens nowhere in it.
func TestOAuthResponses(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	as := newFakeAS(t)
	core, logs := observer.New(zap.DebugLevel)
	hs := newGateway(t, dir, zap.New(core), ldapstore.Options{}, func(o *Options) {
		o.Auth = DefaultAuthConfig()
		o.Auth.Issuer = as.URL
		o.Auth.ProtectDiscovery = true
	})
	base := hs.URL + "/scim/v2"
	exp := time.Now().Add(time.Hour).Unix()
	reader := as.jwt(map[string]any{"sub": "alice", "client_id": "reader-app", "exp": exp, "scope": JanssenScopes.UsersRead})
	as.answer("opaque-writer", map[string]any{"active": true, "client_id": "writer-app", "exp": exp,
		"scope": JanssenScopes.UsersWrite + " " + JanssenScopes.UsersRead})
	expired := as.jwt(map[string]any{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix(), "scope": JanssenScopes.UsersRead})

	tests := []struct {
		name, method, path, token string
		status                    int
		authenticate              string // WWW-Authenticate, "" for none
	}{
		{"no token", "GET", "/Users", "", 401, `Bearer realm="scimgate"`},
		{"expired JWT", "GET", "/Users", expired, 401, `Bearer realm="scimgate", error="invalid_token", error_description="the token has expired"`},
		{"unknown opaque token", "GET", "/Users", "opaque-unknown", 401, `Bearer realm="scimgate", error="invalid_token", error_description="the token is not active"`},
		{"JWT with the scope", "GET", "/Users", reader, 200, ""},
		{"JWT without the scope", "GET", "/Groups", reader, 403, `Bearer realm="scimgate", error="insufficient_scope", scope="https://jans.io/scim/groups.read"`},
		{"introspected, with the scope", "POST", "/Users", "opaque-writer", 201, ""},
		{"bulk needs its scope", "POST", "/Bulk", "opaque-writer", 403, `Bearer realm="scimgate", error="insufficient_scope", scope="https://jans.io/scim/bulk"`},
		{"root search needs its scope", "POST", "/.search", reader, 403, `Bearer realm="scimgate", error="insufficient_scope", scope="https://jans.io/scim/all-resources.search"`},
		{"protected discovery, no token", "GET", "/Schemas", "", 401, `Bearer realm="scimgate"`},
		{"protected discovery, any valid token", "GET", "/Schemas", reader, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, base+tt.path, tt.token, contentTypeSCIM, `{"userName":"oauth-made"}`)
			if tt.status >= 400 {
				wantSCIMError(t, r, tt.status, "")
			} else if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.raw)
			}
			if got := r.header.Get("WWW-Authenticate"); got != tt.authenticate {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.authenticate)
			}
		})
	}

	as.Close() // the authorization server goes away: cached tokens still work, others get 503
	if r := do(t, "GET", base+"/Users", reader, "", ""); r.status != 200 {
		t.Errorf("cached token with the server down: %d", r.status)
	}
	r := do(t, "GET", base+"/Users", "opaque-never-seen", "", "")
	wantSCIMError(t, r, 503, "")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}

	clients := map[string]bool{}
	for _, e := range logs.All() {
		line, _ := json.Marshal(e.ContextMap())
		for _, secret := range []string{reader, expired, "opaque-writer", "opaque-unknown", "opaque-never-seen"} {
			if strings.Contains(e.Message+string(line), secret) {
				t.Errorf("log line holds a token: %s %s", e.Message, line)
			}
		}
		if e.Message == "request" {
			if c, ok := e.ContextMap()["client"].(string); ok {
				clients[c] = true
			}
		}
	}
	if !clients["reader-app"] || !clients["writer-app"] {
		t.Errorf("access log clients %v, want reader-app and writer-app", clients)
	}
}
