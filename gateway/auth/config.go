package auth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Authentication modes (auth.mode).
const (
	ModeOAuth  = "oauth"
	ModeToken  = "token"
	ModeBypass = "bypass"
)

// How the gateway authenticates itself to the introspection endpoint.
const (
	// IntrospectBasic sends client_id and client_secret with HTTP Basic
	// authentication (RFC 6749 section 2.3.1).
	IntrospectBasic = "client_secret_basic"
	// IntrospectPost sends them in the form body.
	IntrospectPost = "client_secret_post"
	// IntrospectToken sends the token being checked as its own bearer
	// token: what the Janssen Server's SCIM module does.
	IntrospectToken = "token"
	// IntrospectNone sends no credentials (Ory Hydra's admin port).
	IntrospectNone = "none"
)

// Config is the "auth" section of the configuration.
//
//	auth:
//	  mode: oauth                        # oauth | token | bypass
//
//	  # oauth: bearer tokens from an authorization server (the Janssen Server's, or any OAuth 2.0 one)
//	  issuer: https://janssen.example.com   # discovery: <issuer>/.well-known/openid-configuration
//	  discovery_url: ""                  # when not <issuer>/.well-known/openid-configuration (Entra ID v1)
//	  introspection_url: ""              # default: the discovery document's introspection_endpoint
//	  introspection_auth: token          # client_secret_basic | client_secret_post | token | none
//	  client_id: ""                      # for client_secret_basic / client_secret_post
//	  client_secret_file: ""             # or client_secret (SCIMGATE_AUTH_CLIENT_SECRET)
//	  audience: ""                       # when set, tokens must be issued for it
//	  jwt_algorithms: [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA]
//	  jwt_hmac_key_file: ""              # allows HS256/384/512 JWTs signed with this key
//	  scope_claims: [scope, scp]
//	  granted_scopes: []                 # scopes every valid token gets (Entra ID tokens carry none of ours)
//	  cache_ttl: 5m
//	  negative_cache_ttl: 10s
//	  cache_size: 100000
//	  timeout: 5s
//	  jwks_refresh_interval: 10s
//
//	  # token: static bearer tokens, known by their SHA-256 (`scimgate token new` makes one)
//	  tokens:
//	    - name: okta
//	      sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//	      scopes: [https://jans.io/scim/users.read, https://jans.io/scim/users.write]
//	  tokens_file: /etc/scimgate/tokens.yaml   # the same list in a file of its own
//
//	  # every mode
//	  max_token_bytes: 8192              # longer bearer tokens get 401 unchecked
//	  failure_rate: 20                   # failed authentications a second per client address...
//	  failure_burst: 40                  # ...bursts of this many; past them 429, no check
//	  protect_discovery: false
//	  scopes:
//	    users_read: https://jans.io/scim/users.read
//	    users_write: https://jans.io/scim/users.write
//	    groups_read: https://jans.io/scim/groups.read
//	    groups_write: https://jans.io/scim/groups.write
//	    bulk: https://jans.io/scim/bulk
//	    all_resources_search: https://jans.io/scim/all-resources.search
type Config struct {
	// Mode is how requests are authenticated: "oauth" (bearer tokens from
	// an authorization server), "token" (static bearer tokens, below), or
	// "bypass" (no checks at all: protect the network instead).
	Mode string `yaml:"mode"`

	// Issuer is the authorization server's issuer URL. Its OpenID
	// discovery document gives the JWKS (for JWT access tokens) and the
	// introspection endpoint (for the others); JWTs must carry it as iss.
	Issuer string `yaml:"issuer"`

	// DiscoveryURL is the OpenID configuration document's URL, for servers
	// that do not serve it at <issuer>/.well-known/openid-configuration:
	// Entra ID's v1 tokens name https://sts.windows.net/<tenant>/ as issuer
	// and are described at https://login.microsoftonline.com/<tenant>/.well-known/openid-configuration.
	DiscoveryURL string `yaml:"discovery_url"`

	// IntrospectionURL is the RFC 7662 endpoint, when discovery does not
	// list it (Ory Hydra) or should be overridden. With no Issuer, only
	// introspection is used.
	IntrospectionURL string `yaml:"introspection_url"`

	// IntrospectionAuth is how the gateway authenticates to the
	// introspection endpoint: client_secret_basic, client_secret_post,
	// token (the token being checked, as its own bearer: Janssen's way),
	// or none. Default: client_secret_basic when ClientID is set, else token.
	IntrospectionAuth string `yaml:"introspection_auth"`

	// ClientID and the secret are the gateway's own client credentials
	// at the authorization server, for client_secret_basic and _post.
	ClientID string `yaml:"client_id"`
	// ClientSecret; prefer ClientSecretFile or SCIMGATE_AUTH_CLIENT_SECRET.
	ClientSecret string `yaml:"client_secret"`
	// ClientSecretFile holds the client secret (surrounding space trimmed).
	ClientSecretFile string `yaml:"client_secret_file"`

	// Audience, when set, must be among a token's aud values (JWT or
	// introspection answer).
	Audience string `yaml:"audience"`

	// JWTAlgorithms are the signature algorithms accepted on JWT access
	// tokens. "none" is never accepted; HS256/384/512 only with
	// JWTHMACKeyFile.
	JWTAlgorithms []string `yaml:"jwt_algorithms"`

	// JWTHMACKeyFile holds a shared key: JWTs signed with it by HMAC are
	// accepted. Leave empty unless the authorization server signs so.
	JWTHMACKeyFile string `yaml:"jwt_hmac_key_file"`

	// ScopeClaims are the JWT claims and introspection members that carry
	// a token's scopes: a space-separated string or a list.
	ScopeClaims []string `yaml:"scope_claims"`

	// GrantedScopes are given to every valid token on top of its own: for
	// authorization servers whose tokens cannot carry these scopes (Entra
	// ID's provisioning tokens). Then Audience must be set.
	GrantedScopes []string `yaml:"granted_scopes"`

	// CacheTTL bounds how long a token's check is reused; never past the
	// token's own expiry.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	// NegativeCacheTTL is how long a rejected token stays rejected
	// without asking again.
	NegativeCacheTTL time.Duration `yaml:"negative_cache_ttl"`
	// CacheSize bounds the number of tokens remembered.
	CacheSize int `yaml:"cache_size"`
	// Timeout bounds each call to the authorization server; past it the
	// request gets 503 with Retry-After.
	Timeout time.Duration `yaml:"timeout"`
	// JWKSRefreshInterval is the least time between two fetches of the
	// JWKS caused by JWTs with unknown key ids.
	JWKSRefreshInterval time.Duration `yaml:"jwks_refresh_interval"`

	// Tokens are the static bearer tokens accepted in token mode.
	Tokens []StaticToken `yaml:"tokens"`

	// TokensFile names a YAML file holding more tokens, as a list in the
	// form of Tokens.
	TokensFile string `yaml:"tokens_file"`

	// MaxTokenBytes bounds a bearer token's length; a longer one is
	// refused (401) without being checked.
	MaxTokenBytes int `yaml:"max_token_bytes"`
	// FailureRate is how many failed authentications a second one client
	// address may cause (oauth and token modes); past FailureBurst more,
	// a token that would have to be checked gets 429 with Retry-After
	// instead, and never reaches the authorization server. 0: no limit.
	FailureRate int `yaml:"failure_rate"`
	// FailureBurst is how many failed authentications one address may
	// cause at once above FailureRate; default FailureRate.
	FailureBurst int `yaml:"failure_burst"`

	// ProtectDiscovery requires a valid token (any scope) for
	// /ServiceProviderConfig, /Schemas and /ResourceTypes, which are
	// anonymous by default as in Janssen.
	ProtectDiscovery bool `yaml:"protect_discovery"`

	// Scopes name the scope each kind of request needs.
	Scopes Scopes `yaml:"scopes"`
}

// Scopes name the scope each kind of request needs; the defaults are the
// Janssen Server's names, so that its clients keep working.
type Scopes struct {
	UsersRead   string `yaml:"users_read"`
	UsersWrite  string `yaml:"users_write"`
	GroupsRead  string `yaml:"groups_read"`
	GroupsWrite string `yaml:"groups_write"`
	// Bulk is needed for POST /Bulk, on top of each operation's own scope.
	Bulk string `yaml:"bulk"`
	// AllResourcesSearch is needed for POST /.search, on top of the read
	// scope of each resource type searched.
	AllResourcesSearch string `yaml:"all_resources_search"`
}

// JanssenScopes are the Janssen Server's scope names.
var JanssenScopes = Scopes{
	UsersRead:          "https://jans.io/scim/users.read",
	UsersWrite:         "https://jans.io/scim/users.write",
	GroupsRead:         "https://jans.io/scim/groups.read",
	GroupsWrite:        "https://jans.io/scim/groups.write",
	Bulk:               "https://jans.io/scim/bulk",
	AllResourcesSearch: "https://jans.io/scim/all-resources.search",
}

// All lists the scopes, each once.
func (s Scopes) All() []string {
	var all []string
	for _, v := range []string{s.UsersRead, s.UsersWrite, s.GroupsRead, s.GroupsWrite, s.Bulk, s.AllResourcesSearch} {
		if !slices.Contains(all, v) {
			all = append(all, v)
		}
	}
	return all
}

// wellKnown ends the URL of an OpenID configuration document.
const wellKnown = "/.well-known/openid-configuration"

// DefaultJWTAlgorithms are the asymmetric JWS algorithms (RFC 7518, 8037).
var DefaultJWTAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

var hmacAlgorithms = []string{"HS256", "HS384", "HS512"}

// DefaultConfig is the auth section where the file says nothing.
func DefaultConfig() Config {
	return Config{
		Mode:                ModeOAuth,
		JWTAlgorithms:       DefaultJWTAlgorithms,
		ScopeClaims:         []string{"scope", "scp"},
		CacheTTL:            5 * time.Minute,
		NegativeCacheTTL:    10 * time.Second,
		CacheSize:           100_000,
		Timeout:             5 * time.Second,
		JWKSRefreshInterval: 10 * time.Second,
		MaxTokenBytes:       8192,
		FailureRate:         20,
		FailureBurst:        40,
		Scopes:              JanssenScopes,
	}
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
func (c Config) LoadTokens() ([]StaticToken, error) {
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

// secret returns the client secret, from ClientSecretFile if it is set.
func (c Config) secret() (string, error) {
	if c.ClientSecretFile == "" {
		return c.ClientSecret, nil
	}
	b, err := readSecretFile("auth.client_secret_file", c.ClientSecretFile)
	return string(b), err
}

// hmacKey returns the JWT HMAC key, nil without JWTHMACKeyFile.
func (c Config) hmacKey() ([]byte, error) {
	if c.JWTHMACKeyFile == "" {
		return nil, nil
	}
	return readSecretFile("auth.jwt_hmac_key_file", c.JWTHMACKeyFile)
}

// readSecretFile reads a secret kept in a file, without the surrounding
// space (a final newline, mostly); key names the setting in errors.
func readSecretFile(key, file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return bytes.TrimSpace(b), nil
}

// introspectionAuth is IntrospectionAuth with its default applied.
func (c Config) introspectionAuth() string {
	switch {
	case c.IntrospectionAuth != "":
		return c.IntrospectionAuth
	case c.ClientID != "":
		return IntrospectBasic
	}
	return IntrospectToken
}

// Validate reports every problem, each naming its key.
func (c Config) Validate() error {
	var p problems
	switch c.Mode {
	case ModeOAuth:
		c.validateOAuth(&p)
	case ModeToken, ModeBypass:
	default:
		p.bad("mode", "%q is not one of oauth, token, bypass", c.Mode)
	}
	c.validateStaticTokens(&p)
	if c.MaxTokenBytes < 512 {
		p.bad("max_token_bytes", "%d is too small (at least 512; tokens are rarely under 1 KiB)", c.MaxTokenBytes)
	}
	if c.FailureRate < 0 || c.FailureBurst < 0 {
		p.bad("failure_rate", "failure_rate and failure_burst must not be negative (failure_rate 0: no limit)")
	}
	for key, v := range map[string]string{
		"users_read": c.Scopes.UsersRead, "users_write": c.Scopes.UsersWrite,
		"groups_read": c.Scopes.GroupsRead, "groups_write": c.Scopes.GroupsWrite,
		"bulk": c.Scopes.Bulk, "all_resources_search": c.Scopes.AllResourcesSearch,
	} {
		if v == "" || strings.ContainsAny(v, " \t\"\\") {
			p.bad("scopes."+key, "%q is not a scope name (no spaces, quotes or backslashes; the default is Janssen's)", v)
		}
	}
	return errors.Join(p...)
}

// validateStaticTokens checks the tokens of auth.tokens and
// auth.tokens_file (in any mode: they are read in any mode).
func (c Config) validateStaticTokens(p *problems) {
	tokens, err := c.LoadTokens()
	p.add(err)
	if c.Mode == ModeToken && err == nil && len(tokens) == 0 {
		p.bad("tokens", "token mode needs at least one token (in auth.tokens or auth.tokens_file; `scimgate token new` makes one)")
	}
	names := map[string]bool{}
	for i, t := range tokens {
		key := fmt.Sprintf("tokens[%d]", i)
		if i >= len(c.Tokens) {
			key = fmt.Sprintf("tokens_file[%d]", i-len(c.Tokens))
		}
		if t.Name == "" {
			p.bad(key+".name", "every token needs a name, for the logs")
		} else if names[t.Name] {
			p.bad(key+".name", "%q is used twice", t.Name)
		}
		names[t.Name] = true
		if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != 32 {
			p.bad(key+".sha256", "must be 64 hex digits (the SHA-256 of the token, e.g. from `printf %%s TOKEN | sha256sum`)")
		}
		if len(t.Scopes) == 0 {
			p.bad(key+".scopes", "a token without scopes can do nothing; list its scopes")
		}
	}
}

// validateOAuth checks the keys of oauth mode.
func (c Config) validateOAuth(p *problems) {
	c.validateServer(p)
	c.validateCredentials(p)
	c.validateJWT(p)
	c.validateChecks(p)
}

// problems collects what is wrong, each naming its key.
type problems []error

func (p *problems) bad(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("auth.%s: %s", key, fmt.Sprintf(format, args...)))
}

func (p *problems) add(err error) {
	if err != nil {
		*p = append(*p, err)
	}
}

// validateServer checks where the authorization server is.
func (c Config) validateServer(p *problems) {
	checkURL := func(key, v string) {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			p.bad(key, "%q is not an http(s) URL", v)
		}
	}
	if c.Issuer == "" && c.IntrospectionURL == "" {
		p.bad("issuer", "oauth mode needs the authorization server: set auth.issuer (SCIMGATE_AUTH_ISSUER), "+
			"or auth.introspection_url alone for a server without discovery; "+
			"or choose mode token (static tokens) or bypass")
	}
	if c.Issuer != "" {
		checkURL("issuer", c.Issuer)
	}
	if c.IntrospectionURL != "" {
		checkURL("introspection_url", c.IntrospectionURL)
	}
	if c.DiscoveryURL != "" {
		checkURL("discovery_url", c.DiscoveryURL)
		if !strings.HasSuffix(c.DiscoveryURL, wellKnown) {
			p.bad("discovery_url", "%q does not end in %s", c.DiscoveryURL, wellKnown)
		}
		if c.Issuer == "" {
			p.bad("discovery_url", "needs auth.issuer too: the iss that tokens must carry")
		}
	}
}

// validateCredentials checks how the gateway authenticates to the
// introspection endpoint.
func (c Config) validateCredentials(p *problems) {
	secret, err := c.secret()
	p.add(err)
	switch m := c.introspectionAuth(); m {
	case IntrospectBasic, IntrospectPost:
		if c.ClientID == "" {
			p.bad("client_id", "introspection_auth %s needs the gateway's client id", m)
		}
		if err == nil && secret == "" {
			p.bad("client_secret", "introspection_auth %s needs the client secret (auth.client_secret_file, or SCIMGATE_AUTH_CLIENT_SECRET)", m)
		}
	case IntrospectToken, IntrospectNone:
	default:
		p.bad("introspection_auth", "%q is not one of client_secret_basic, client_secret_post, token, none", m)
	}
}

// validateJWT checks the algorithms and the HMAC key.
func (c Config) validateJWT(p *problems) {
	if len(c.JWTAlgorithms) == 0 {
		p.bad("jwt_algorithms", "list at least one algorithm, e.g. RS256")
	}
	for _, a := range c.JWTAlgorithms {
		switch {
		case slices.Contains(DefaultJWTAlgorithms, a):
		case slices.Contains(hmacAlgorithms, a):
			if c.JWTHMACKeyFile == "" {
				p.bad("jwt_algorithms", "%s needs the shared key in auth.jwt_hmac_key_file", a)
			}
		case strings.EqualFold(a, "none"):
			p.bad("jwt_algorithms", "none would accept unsigned tokens: remove it")
		default:
			p.bad("jwt_algorithms", "%q is not a JWS algorithm (%s, or HS256/384/512 with a key)", a, strings.Join(DefaultJWTAlgorithms, ", "))
		}
	}
	if key, err := c.hmacKey(); err != nil {
		p.add(err)
	} else if c.JWTHMACKeyFile != "" && len(key) < 32 {
		p.bad("jwt_hmac_key_file", "the key has %d bytes; HMAC keys need at least 32", len(key))
	}
}

// validateChecks checks how tokens are read and how long checks are kept.
func (c Config) validateChecks(p *problems) {
	if len(c.ScopeClaims) == 0 {
		p.bad("scope_claims", "list the claims that carry scopes, e.g. [scope, scp]")
	}
	if len(c.GrantedScopes) > 0 && c.Audience == "" {
		p.bad("granted_scopes", "granting scopes to every valid token needs auth.audience, so that only tokens issued for scimgate get them")
	}
	for key, d := range map[string]time.Duration{"cache_ttl": c.CacheTTL, "timeout": c.Timeout, "jwks_refresh_interval": c.JWKSRefreshInterval} {
		if d <= 0 {
			p.bad(key, "must be positive, got %s", d)
		}
	}
	if c.NegativeCacheTTL < 0 {
		p.bad("negative_cache_ttl", "must not be negative, got %s", c.NegativeCacheTTL)
	}
	if c.CacheSize < 2 {
		p.bad("cache_size", "must be at least 2, got %d", c.CacheSize)
	}
}
