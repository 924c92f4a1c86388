// Package authtest is an OAuth 2.0 authorization server written for tests,
// as net/http/httptest is a web server: OpenID discovery, a JWKS, and RFC
// 7662 introspection with answers the test sets. The end-to-end tests in
// test/ run against a real one (Ory Hydra); this one produces what a real
// server cannot easily be made to: expired, not-yet-valid, foreign,
// unsigned and HMAC tokens, rotated keys, failures, slowness, and each of
// the introspection client authentication methods.
package authtest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Server is the authorization server. Its issuer is URL; it also serves
// its discovery document at URL/elsewhere/.well-known/openid-configuration
// (for auth.discovery_url).
type Server struct {
	*httptest.Server
	t *testing.T

	// Introspections and JWKSFetches count the calls of each kind.
	Introspections, JWKSFetches atomic.Int64

	mu       sync.Mutex
	key      *rsa.PrivateKey
	kid      string
	answers  map[string]map[string]any // introspection answers by token
	status   int                       // forced introspection status, 0: none
	delay    time.Duration             // before each introspection answer
	lastAuth string                    // how the last introspection authenticated
}

// New starts a server, closed when the test ends.
func New(t *testing.T) *Server {
	t.Helper()
	as := &Server{t: t, answers: map[string]map[string]any{}}
	as.Rotate()
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
	mux.HandleFunc("GET /elsewhere/.well-known/openid-configuration", discovery)
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		as.JWKSFetches.Add(1)
		as.mu.Lock()
		pub := jose.JSONWebKey{Key: &as.key.PublicKey, KeyID: as.kid, Algorithm: "RS256", Use: "sig"}
		as.mu.Unlock()
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	})
	mux.HandleFunc("POST /introspect", as.introspect)
	as.Server = httptest.NewServer(mux)
	t.Cleanup(as.Close)
	return as
}

func (as *Server) introspect(w http.ResponseWriter, r *http.Request) {
	as.Introspections.Add(1)
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
}

// Rotate gives the server a new signing key with a new key id.
func (as *Server) Rotate() {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		as.t.Fatal(err)
	}
	as.mu.Lock()
	as.key, as.kid = key, fmt.Sprintf("key-%d", time.Now().UnixNano())
	as.mu.Unlock()
}

// Key returns the current signing key and its id.
func (as *Server) Key() (*rsa.PrivateKey, string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.key, as.kid
}

// JWT signs claims with the server's key (iss defaults to the server).
func (as *Server) JWT(claims map[string]any) string {
	key, kid := as.Key()
	return Sign(as.t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, as.Claims(claims))
}

// Claims sets iss to the server's issuer unless claims has one, and
// returns claims.
func (as *Server) Claims(claims map[string]any) map[string]any {
	if _, ok := claims["iss"]; !ok {
		claims["iss"] = as.URL
	}
	return claims
}

// Sign signs claims with key, as an RFC 9068 access token (typ at+jwt).
func Sign(t *testing.T, key jose.SigningKey, claims map[string]any) string {
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

// Answer sets the introspection answer for token (nil: {"active":false}).
func (as *Server) Answer(token string, claims map[string]any) {
	as.mu.Lock()
	as.answers[token] = claims
	as.mu.Unlock()
}

// SetStatus makes introspection answer status with no body (0: answer
// normally).
func (as *Server) SetStatus(status int) {
	as.mu.Lock()
	as.status = status
	as.mu.Unlock()
}

// SetDelay makes introspection wait d before answering.
func (as *Server) SetDelay(d time.Duration) {
	as.mu.Lock()
	as.delay = d
	as.mu.Unlock()
}

// LastAuth says how the last introspection call authenticated: "basic
// ID:SECRET", "post ID:SECRET", "token" (the token as its own bearer),
// "none" or "other".
func (as *Server) LastAuth() string {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.lastAuth
}
