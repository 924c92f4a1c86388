package hydra

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// redirectURI is where the authorization code flow ends; nothing listens
// there: the code is read from the redirect itself.
const redirectURI = "http://127.0.0.1:9/callback"

// UserTokens are what the authorization code flow issues.
type UserTokens struct {
	Access, Refresh string
}

// UserTokens runs the authorization code flow for subject, asking the
// scopes and offline_access, and returns the access and refresh tokens.
// Login and consent are accepted through Hydra's admin API, standing in for
// the login and consent app a deployment has.
func (s *Server) UserTokens(t testing.TB, subject string, scopes ...string) UserTokens {
	t.Helper()
	toks, err := s.codeFlow(subject, scopes)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

func (s *Server) codeFlow(subject string, scopes []string) (UserTokens, error) {
	scopes = append([]string{"offline_access"}, scopes...)
	c, err := s.register(map[string]any{
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"redirect_uris":              []string{redirectURI},
		"token_endpoint_auth_method": "client_secret_basic",
		"scope":                      strings.Join(scopes, " "),
	})
	if err != nil {
		return UserTokens{}, err
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := s.PublicURL + "/oauth2/auth?" + url.Values{"response_type": {"code"}, "client_id": {c.ID},
		"redirect_uri": {redirectURI}, "scope": {strings.Join(scopes, " ")}, "state": {"state-of-the-flow"}}.Encode()
	login, err := redirectParam(browser, start, "login_challenge")
	if err != nil {
		return UserTokens{}, err
	}
	next, err := s.accept("login", login, map[string]any{"subject": subject})
	if err != nil {
		return UserTokens{}, err
	}
	consent, err := redirectParam(browser, next, "consent_challenge")
	if err != nil {
		return UserTokens{}, err
	}
	next, err = s.accept("consent", consent, map[string]any{"grant_scope": scopes})
	if err != nil {
		return UserTokens{}, err
	}
	code, err := redirectParam(browser, next, "code")
	if err != nil {
		return UserTokens{}, err
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	var tok struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := s.post(s.PublicURL+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()),
		c.ID, c.Secret, http.StatusOK, &tok); err != nil {
		return UserTokens{}, err
	}
	if tok.Refresh == "" {
		return UserTokens{}, fmt.Errorf("hydra: the code flow issued no refresh token")
	}
	return UserTokens{Access: tok.Access, Refresh: tok.Refresh}, nil
}

// redirectParam GETs u and returns the query parameter name of the
// redirect it answers.
func redirectParam(browser *http.Client, u, name string) (string, error) {
	res, err := browser.Get(u)
	if err != nil {
		return "", fmt.Errorf("hydra: %w", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get(name) == "" {
		return "", fmt.Errorf("hydra: GET %s: %s, redirected to %q without %s: %s", u, res.Status, res.Header.Get("Location"), name, body)
	}
	return loc.Query().Get(name), nil
}

// accept accepts a login or consent challenge through the admin API and
// returns where the browser goes next.
func (s *Server) accept(kind, challenge string, body map[string]any) (string, error) {
	b, _ := json.Marshal(body)
	u := s.AdminURL + "/admin/oauth2/auth/requests/" + kind + "/accept?" + kind + "_challenge=" + url.QueryEscape(challenge)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("hydra: accept %s: %w", kind, err)
	}
	defer res.Body.Close()
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.RedirectTo == "" {
		return "", fmt.Errorf("hydra: accept %s: %s: %s", kind, res.Status, raw)
	}
	return out.RedirectTo, nil
}

// Counter is a proxy in front of Hydra's admin port that counts the calls
// to the introspection endpoint: what a gateway pointed at URL makes.
type Counter struct {
	// URL is the introspection endpoint, through the proxy.
	URL   string
	calls atomic.Int64
	srv   *http.Server
}

// CountIntrospections starts a Counter; Close stops it.
func (s *Server) CountIntrospections() (*Counter, error) {
	target, _ := url.Parse(s.AdminURL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("hydra: %w", err)
	}
	c := &Counter{URL: "http://" + l.Addr().String() + "/admin/oauth2/introspect"}
	c.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/oauth2/introspect" {
			c.calls.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go c.srv.Serve(l)
	return c, nil
}

// Calls is the number of introspection calls so far.
func (c *Counter) Calls() int64 { return c.calls.Load() }

// Close stops the proxy.
func (c *Counter) Close() { c.srv.Close() }
