package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/scimgate/scimgate/gateway/auth/authtest"
)

// budget is a Budget that records what it was asked: a stand-in for the
// gateway's per-address limiter, so that the contract alone is tested.
type budget struct {
	left  int
	calls []string
}

func (b *budget) Take() (bool, time.Duration) {
	if b.left == 0 {
		b.calls = append(b.calls, "spent")
		return false, 3 * time.Second
	}
	b.left--
	b.calls = append(b.calls, "take")
	return true, 0
}

func (b *budget) Refund() { b.left++; b.calls = append(b.calls, "refund") }

func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// A check that may fail draws on the client's budget first; one that did
// not fail gives it back; with the budget spent the token is not checked
// (*Throttled). Static tokens and introspected ones alike.
func TestBudget(t *testing.T) {
	as := authtest.New(t)
	as.Answer("active", map[string]any{"active": true, "sub": "u", "scope": "s"})
	static := StaticTokens{{Name: "okta", SHA256: hashOf("okta-token"), Scopes: []string{"s"}}}
	tests := []struct {
		name, token string
		oauth       bool
		left        int
		want        string
		calls       []string
		checks      int64 // introspections made
	}{
		{name: "static, valid", token: "okta-token", left: 1, want: "ok"},
		{name: "static, unknown", token: "junk", left: 1, want: "invalid: " + ReasonUnknown, calls: []string{"take"}},
		{name: "static, unknown, spent", token: "junk", left: 0, want: "throttled", calls: []string{"spent"}},
		{name: "oauth, valid", oauth: true, token: "active", left: 1, want: "ok", calls: []string{"take", "refund"}, checks: 1},
		{name: "oauth, inactive", oauth: true, token: "inactive", left: 1, want: "invalid: " + ReasonInactive, calls: []string{"take"}, checks: 1},
		{name: "oauth, spent", oauth: true, token: "never-checked", left: 0, want: "throttled", calls: []string{"spent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Authenticator = static
			if tt.oauth {
				a = oauthFor(t, as, nil, nil)
			}
			b := &budget{left: tt.left}
			before := as.Introspections.Load()
			id, err := a.Authenticate(WithBudget(context.Background(), b), tt.token)
			if got := outcome(id, err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if !slices.Equal(b.calls, tt.calls) {
				t.Errorf("budget calls %q, want %q", b.calls, tt.calls)
			}
			if n := as.Introspections.Load() - before; n != tt.checks {
				t.Errorf("%d introspections, want %d", n, tt.checks)
			}
		})
	}
}

// New makes the mode's authenticator; bypass has none.
func TestNew(t *testing.T) {
	token := DefaultConfig()
	token.Mode = ModeToken
	token.Tokens = []StaticToken{{Name: "okta", SHA256: hashOf("t"), Scopes: []string{"s"}}}
	oauth := DefaultConfig()
	oauth.Issuer = "https://as.example"
	bypass := DefaultConfig()
	bypass.Mode = ModeBypass
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"token", token, "auth.StaticTokens"},
		{"oauth", oauth, "*auth.OAuth"},
		{"bypass", bypass, "<nil>"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg, zap.NewNop(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%T", a); got != tt.want {
				t.Errorf("New made %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := New(Config{Mode: "magic"}, zap.NewNop(), nil); err == nil {
		t.Error("New accepted mode magic")
	}
}

func TestIdentityHas(t *testing.T) {
	var none *Identity
	for _, tt := range []struct {
		name string
		id   *Identity
		want []bool // users.read, users.write
	}{
		{"no identity", none, []bool{false, false}},
		{"reader", &Identity{Scopes: []string{JanssenScopes.UsersRead}}, []bool{true, false}},
		{"bypass", &Identity{AllScopes: true}, []bool{true, true}},
	} {
		got := []bool{tt.id.Has(JanssenScopes.UsersRead), tt.id.Has(JanssenScopes.UsersWrite)}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Has = %v, want %v", tt.name, got, tt.want)
		}
	}
}
