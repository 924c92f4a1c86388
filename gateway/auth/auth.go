package auth

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
)

// An Authenticator finds the identity behind a bearer token. It returns a
// *Refusal when the token is not good, a *Throttled when the client's
// budget of failed authentications (WithBudget) is spent and the token was
// not checked, and an *Unavailable when it cannot tell.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Identity, error)
}

// New makes the Authenticator of cfg's mode; nil, with no error, in bypass
// mode, where nothing is checked. log gets the authorization server's
// discovery; obs, which may be nil, is told of token checks. cfg must have
// been validated.
func New(cfg Config, log *zap.Logger, obs Observer) (Authenticator, error) {
	switch cfg.Mode {
	case ModeToken:
		tokens, err := cfg.LoadTokens()
		if err != nil {
			return nil, err
		}
		return StaticTokens(tokens), nil
	case ModeOAuth:
		a, err := NewOAuth(cfg, log, obs)
		if err != nil {
			return nil, err
		}
		return a, nil
	case ModeBypass:
		return nil, nil
	}
	return nil, fmt.Errorf("auth.mode: %q is not supported", cfg.Mode)
}

// Identity is who a request acts for.
type Identity struct {
	// Name identifies the client in logs: a static token's name, else the
	// OAuth client id, else the subject.
	Name string
	// ClientID and Subject are the OAuth token's client_id and sub.
	ClientID, Subject string
	Scopes            []string
	// Claims are the OAuth token's claims (JWT or introspection answer),
	// for /Me; nil for static tokens.
	Claims map[string]any
	// AllScopes: the identity holds every scope (bypass mode).
	AllScopes bool
}

// Has reports whether the identity holds the scope.
func (id *Identity) Has(scope string) bool {
	return id != nil && (id.AllScopes || slices.Contains(id.Scopes, scope))
}

// Refusal: the token is not valid (RFC 6750's invalid_token). Reason says
// why in the words of the protocol, for the client (error_description);
// Detail says more, for the log only (an issuer's URL, a library's error).
// Neither holds the token.
type Refusal struct{ Reason, Detail string }

func (e *Refusal) Error() string { return "invalid token: " + e.Reason }

// Why a token is refused, as clients are told.
const (
	ReasonExpired     = "the token has expired"
	ReasonNotYetValid = "the token is not valid yet"
	ReasonIssuer      = "the token was issued by another issuer"
	ReasonAudience    = "the token was not issued for this server"
	ReasonSignature   = "the token's signature does not verify"
	ReasonMalformed   = "the token is malformed or signed with an algorithm this server does not accept"
	ReasonInactive    = "the token is not active"
	ReasonRefused     = "the authorization server refused the token"
	ReasonRefresh     = "the token is a refresh token, not an access token"
	ReasonNotJWT      = "the token is not a JWT, the only kind this server accepts"
	ReasonUnknown     = "the token is unknown"
	ReasonTooLong     = "the token is too long"
)

// refuse is a *Refusal for reason; detail, for the log, may be "".
func refuse(reason, detail string) error {
	return &Refusal{Reason: reason, Detail: detail}
}

// Unavailable: the authorization server could not be asked.
type Unavailable struct{ Err error }

func (e *Unavailable) Error() string { return "authorization server unavailable: " + e.Err.Error() }
func (e *Unavailable) Unwrap() error { return e.Err }

// Throttled: the client has spent its budget of failed authentications;
// the token was not checked.
type Throttled struct{ Wait time.Duration }

func (e *Throttled) Error() string { return "too many failed authentications from this address" }

// A Budget is one client's allowance of failed authentications. A check
// that may fail takes one first, and gives it back once it did not fail:
// so junk tokens cannot cause more checks than the budget allows.
type Budget interface {
	// Take draws one, or says how long until there is one.
	Take() (ok bool, wait time.Duration)
	// Refund gives back what Take drew.
	Refund()
}

type budgetKey struct{}

// WithBudget returns ctx carrying the budget of the client whose token is
// checked under it; without one, failures are not limited.
func WithBudget(ctx context.Context, b Budget) context.Context {
	return context.WithValue(ctx, budgetKey{}, b)
}

// unlimited is the budget of a context without one.
type unlimited struct{}

func (unlimited) Take() (bool, time.Duration) { return true, 0 }
func (unlimited) Refund()                     {}

func budgetFrom(ctx context.Context) Budget {
	if b, ok := ctx.Value(budgetKey{}).(Budget); ok && b != nil {
		return b
	}
	return unlimited{}
}

// take draws on a budget before a check that may fail: a *Throttled when
// it is spent.
func take(b Budget) error {
	if ok, wait := b.Take(); !ok {
		return &Throttled{Wait: wait}
	}
	return nil
}

// An Observer is told of token checks, for metrics.
type Observer interface {
	// CacheLookup: a check was answered from the cache (hit) or not.
	CacheLookup(hit bool)
	// Introspected: an introspection ended ("active", "inactive" or
	// "error") after d.
	Introspected(outcome string, d time.Duration)
}

// noObserver is the Observer when none is given.
type noObserver struct{}

func (noObserver) CacheLookup(bool)                   {}
func (noObserver) Introspected(string, time.Duration) {}
