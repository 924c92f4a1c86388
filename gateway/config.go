package gateway

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ServerConfig is the "server" section of the configuration.
//
//	server:
//	  listen: 127.0.0.1:8080
//	  base_path: /scim/v2            # Janssen users: /jans-scim/restv1/v2
//	  public_url: https://scim.example.org   # how clients reach scimgate; default: from each request
//	  max_body_bytes: 1048576
//	  max_results: 200
//	  cursor_timeout: 1h
//	  cursor_key_file: /run/secrets/scimgate-cursor-key
//	  request_timeout: 30s
//	  shutdown_timeout: 20s
type ServerConfig struct {
	// Listen is the TCP address to serve HTTP on.
	Listen string `yaml:"listen"`

	// BasePath is the path prefix of the SCIM endpoints.
	BasePath string `yaml:"base_path"`

	// PublicURL is the scheme and host clients use to reach scimgate, for
	// the absolute URLs in Location headers and meta.location. Empty means
	// the scheme and Host of each request.
	PublicURL string `yaml:"public_url"`

	// MaxBodyBytes is the largest request body accepted; larger ones get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`

	// MaxResults is the most resources one list response holds; a larger
	// count is reduced to it (RFC 7644 section 3.4.2.4).
	MaxResults int `yaml:"max_results"`

	// CursorTimeout is how long a cursor (RFC 9865) stays valid after the
	// page that issued it; /ServiceProviderConfig advertises it.
	CursorTimeout time.Duration `yaml:"cursor_timeout"`

	// CursorKeyFile names a file holding the secret that signs cursors,
	// which every replica behind one load balancer must share. Without it
	// the key derives from the LDAP bind credentials, which replicas share
	// anyway; with neither, each process signs with a random key and a
	// cursor works only on the replica that issued it.
	CursorKeyFile string `yaml:"cursor_key_file"`

	// RequestTimeout bounds each request, LDAP operations included.
	RequestTimeout time.Duration `yaml:"request_timeout"`

	// ShutdownTimeout is how long in-flight requests may take to finish
	// after SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// DefaultServerConfig returns the defaults of the server section.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		Listen:          "127.0.0.1:8080",
		BasePath:        "/scim/v2",
		MaxBodyBytes:    1 << 20,
		MaxResults:      200,
		CursorTimeout:   time.Hour,
		RequestTimeout:  30 * time.Second,
		ShutdownTimeout: 20 * time.Second,
	}
}

// Validate reports every problem, each naming its key.
func (c ServerConfig) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("server.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port: %v", c.Listen, err)
	}
	if c.BasePath != "" && (!strings.HasPrefix(c.BasePath, "/") || strings.HasSuffix(c.BasePath, "/") || strings.ContainsAny(c.BasePath, ":*?#")) {
		bad("base_path", "%q must start with '/', not end with one, and be a plain path, e.g. /scim/v2", c.BasePath)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			bad("public_url", "%q must be an http(s) URL with a host and no path, e.g. https://scim.example.org", c.PublicURL)
		}
	}
	if c.MaxBodyBytes < 1024 {
		bad("max_body_bytes", "%d is too small (at least 1024)", c.MaxBodyBytes)
	}
	if c.MaxResults < 1 {
		bad("max_results", "must be at least 1, got %d", c.MaxResults)
	}
	if c.CursorTimeout <= 0 {
		bad("cursor_timeout", "must be positive, got %s", c.CursorTimeout)
	}
	if c.CursorKeyFile != "" {
		if b, err := os.ReadFile(c.CursorKeyFile); err != nil {
			bad("cursor_key_file", "%v", err)
		} else if len(strings.TrimSpace(string(b))) < 16 {
			bad("cursor_key_file", "%s holds %d characters; a key needs at least 16", c.CursorKeyFile, len(strings.TrimSpace(string(b))))
		}
	}
	if c.RequestTimeout <= 0 {
		bad("request_timeout", "must be positive, got %s", c.RequestTimeout)
	}
	if c.ShutdownTimeout < 0 {
		bad("shutdown_timeout", "must not be negative, got %s", c.ShutdownTimeout)
	}
	return errors.Join(errs...)
}

// Authentication modes.
const (
	AuthOAuth  = "oauth"
	AuthToken  = "token"
	AuthBypass = "bypass"
)

// AuthConfig is the "auth" section of the configuration.
//
//	auth:
//	  mode: token           # oauth | token | bypass
//	  tokens:
//	    - name: okta
//	      sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//	      scopes: [https://jans.io/scim/users.read, https://jans.io/scim/users.write]
//	  # or keep the same list in a file of its own:
//	  tokens_file: /etc/scimgate/tokens.yaml
type AuthConfig struct {
	// Mode is how requests are authenticated: "token" (static bearer
	// tokens, below), "bypass" (no checks at all: protect the network
	// instead), or "oauth" (tokens from an authorization server; not in
	// this version).
	Mode string `yaml:"mode"`

	// Tokens are the static bearer tokens accepted in token mode.
	Tokens []StaticToken `yaml:"tokens"`

	// TokensFile names a YAML file holding more tokens, as a list in the
	// form of Tokens.
	TokensFile string `yaml:"tokens_file"`
}

// StaticToken is one accepted bearer token. Only its SHA-256 is configured,
// never the token itself.
type StaticToken struct {
	// Name identifies the client in logs, e.g. "okta".
	Name string `yaml:"name"`
	// SHA256 is the hex SHA-256 of the token.
	SHA256 string `yaml:"sha256"`
	// Scopes the token grants, e.g. https://jans.io/scim/users.read.
	Scopes []string `yaml:"scopes"`
}

// LoadTokens returns the inline tokens and those of TokensFile.
func (c AuthConfig) LoadTokens() ([]StaticToken, error) {
	tokens := append([]StaticToken(nil), c.Tokens...)
	if c.TokensFile == "" {
		return tokens, nil
	}
	b, err := os.ReadFile(c.TokensFile)
	if err != nil {
		return nil, fmt.Errorf("auth.tokens_file: %w", err)
	}
	var more []StaticToken
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&more); err != nil {
		return nil, fmt.Errorf("auth.tokens_file: %s: %w", c.TokensFile, err)
	}
	return append(tokens, more...), nil
}

// Validate reports every problem, each naming its key.
func (c AuthConfig) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("auth.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch c.Mode {
	case AuthToken, AuthBypass:
	case AuthOAuth:
		bad("mode", "oauth (the default) is not available in this version yet: set token (static bearer tokens, see auth.tokens) or, behind a closed network only, bypass")
	default:
		bad("mode", "%q is not one of oauth, token, bypass", c.Mode)
	}
	tokens, err := c.LoadTokens()
	if err != nil {
		errs = append(errs, err)
	}
	if c.Mode == AuthToken && err == nil && len(tokens) == 0 {
		bad("tokens", "token mode needs at least one token (in auth.tokens or auth.tokens_file)")
	}
	names := map[string]bool{}
	for i, t := range tokens {
		key := fmt.Sprintf("tokens[%d]", i)
		if i >= len(c.Tokens) {
			key = fmt.Sprintf("tokens_file[%d]", i-len(c.Tokens))
		}
		if t.Name == "" {
			bad(key+".name", "every token needs a name, for the logs")
		} else if names[t.Name] {
			bad(key+".name", "%q is used twice", t.Name)
		}
		names[t.Name] = true
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != 32 {
			bad(key+".sha256", "must be 64 hex digits (the SHA-256 of the token, e.g. from `printf %%s TOKEN | sha256sum`)")
		}
		if len(t.Scopes) == 0 {
			bad(key+".scopes", "a token without scopes can do nothing; list its scopes")
		}
	}
	return errors.Join(errs...)
}
