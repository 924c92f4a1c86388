package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// /Me (RFC 7644 section 3.11): the user the token stands for, found by the
// configured claim (me.claim) compared with a users' attribute
// (me.attribute). The request then runs as a sub-request on /Users/{id},
// with the rights me.methods gives the user over their own entry and no
// other: the token's own scopes for /Users do not widen them. Its writes
// leave as they are the attributes that decide what the account may do
// (me.writable aside), and an inactive user gets 403 on every method.

func (s *Server) meHandler(c echo.Context) error {
	r := c.Request()
	ctx := r.Context()
	if s.me.Claim == "" {
		return notYet(r.Method + " /Me (set me.claim to map tokens to users)")
	}
	if r.Method == http.MethodPost {
		return notYet("POST /Me (self-registration)")
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if !slices.ContainsFunc(s.me.Methods, func(m string) bool { return strings.EqualFold(m, method) }) {
		return newError(http.StatusForbidden, "", "%s /Me is not allowed here (me.methods).", r.Method)
	}
	id := infoFrom(ctx).identity
	if s.me.Scope != "" && !id.Has(s.me.Scope) {
		return insufficientScope(s.me.Scope)
	}
	user, err := s.meUser(ctx, id)
	if err != nil {
		return err
	}
	if active, ok := user.Attributes["active"].(bool); ok && !active {
		// An inactive account may neither read nor change itself: through
		// /Me it could otherwise lift its own lock.
		return newError(http.StatusForbidden, "", "The account is not active: /Me is closed to it.")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	return s.meForward(c, id, user.ID, body)
}

// meUser finds the one user the token's claim names, with its id and
// active.
func (s *Server) meUser(ctx context.Context, id *auth.Identity) (ldapstore.Resource, error) {
	value := claimString(id.Claims[s.me.Claim])
	if value == "" {
		return ldapstore.Resource{}, newError(http.StatusNotFound, "", "The token has no %s claim naming a user.", s.me.Claim)
	}
	users, err := s.store.Users(ctx)
	if err != nil {
		return ldapstore.Resource{}, err
	}
	quoted, _ := json.Marshal(value) // a SCIM filter's string literal is a JSON string
	f, err := schema.ParseFilter(fmt.Sprintf("%s eq %s", s.me.Attribute, quoted))
	if err != nil {
		return ldapstore.Resource{}, fmt.Errorf("me.attribute %q: %w", s.me.Attribute, err)
	}
	only, _ := schema.ParseProjection([]string{"id", "active"}, nil)
	page, err := users.List(ctx, ldapstore.Query{Filter: f, StartIndex: 1, Count: 2, Projection: only})
	if err != nil {
		return ldapstore.Resource{}, storeError(ctx, err)
	}
	switch page.Total {
	case 0:
		return ldapstore.Resource{}, newError(http.StatusNotFound, "", "No user has the token's %s as %s.", s.me.Claim, s.me.Attribute)
	case 1:
		return page.Resources[0], nil
	}
	return ldapstore.Resource{}, newError(http.StatusConflict, "uniqueness", "%d users have the token's %s as %s: /Me cannot tell which.",
		page.Total, s.me.Claim, s.me.Attribute)
}

// meForward runs the /Me request as a sub-request on /Users/{id} with
// only the users scope its method needs ("the user's own rights"), its
// writes leaving the read-only attributes as they are, and answers what
// it answered.
func (s *Server) meForward(c echo.Context, id *auth.Identity, userID string, body []byte) error {
	r := c.Request()
	ctx := r.Context()
	scope := s.scopes.UsersRead
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		scope = s.scopes.UsersWrite
	}
	self := &auth.Identity{Name: id.Name, ClientID: id.ClientID, Subject: id.Subject, Claims: id.Claims, Scopes: []string{scope}}
	header := http.Header{}
	for _, h := range []string{"Content-Type", "If-Match", "If-None-Match", "Group-Overhead-Bypass"} {
		if v, ok := r.Header[h]; ok {
			header[h] = v
		}
	}
	resource := "/Users/" + url.PathEscape(userID)
	path := resource
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	res := s.subrequest(ctx, self, 1, r.Method, path, header, body, subOptions{frozen: s.me.frozen()})
	h := c.Response().Header()
	for k, v := range res.header {
		if k != echo.HeaderXRequestID {
			h[k] = v
		}
	}
	if res.status/100 == 2 && h.Get(echo.HeaderLocation) == "" && r.Method != http.MethodDelete {
		// RFC 7644 section 3.11: the response says where the resource is.
		h.Set(echo.HeaderLocation, infoFrom(ctx).baseURL+resource)
	}
	c.Response().WriteHeader(res.status)
	_, err := c.Response().Write(res.body)
	return err
}

// claimString is a claim's value as text: a string, or a number.
func claimString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	case json.Number:
		return v.String()
	}
	return ""
}
