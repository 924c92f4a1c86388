package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"

	"github.com/scimgate/scimgate/gateway/auth/authtest"
)

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
func oauthFor(t *testing.T, as *authtest.Server, clk *clock, change func(*Config)) *OAuth {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Issuer = as.URL
	if change != nil {
		change(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := NewOAuth(cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if clk != nil {
		a.now = clk.Now
	}
	return a
}

// outcome is how a check ended: "ok", "invalid: <reason>", "throttled" or
// "unavailable".
func outcome(id *Identity, err error) string {
	var bad *Refusal
	var down *Unavailable
	var throttled *Throttled
	switch {
	case err == nil && id != nil:
		return "ok"
	case errors.As(err, &bad):
		return "invalid: " + bad.Reason
	case errors.As(err, &down):
		return "unavailable"
	case errors.As(err, &throttled):
		return "throttled"
	}
	return fmt.Sprintf("unexpected %v %v", id, err)
}

func TestJWTAccessTokens(t *testing.T) {
	as := authtest.New(t)
	now := time.Now()
	exp := now.Add(time.Hour).Unix()
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, kid := as.Key()
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
		p, _ := json.Marshal(as.Claims(claims))
		return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
	}
	tests := []struct {
		name   string
		cfg    func(*Config)
		token  string
		want   string
		scopes []string
	}{
		{name: "valid", token: as.JWT(base(nil)), want: "ok", scopes: []string{JanssenScopes.UsersRead, JanssenScopes.GroupsRead}},
		{name: "scopes as a list (scp)", token: as.JWT(base(map[string]any{"scope": nil, "scp": []string{"a", "b"}})), want: "ok", scopes: []string{"a", "b"}},
		{name: "expired", token: as.JWT(base(map[string]any{"exp": now.Add(-time.Minute).Unix()})), want: "invalid: " + ReasonExpired},
		{name: "no exp", token: as.JWT(base(map[string]any{"exp": nil})), want: "invalid: " + ReasonExpired},
		{name: "not yet valid", token: as.JWT(base(map[string]any{"nbf": now.Add(time.Hour).Unix()})), want: "invalid: " + ReasonNotYetValid},
		{name: "foreign issuer", token: as.JWT(base(map[string]any{"iss": "https://evil.example"})), want: "invalid: " + ReasonIssuer},
		{name: "audience required, absent", cfg: func(c *Config) { c.Audience = "scimgate" }, token: as.JWT(base(nil)), want: "invalid: " + ReasonAudience},
		{name: "audience required, present", cfg: func(c *Config) { c.Audience = "scimgate" }, token: as.JWT(base(map[string]any{"aud": []string{"x", "scimgate"}})), want: "ok"},
		{name: "granted scopes (Entra)", cfg: func(c *Config) { c.Audience = "8adf8e6e"; c.GrantedScopes = []string{"g"} },
			token: as.JWT(base(map[string]any{"aud": "8adf8e6e", "scope": nil})), want: "ok", scopes: []string{"g"}},
		{name: "alg none", token: unsigned(base(nil)), want: "invalid: " + ReasonMalformed},
		{name: "signed by another key, same kid", token: authtest.Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: kid}}, as.Claims(base(nil))), want: "invalid: " + ReasonSignature},
		{name: "HMAC refused without a key", token: authtest.Sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey}, as.Claims(base(nil))), want: "invalid: " + ReasonMalformed},
		{name: "HMAC with the configured key", cfg: func(c *Config) { c.JWTHMACKeyFile = hmacFile },
			token: authtest.Sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: hmacKey}, as.Claims(base(nil))), want: "ok"},
		{name: "HMAC with another key", cfg: func(c *Config) { c.JWTHMACKeyFile = hmacFile },
			token: authtest.Sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: []byte("another-key-another-key-another-key!")}, as.Claims(base(nil))), want: "invalid: " + ReasonSignature},
		{name: "algorithm not allowed", cfg: func(c *Config) { c.JWTAlgorithms = []string{"ES256"} }, token: as.JWT(base(nil)), want: "invalid: " + ReasonMalformed},
		{name: "a refresh token", token: as.JWT(base(map[string]any{"token_use": "refresh"})), want: "invalid: " + ReasonRefresh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := oauthFor(t, as, nil, tt.cfg)
			before := as.Introspections.Load()
			id, err := a.Authenticate(context.Background(), tt.token)
			if got := outcome(id, err); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %q, want %q...", got, tt.want)
			}
			if as.Introspections.Load() != before {
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
	as := authtest.New(t)
	clk := &clock{now: time.Now()}
	a := oauthFor(t, as, clk, func(c *Config) { c.JWKSRefreshInterval = 10 * time.Second })
	claims := func() map[string]any { return map[string]any{"sub": "s", "exp": clk.Now().Add(time.Hour).Unix()} }
	ctx := context.Background()
	check := func(token, want string) {
		t.Helper()
		if got := outcome(a.Authenticate(ctx, token)); !strings.HasPrefix(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	check(as.JWT(claims()), "ok")
	check(as.JWT(claims()), "ok")
	if n := as.JWKSFetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches for two tokens, want 1", n)
	}
	clk.add(11 * time.Second)
	as.Rotate()
	check(as.JWT(claims()), "ok") // unknown kid: fetched again
	if n := as.JWKSFetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after a rotation, want 2", n)
	}
	// Made-up key ids right after: no fetch, 503 (a key rotated twice in
	// ten seconds is worth a retry, not a refusal).
	key, _ := as.Key()
	for i := range 20 {
		forged := authtest.Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: fmt.Sprint("made-up-", i)}}, as.Claims(claims()))
		check(forged, "unavailable")
	}
	if n := as.JWKSFetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after 20 made-up key ids, want still 2", n)
	}
	// Another issuer's token is refused (401, not 503) before any key
	// lookup, even past the interval.
	clk.add(time.Minute)
	foreign := claims()
	foreign["iss"] = "https://other.example"
	check(authtest.Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "theirs"}}, foreign), "invalid: "+ReasonIssuer)
	if n := as.JWKSFetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after a foreign token, want still 2", n)
	}
}

func TestIntrospection(t *testing.T) {
	as := authtest.New(t)
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
		cfg      func(*Config)
		answer   map[string]any
		status   int
		want     string
		wantAuth string
	}{
		{name: "active, Janssen's way", answer: active(nil), want: "ok", wantAuth: "token"},
		{name: "client_secret_basic", cfg: func(c *Config) { c.ClientID, c.ClientSecretFile = "gw", secretFile }, answer: active(nil), want: "ok", wantAuth: "basic gw:s3cret"},
		{name: "client_secret_post", cfg: func(c *Config) { c.ClientID, c.ClientSecret, c.IntrospectionAuth = "gw", "pw", IntrospectPost }, answer: active(nil), want: "ok", wantAuth: "post gw:pw"},
		{name: "none", cfg: func(c *Config) { c.IntrospectionAuth = IntrospectNone }, answer: active(nil), want: "ok", wantAuth: "none"},
		{name: "inactive", answer: map[string]any{"active": false}, want: "invalid: " + ReasonInactive},
		{name: "a refresh token (token_type)", answer: active(map[string]any{"token_type": "refresh_token"}), want: "invalid: " + ReasonRefresh},
		{name: "a refresh token (token_use, Hydra's way)", answer: active(map[string]any{"token_use": "refresh_token"}), want: "invalid: " + ReasonRefresh},
		{name: "an access token (Hydra's way)", answer: active(map[string]any{"token_type": "Bearer", "token_use": "access_token"}), want: "ok"},
		{name: "unknown", answer: nil, want: "invalid: " + ReasonInactive},
		{name: "expired", answer: active(map[string]any{"exp": clk.Now().Add(-time.Second).Unix()}), want: "invalid: " + ReasonExpired},
		{name: "not yet valid", answer: active(map[string]any{"nbf": clk.Now().Add(time.Minute).Unix()}), want: "invalid: " + ReasonNotYetValid},
		{name: "foreign issuer", answer: active(map[string]any{"iss": "https://evil.example"}), want: "invalid: " + ReasonIssuer},
		{name: "issuer with a trailing slash", answer: active(map[string]any{"iss": as.URL + "/"}), want: "ok"},
		{name: "wrong audience", cfg: func(c *Config) { c.Audience = "scimgate" }, answer: active(map[string]any{"aud": "other"}), want: "invalid: " + ReasonAudience},
		{name: "right audience", cfg: func(c *Config) { c.Audience = "scimgate" }, answer: active(map[string]any{"aud": []any{"scimgate"}}), want: "ok"},
		{name: "token refused as its own credential", status: http.StatusUnauthorized, want: "invalid: " + ReasonRefused},
		{name: "gateway's credentials refused", cfg: func(c *Config) { c.ClientID, c.ClientSecret = "gw", "wrong" }, status: http.StatusUnauthorized, want: "unavailable"},
		{name: "server error", status: http.StatusBadGateway, want: "unavailable"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := fmt.Sprintf("opaque-token-%d", i)
			as.Answer(token, tt.answer)
			as.SetStatus(tt.status)
			a := oauthFor(t, as, clk, tt.cfg)
			id, err := a.Authenticate(context.Background(), token)
			if got := outcome(id, err); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %q, want %q...", got, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("the error shows the token: %v", err)
			}
			if tt.wantAuth != "" && as.LastAuth() != tt.wantAuth {
				t.Errorf("the gateway authenticated as %q, want %q", as.LastAuth(), tt.wantAuth)
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
	as := authtest.New(t)
	clk := &clock{now: time.Now()}
	a := oauthFor(t, as, clk, func(c *Config) { c.CacheTTL, c.NegativeCacheTTL = time.Minute, 10*time.Second })
	ctx := context.Background()
	calls := func() int64 { return as.Introspections.Load() }
	step := func(token, want string, wantCalls int64) {
		t.Helper()
		if got := outcome(a.Authenticate(ctx, token)); !strings.HasPrefix(got, want) {
			t.Fatalf("%s: got %q, want %q", token, got, want)
		}
		if calls() != wantCalls {
			t.Fatalf("%s: %d introspections so far, want %d", token, calls(), wantCalls)
		}
	}
	as.Answer("long", map[string]any{"active": true, "sub": "u", "exp": clk.Now().Add(time.Hour).Unix()})
	as.Answer("short", map[string]any{"active": true, "sub": "u", "exp": clk.Now().Add(20 * time.Second).Unix()})
	step("long", "ok", 1)
	step("long", "ok", 1)
	step("short", "ok", 2)
	step("bad", "invalid", 3)
	step("bad", "invalid", 3) // refusal cached
	clk.add(15 * time.Second)
	step("bad", "invalid", 4) // past negative_cache_ttl
	step("short", "ok", 4)
	clk.add(10 * time.Second) // past short's exp, within cache_ttl
	step("short", "invalid: "+ReasonExpired, 5)
	step("long", "ok", 5)
	clk.add(time.Minute) // past cache_ttl
	step("long", "ok", 6)

	as.SetStatus(http.StatusInternalServerError)
	step("other", "unavailable", 7)
	step("other", "unavailable", 8) // failures are not cached
	as.SetStatus(0)
}

// 100 concurrent first requests with one token cause one introspection.
func TestConcurrentFirstRequestsShareOneCheck(t *testing.T) {
	as := authtest.New(t)
	as.SetDelay(100 * time.Millisecond)
	as.Answer("shared", map[string]any{"active": true, "sub": "u", "scope": "s"})
	a := oauthFor(t, as, nil, nil)
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 100 {
		wg.Go(func() {
			if id, err := a.Authenticate(context.Background(), "shared"); err == nil && id.Has("s") {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 100 || as.Introspections.Load() != 1 {
		t.Fatalf("%d of 100 accepted with %d introspections, want 100 with 1", ok.Load(), as.Introspections.Load())
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
	as := authtest.New(t)
	as.SetDelay(5 * time.Second)
	a := oauthFor(t, as, nil, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	start := time.Now()
	if got := outcome(a.Authenticate(context.Background(), "slow")); got != "unavailable" {
		t.Fatalf("slow server: got %q", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the check took %s with a 200ms timeout", d)
	}

	down := oauthFor(t, as, nil, func(c *Config) { c.Issuer = "http://127.0.0.1:1" })
	if got := outcome(down.Authenticate(context.Background(), "any")); got != "unavailable" {
		t.Fatalf("no server: got %q", got)
	}
}

// Discovery that failed is tried again, not forever remembered.
func TestDiscoveryRecovers(t *testing.T) {
	as := authtest.New(t)
	clk := &clock{now: time.Now()}
	url := as.URL
	as.Close()
	a := oauthFor(t, as, clk, nil)
	if got := outcome(a.Authenticate(context.Background(), "x")); got != "unavailable" {
		t.Fatalf("server down: got %q", got)
	}
	as2 := authtest.New(t) // a new server, on a new port: point the gateway there
	a.cfg.Issuer = as2.URL
	if got := outcome(a.Authenticate(context.Background(), "x")); got != "unavailable" {
		t.Fatalf("within the retry delay: got %q, want still unavailable", got)
	}
	clk.add(discoveryRetry)
	as2.Answer("x", map[string]any{"active": true, "sub": "u"})
	if got := outcome(a.Authenticate(context.Background(), "x")); got != "ok" {
		t.Fatalf("after the retry delay: got %q (old issuer %s)", got, url)
	}
}

// auth.discovery_url: the document is read there, and must still be for
// auth.issuer.
func TestDiscoveryURL(t *testing.T) {
	as := authtest.New(t)
	as.Answer("t", map[string]any{"active": true, "sub": "u"})
	for _, tt := range []struct {
		issuer, want string
	}{
		{as.URL, "ok"},
		{"https://another.example/", "unavailable"},
	} {
		a := oauthFor(t, as, nil, func(c *Config) {
			c.Issuer, c.DiscoveryURL = tt.issuer, as.URL+"/elsewhere/.well-known/openid-configuration"
		})
		if got := outcome(a.Authenticate(context.Background(), "t")); got != tt.want {
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
