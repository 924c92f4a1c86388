package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/scimgate/scimgate/gateway/auth"
)

// logFields describe the identity in log lines: never the token.
func logFields(id *auth.Identity) []zap.Field {
	f := []zap.Field{zap.String("client", id.Name)}
	if id.Subject != "" && id.Subject != id.Name {
		f = append(f, zap.String("subject", id.Subject))
	}
	return f
}

// authObserver counts token checks (auth.Observer).
type authObserver struct{ m *metrics }

func (o authObserver) CacheLookup(hit bool) { o.m.cacheLookup(hit) }
func (o authObserver) Introspected(outcome string, d time.Duration) {
	o.m.introspected(outcome, d)
}

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
			ri.identity = &auth.Identity{Name: "bypass", AllScopes: true}
		} else {
			id, err := s.identify(c.Request(), ri)
			if err != nil {
				return err
			}
			ri.identity = id
			ri.log = ri.log.With(logFields(id)...)
		}
		if err := s.rateLimit(ri.identity); err != nil {
			return err
		}
		return next(c)
	}
}

// identify finds who the request's bearer token stands for, or returns the
// error that answers it: 401 for no token or a bad one, 429 when the
// client's address has spent its budget of failed authentications, 503
// when the authorization server cannot be asked.
func (s *Server) identify(r *http.Request, ri *requestInfo) (*auth.Identity, error) {
	scheme, token, ok := strings.Cut(r.Header.Get(echo.HeaderAuthorization), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		s.metrics.authFailed("no_token")
		e := newError(http.StatusUnauthorized, "", "Authentication required: send Authorization: Bearer <token>.")
		e.Header = http.Header{"WWW-Authenticate": {realm}}
		return nil, e
	}
	if len(token) > s.maxTokenBytes {
		s.metrics.authFailed("token_too_long")
		ri.log.Info("token refused", zap.String("reason", auth.ReasonTooLong), zap.Int("bytes", len(token)))
		return nil, invalidTokenError(auth.ReasonTooLong)
	}
	ctx := auth.WithBudget(r.Context(), failureGate{l: s.failures, addr: ri.remote})
	id, err := s.auth.Authenticate(ctx, token)
	var bad *auth.Refusal
	var throttled *auth.Throttled
	var down *auth.Unavailable
	switch {
	case err == nil:
		return id, nil
	case errors.As(err, &bad):
		s.metrics.authFailed("invalid_token")
		ri.log.Info("token refused", zap.String("reason", bad.Reason), zap.String("detail", bad.Detail))
		return nil, invalidTokenError(bad.Reason)
	case errors.As(err, &throttled):
		s.metrics.authFailed("rate_limited")
		ri.log.Info("token not checked: too many failed authentications from the address", zap.String("remote", ri.remote))
		return nil, tooMany(throttled.Wait, "Too many failed authentications from this address")
	case errors.As(err, &down):
		ri.log.Warn("cannot check token", zap.Error(down.Err))
		e := newError(http.StatusServiceUnavailable, "", "The authorization server cannot check the token now; retry later.")
		e.Header = http.Header{"Retry-After": {retryAfter}}
		return nil, e
	}
	return nil, err
}

// invalidTokenError is the 401 of RFC 6750 section 3.1 for a bad token.
func invalidTokenError(reason string) *scimError {
	e := newError(http.StatusUnauthorized, "", "The bearer token is not valid: %s.", reason)
	e.Header = http.Header{"WWW-Authenticate": {realm + `, error="invalid_token", error_description=` + quoteHeader(reason)}}
	return e
}

// rateLimit takes one request of id's rate budget (server.rate_limit), or
// answers 429.
func (s *Server) rateLimit(id *auth.Identity) error {
	if s.limiter == nil {
		return nil
	}
	if ok, wait := s.limiter.allow(id.Name, time.Now()); !ok {
		s.metrics.rateLimited.Inc()
		return tooMany(wait, "Too many requests from this client")
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

// CheckAuthServer reaches the authorization server's discovery document if
// that has not been done yet, and says what went wrong. Nil in the modes
// without an authorization server.
func (s *Server) CheckAuthServer(ctx context.Context) error {
	a, ok := s.auth.(*auth.OAuth)
	if !ok {
		return nil
	}
	return a.Discover(ctx)
}
