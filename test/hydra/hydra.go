// Package hydra starts Ory Hydra, a real OAuth 2.0 and OpenID Connect
// server, on loopback for scimgate's end-to-end authentication tests, and
// registers clients and fetches tokens from it.
//
// Hydra is built from the Go module proxy by `make hydra` (see
// test/tools/hydra) into bin/hydra; SCIMGATE_HYDRA names another binary.
package hydra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/proc"
)

// ErrNotInstalled is returned when the Hydra binary has not been built.
var ErrNotInstalled = errors.New("Ory Hydra is not built: run `make hydra` (about 3 minutes the first time)")

// Binary returns the path of the hydra program, or ErrNotInstalled.
func Binary() (string, error) {
	if p := os.Getenv("SCIMGATE_HYDRA"); p != "" {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "bin", "hydra")
	if _, err := os.Stat(p); err != nil {
		return "", ErrNotInstalled
	}
	return p, nil
}

// Options shape a server.
type Options struct {
	// JWT makes Hydra issue JWT access tokens (verified locally by the
	// gateway); by default they are opaque (introspected).
	JWT bool
}

// Server is a running Hydra.
type Server struct {
	// Issuer is the issuer URL (with its trailing slash, as Hydra has it).
	Issuer string
	// PublicURL serves discovery, JWKS and the token endpoint.
	PublicURL string
	// AdminURL serves the admin API, introspection included.
	AdminURL string
	proc     *proc.Process
	log      *bytes.Buffer // what Hydra says; read once it has ended
}

// IntrospectionURL is Hydra's RFC 7662 endpoint, which its discovery
// document does not list; it needs no client authentication.
func (s *Server) IntrospectionURL() string { return s.AdminURL + "/admin/oauth2/introspect" }

// New starts a server for t and stops it when t ends. When Hydra is not
// built the test is skipped, unless CI is set: then it fails.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and the end-to-end auth tests need Hydra: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	s, err := start(bin, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start starts a server keeping its files in dir, and waits until it is
// ready. Stop it with Stop.
func Start(dir string, opts Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("hydra: %w", err)
	}
	return start(bin, dir, opts)
}

func start(bin, dir string, opts Options) (*Server, error) {
	ports, err := proc.FreePorts(2)
	if err != nil {
		return nil, err
	}
	public, admin := ports[0], ports[1]
	strategy := "opaque"
	if opts.JWT {
		strategy = "jwt"
	}
	s := &Server{
		Issuer:    fmt.Sprintf("http://127.0.0.1:%d/", public),
		PublicURL: fmt.Sprintf("http://127.0.0.1:%d", public),
		AdminURL:  fmt.Sprintf("http://127.0.0.1:%d", admin),
		log:       &bytes.Buffer{},
	}
	config := fmt.Sprintf(`dsn: memory
serve:
  public: {host: 127.0.0.1, port: %d}
  admin: {host: 127.0.0.1, port: %d}
urls:
  self: {issuer: %q}
  login: http://127.0.0.1:9/login       # never visited: LoginConsent accepts through the admin API
  consent: http://127.0.0.1:9/consent
secrets:
  system: ["a-test-only-secret-of-at-least-32-chars"]
strategies:
  access_token: %s
log:
  level: warn
`, public, admin, s.Issuer, strategy)
	file := filepath.Join(dir, "hydra.yml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "all", "--dev", "-c", file)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if s.proc, err = proc.Spawn(cmd); err != nil {
		return nil, fmt.Errorf("hydra: %w", err)
	}
	err = s.proc.WaitReady(context.Background(), 30*time.Second, 50*time.Millisecond, func() error {
		res, err := (&http.Client{Timeout: time.Second}).Get(s.PublicURL + "/health/ready")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("health/ready: %s", res.Status)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hydra: %w:\n%s", err, s.log) // it has ended: the log is whole
	}
	return s, nil
}

// Stop kills the server.
func (s *Server) Stop() { s.proc.Kill() }

// Client is a registered OAuth 2.0 client.
type Client struct {
	ID, Secret string
	server     *Server
}

// NewClient registers a client_credentials client allowed the scopes.
func (s *Server) NewClient(t testing.TB, scopes ...string) Client {
	t.Helper()
	c, err := s.Register(scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Register is NewClient outside tests.
func (s *Server) Register(scopes ...string) (Client, error) {
	return s.register(map[string]any{
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_basic",
		"scope":                      strings.Join(scopes, " "),
	})
}

// register registers a client described as Hydra's admin API takes it.
func (s *Server) register(client map[string]any) (Client, error) {
	body, _ := json.Marshal(client)
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := s.post(s.AdminURL+"/admin/clients", "application/json", bytes.NewReader(body), "", "", http.StatusCreated, &c); err != nil {
		return Client{}, err
	}
	return Client{ID: c.ID, Secret: c.Secret, server: s}, nil
}

// Token gets an access token for the scopes (client_credentials grant).
func (c Client) Token(t testing.TB, scopes ...string) string {
	t.Helper()
	tok, err := c.Get(scopes...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Get is Token outside tests.
func (c Client) Get(scopes ...string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := c.server.post(c.server.PublicURL+"/oauth2/token", "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()), c.ID, c.Secret, http.StatusOK, &tok); err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

// Revoke revokes a token (RFC 7009).
func (c Client) Revoke(t testing.TB, token string) {
	t.Helper()
	form := url.Values{"token": {token}}
	if err := c.server.post(c.server.PublicURL+"/oauth2/revoke", "application/x-www-form-urlencoded",
		strings.NewReader(form.Encode()), c.ID, c.Secret, http.StatusOK, nil); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) post(u, contentType string, body io.Reader, user, password string, want int, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	req.Header.Set("Content-Type", contentType)
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(password))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("hydra: %w", err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		return fmt.Errorf("hydra: POST %s: %s: %s", u, res.Status, raw)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(raw, out)
}
