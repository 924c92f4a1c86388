package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

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
	bypass bool
}

// Has reports whether the identity holds the scope.
func (id *Identity) Has(scope string) bool {
	return id != nil && (id.bypass || slices.Contains(id.Scopes, scope))
}

// logFields describe the identity in log lines: never the token.
func (id *Identity) logFields() []zap.Field {
	f := []zap.Field{zap.String("client", id.Name)}
	if id.Subject != "" && id.Subject != id.Name {
		f = append(f, zap.String("subject", id.Subject))
	}
	return f
}

// authenticator finds the identity behind a bearer token. It returns an
// *invalidToken when the token is not good (401) and an *authUnavailable
// when it cannot tell (503).
type authenticator interface {
	authenticate(ctx context.Context, token string) (*Identity, error)
}

// invalidToken: the token is not valid; Reason says why, without the token.
type invalidToken struct{ Reason string }

func (e *invalidToken) Error() string { return "invalid token: " + e.Reason }

func invalid(format string, args ...any) error {
	return &invalidToken{Reason: fmt.Sprintf(format, args...)}
}

// authUnavailable: the authorization server could not be asked.
type authUnavailable struct{ Err error }

func (e *authUnavailable) Error() string { return "authorization server unavailable: " + e.Err.Error() }
func (e *authUnavailable) Unwrap() error { return e.Err }

const realm = `Bearer realm="scimgate"`

// authenticate checks the bearer token and puts the identity in the request
// info. In bypass mode every request passes as "bypass".
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ri := infoFrom(c.Request().Context())
		if ri.identity != nil { // a sub-request, acting as its parent says
			return next(c)
		}
		if s.auth == nil {
			ri.identity = &Identity{Name: "bypass", bypass: true}
			if err := s.rateLimit(ri.identity); err != nil {
				return err
			}
			return next(c)
		}
		scheme, token, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			e := newError(http.StatusUnauthorized, "", "Authentication required: send Authorization: Bearer <token>.")
			e.Header = http.Header{"WWW-Authenticate": {realm}}
			return e
		}
		id, err := s.auth.authenticate(c.Request().Context(), token)
		var bad *invalidToken
		var down *authUnavailable
		switch {
		case err == nil:
			ri.identity = id
			ri.log = ri.log.With(id.logFields()...)
			if err := s.rateLimit(id); err != nil {
				return err
			}
			return next(c)
		case errors.As(err, &bad):
			ri.log.Info("token refused", zap.String("reason", bad.Reason))
			e := newError(http.StatusUnauthorized, "", "The bearer token is not valid: %s.", bad.Reason)
			e.Header = http.Header{"WWW-Authenticate": {realm + `, error="invalid_token", error_description=` + quoteHeader(bad.Reason)}}
			return e
		case errors.As(err, &down):
			ri.log.Warn("cannot check token", zap.Error(down.Err))
			e := newError(http.StatusServiceUnavailable, "", "The authorization server cannot check the token now; retry later.")
			e.Header = http.Header{"Retry-After": {retryAfter}}
			return e
		}
		return err
	}
}

// rateLimit takes one request of id's rate budget (server.rate_limit), or
// answers 429.
func (s *Server) rateLimit(id *Identity) error {
	if s.limiter == nil {
		return nil
	}
	if ok, wait := s.limiter.allow(id.Name, time.Now()); !ok {
		s.metrics.rateLimited.Inc()
		return tooManyRequests(wait)
	}
	return nil
}

// quoteHeader quotes s for a WWW-Authenticate parameter, dropping the
// characters RFC 6750 section 3 does not allow there.
func quoteHeader(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r >= 0x20 && r < 0x7f && r != '"' && r != '\\' {
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// requireScope lets a request through only if its identity holds scope.
func requireScope(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !infoFrom(c.Request().Context()).identity.Has(scope) {
				return insufficientScope(scope)
			}
			return next(c)
		}
	}
}

// insufficientScope is the 403 of RFC 6750 section 3.1 naming the scope needed.
func insufficientScope(scope string) *scimError {
	e := newError(http.StatusForbidden, "", "The token lacks the scope %s.", scope)
	e.Header = http.Header{"WWW-Authenticate": {fmt.Sprintf(`%s, error="insufficient_scope", scope=%s`, realm, quoteHeader(scope))}}
	return e
}
