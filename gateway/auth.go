package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// The scopes each endpoint requires, named as the Janssen Server names them
// so that its clients keep working.
const (
	ScopeUsersRead   = "https://jans.io/scim/users.read"
	ScopeUsersWrite  = "https://jans.io/scim/users.write"
	ScopeGroupsRead  = "https://jans.io/scim/groups.read"
	ScopeGroupsWrite = "https://jans.io/scim/groups.write"
)

// AllScopes returns the scopes of every endpoint this version serves.
func AllScopes() []string {
	return []string{ScopeUsersRead, ScopeUsersWrite, ScopeGroupsRead, ScopeGroupsWrite}
}

// Identity is who a request acts for.
type Identity struct {
	// Name identifies the client in logs: a static token's name.
	Name   string
	Scopes []string
	bypass bool
}

// has reports whether the identity holds the scope.
func (id *Identity) has(scope string) bool {
	if id.bypass {
		return true
	}
	for _, s := range id.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// authenticator finds the identity behind a request's bearer token.
type authenticator interface {
	authenticate(token string) (*Identity, bool)
}

// staticTokens accepts configured tokens, known only by their SHA-256.
type staticTokens []StaticToken

func (ts staticTokens) authenticate(token string) (*Identity, bool) {
	sum := sha256.Sum256([]byte(token))
	var found *Identity
	for _, t := range ts {
		want, _ := hex.DecodeString(t.SHA256)
		// Compare against every token, in constant time, so that timing
		// tells nothing of which token came close.
		if subtle.ConstantTimeCompare(sum[:], want) == 1 && found == nil {
			found = &Identity{Name: t.Name, Scopes: t.Scopes}
		}
	}
	return found, found != nil
}

const realm = `Bearer realm="scimgate"`

// authenticate checks the bearer token and puts the identity in the request
// info. In bypass mode every request passes as "bypass".
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ri := infoFrom(c.Request().Context())
		if s.auth == nil {
			ri.identity = &Identity{Name: "bypass", bypass: true}
			return next(c)
		}
		scheme, token, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		token = strings.TrimSpace(token)
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			e := newError(http.StatusUnauthorized, "", "Authentication required: send Authorization: Bearer <token>.")
			e.Header = http.Header{"WWW-Authenticate": {realm}}
			return e
		}
		id, ok := s.auth.authenticate(token)
		if !ok {
			e := newError(http.StatusUnauthorized, "", "The bearer token is not valid.")
			e.Header = http.Header{"WWW-Authenticate": {realm + `, error="invalid_token"`}}
			return e
		}
		ri.identity = id
		return next(c)
	}
}

// requireScope lets a request through only if its identity holds scope.
func requireScope(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if id := infoFrom(c.Request().Context()).identity; id == nil || !id.has(scope) {
				e := newError(http.StatusForbidden, "", "The token lacks the scope %s.", scope)
				e.Header = http.Header{"WWW-Authenticate": {fmt.Sprintf(`%s, error="insufficient_scope", scope=%q`, realm, scope)}}
				return e
			}
			return next(c)
		}
	}
}
