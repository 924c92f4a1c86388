package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/gateway/auth/authtest"
	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/slapd"
)

// Over HTTP, in oauth mode: the statuses and WWW-Authenticate values of RFC
// 6750, 503 when the authorization server is down, identities in the log,
// tokens nowhere in it.
func TestOAuthResponses(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	as := authtest.New(t)
	core, logs := observer.New(zap.DebugLevel)
	hs := newGateway(t, dir, zap.New(core), ldapstore.Options{}, func(o *Options) {
		o.Auth = auth.DefaultConfig()
		o.Auth.Issuer = as.URL
		o.Auth.ProtectDiscovery = true
	})
	base := hs.URL + "/scim/v2"
	exp := time.Now().Add(time.Hour).Unix()
	reader := as.JWT(map[string]any{"sub": "alice", "client_id": "reader-app", "exp": exp, "scope": auth.JanssenScopes.UsersRead})
	as.Answer("opaque-writer", map[string]any{"active": true, "client_id": "writer-app", "exp": exp,
		"scope": auth.JanssenScopes.UsersWrite + " " + auth.JanssenScopes.UsersRead})
	expired := as.JWT(map[string]any{"sub": "alice", "exp": time.Now().Add(-time.Hour).Unix(), "scope": auth.JanssenScopes.UsersRead})

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
