package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/schema"
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
//	  shutdown_delay: 0s             # Kubernetes: 5s
//	  admin_listen: 127.0.0.1:9090   # /metrics, /loglevel, /debug/pprof on a listener of their own; "": none (no metrics)
//	  trusted_proxies: [10.0.0.0/8]  # proxies whose client_ip_header names the client; default: none
//	  client_ip_header: X-Forwarded-For   # or Forwarded, X-Real-IP
//	  rate_limit: 0                  # requests a second per client (token identity); 0: no limit
//	  rate_burst: 0                  # default: rate_limit
//	  max_filter_length: 4096
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

	// CursorKeyFile names a file holding the random key that signs
	// cursors, which every replica behind one load balancer must share
	// (make one with: head -c 32 /dev/urandom | base64). Without it each
	// process signs with a random key of its own, and a cursor works only
	// on the replica that issued it (another answers 400 invalidCursor).
	CursorKeyFile string `yaml:"cursor_key_file"`

	// RequestTimeout bounds each request, LDAP operations included.
	RequestTimeout time.Duration `yaml:"request_timeout"`

	// ShutdownTimeout is how long in-flight requests may take to finish
	// after SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// ShutdownDelay is how long, after SIGTERM, scimgate answers /readyz
	// with 503 while still serving, before it stops accepting: time for a
	// load balancer to stop sending (Kubernetes: a few seconds). 0 stops
	// accepting at once.
	ShutdownDelay time.Duration `yaml:"shutdown_delay"`

	// AdminListen is a TCP address for the operator's endpoints: /metrics
	// (Prometheus), /loglevel (GET the level, PUT {"level":"debug"} to
	// change it at run time), /healthz and Go's profiler (/debug/pprof/).
	// Empty: none of them, so no metrics (they name the directory's URLs:
	// never on Listen); the log level is fixed.
	AdminListen string `yaml:"admin_listen"`

	// RateLimit is how many requests a second each client may make (the
	// identity behind its token: a static token's name, an OAuth client
	// id); more get 429 with Retry-After. 0: no limit. A bulk request
	// counts as one.
	RateLimit int `yaml:"rate_limit"`
	// RateBurst is how many requests a client may make at once above its
	// rate; default RateLimit.
	RateBurst int `yaml:"rate_burst"`

	// TrustedProxies are the addresses (CIDRs, or single IPs) of the
	// proxies in front of scimgate whose forwarding header says who the
	// client is. From any other peer, forwarding headers are ignored: the
	// peer is the client. Default: none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ClientIPHeader is the header the trusted proxies set to name the
	// client: X-Forwarded-For (default), Forwarded (RFC 7239) or X-Real-IP.
	ClientIPHeader string `yaml:"client_ip_header"`

	// MaxFilterLength bounds a filter's length in characters (its nesting
	// is bounded by the parser); longer ones get 400 invalidFilter.
	MaxFilterLength int `yaml:"max_filter_length"`
}

// DefaultServerConfig returns the defaults of the server section.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		Listen:          "127.0.0.1:8080",
		BasePath:        "/scim/v2",
		MaxBodyBytes:    1 << 20,
		MaxResults:      200,
		MaxFilterLength: 4096,
		ClientIPHeader:  headerXFF,
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
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			bad("admin_listen", "%q is not host:port: %v", c.AdminListen, err)
		} else if c.AdminListen == c.Listen {
			bad("admin_listen", "must differ from server.listen")
		}
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
	if _, err := newProxies(c); err != nil {
		errs = append(errs, err)
	}
	if c.RateLimit < 0 || c.RateBurst < 0 {
		bad("rate_limit", "rate_limit and rate_burst must not be negative")
	}
	if c.MaxFilterLength < 64 {
		bad("max_filter_length", "%d is too small (at least 64)", c.MaxFilterLength)
	}
	if c.RequestTimeout <= 0 {
		bad("request_timeout", "must be positive, got %s", c.RequestTimeout)
	}
	if c.ShutdownDelay < 0 {
		bad("shutdown_delay", "must not be negative, got %s", c.ShutdownDelay)
	}
	if c.ShutdownTimeout < 0 {
		bad("shutdown_timeout", "must not be negative, got %s", c.ShutdownTimeout)
	}
	return errors.Join(errs...)
}

// BulkConfig is the "bulk" section: the limits of POST /Bulk (RFC 7644
// section 3.7), advertised as they are in /ServiceProviderConfig.
//
//	bulk:
//	  max_operations: 30            # Janssen's default
//	  max_payload_bytes: 3072000    # Janssen's default
type BulkConfig struct {
	// MaxOperations is the most operations one bulk request may hold;
	// more get 413. 0 turns /Bulk off (501, and unsupported in
	// /ServiceProviderConfig).
	MaxOperations int `yaml:"max_operations"`
	// MaxPayloadBytes is the largest bulk request body; larger get 413.
	MaxPayloadBytes int64 `yaml:"max_payload_bytes"`
}

// DefaultBulkConfig returns Janssen's limits.
func DefaultBulkConfig() BulkConfig {
	return BulkConfig{MaxOperations: 30, MaxPayloadBytes: 3_072_000}
}

// Validate reports every problem, each naming its key.
func (c BulkConfig) Validate() error {
	var errs []error
	if c.MaxOperations < 0 || c.MaxOperations > 10_000 {
		errs = append(errs, fmt.Errorf("bulk.max_operations: %d is not between 0 (no bulk) and 10000", c.MaxOperations))
	}
	if c.MaxPayloadBytes < 1024 {
		errs = append(errs, fmt.Errorf("bulk.max_payload_bytes: %d is too small (at least 1024)", c.MaxPayloadBytes))
	}
	return errors.Join(errs...)
}

// PatchConfig is the "patch" section: the bounds of one PATCH (RFC 7644
// section 3.5.2), and of each PATCH inside /Bulk. SCIM has no place to
// advertise them (/ServiceProviderConfig's patch says only "supported"):
// docs/operations.md states them.
//
//	patch:
//	  max_operations: 1000   # operations in one PATCH; more get 400 tooMany
type PatchConfig struct {
	// MaxOperations is the most operations one PATCH may hold, counting
	// each dotted or URN key of a path-less value as one; more get 400
	// tooMany naming this key, before anything is read.
	MaxOperations int `yaml:"max_operations"`
}

// DefaultPatchConfig returns the defaults of the patch section.
func DefaultPatchConfig() PatchConfig { return PatchConfig{MaxOperations: 1000} }

// Validate reports a problem, naming its key.
func (c PatchConfig) Validate() error {
	if c.MaxOperations < 1 || c.MaxOperations > 100_000 {
		return fmt.Errorf("patch.max_operations: %d is not between 1 and 100000", c.MaxOperations)
	}
	return nil
}

// ResponseConfig is the gateway's part of the "users" and "groups"
// sections (the rest is ldapstore.UsersConfig, GroupsConfig): how it answers writes
// of that resource type. RFC 7644 section 3.5.2 lets a PATCH answer 200
// with the resource or 204 without it; either way the new ETag comes with
// it, and with attributes or excludedAttributes the answer is 200 with
// what they ask.
//
//	users:
//	  patch_response: 200   # 200: the user; 204: no body
//	groups:
//	  patch_response: 204   # 204: no body (as Entra ID prefers); 200: the group, its members streamed
type ResponseConfig struct {
	// PatchResponse is the status of a successful PATCH: 200 (the
	// resource, as a GET would answer it) or 204 (no body). 0: the
	// default, 200 for users and 204 for groups.
	PatchResponse int `yaml:"patch_response"`
}

// Validate reports a problem, naming its key under section.
func (c ResponseConfig) Validate(section string) error {
	switch c.PatchResponse {
	case 0, http.StatusOK, http.StatusNoContent:
		return nil
	}
	return fmt.Errorf("%s.patch_response: %d is not 200 or 204", section, c.PatchResponse)
}

// MeConfig is the "me" section: how /Me (RFC 7644 section 3.11) finds the
// user a token stands for.
//
//	me:
//	  claim: sub            # the token claim naming the user; "" turns /Me off (501)
//	  attribute: userName   # the users' SCIM attribute that holds the claim's value
//	  methods: [GET]        # what a user may do to their own entry through /Me
//	  scope: ""             # a scope the token must hold for /Me, if any
//	  writable: []          # read-only attributes /Me may change after all, e.g. [password]
type MeConfig struct {
	// Claim is the claim of the OAuth token (JWT or introspection answer)
	// that names the user, e.g. sub. Empty: /Me answers 501.
	Claim string `yaml:"claim"`
	// Attribute is the SCIM attribute of users compared (eq) with the
	// claim's value: userName (uid in the openldap profile), id,
	// externalId, emails.value...
	Attribute string `yaml:"attribute"`
	// Methods are what /Me allows: GET, PUT, PATCH, DELETE. The user acts
	// on their own entry with exactly these rights, whatever the token's
	// users scopes say.
	Methods []string `yaml:"methods"`
	// Scope, when set, must be held by the token for any /Me request.
	// With write methods, Scope or auth.audience must be set, so that a
	// token issued for another client cannot change its user's entry.
	Scope string `yaml:"scope"`
	// Writable lists, of the attributes that are read-only through /Me
	// (active, userName, the attribute named by Attribute, roles,
	// entitlements, password and the enterprise extension, by its URN),
	// those a user may change after all, e.g. [password]. Through /Me a
	// user never changes groups, and an inactive user nothing at all.
	Writable []string `yaml:"writable"`
}

// meReadOnly are the attributes a user may not change through /Me unless
// me.writable lists them (me.attribute's is added).
var meReadOnly = []string{"active", "userName", "roles", "entitlements", "password", schema.EnterpriseUserURN}

// frozen returns the attributes a /Me write must leave as they are.
func (c MeConfig) frozen() []string {
	list := append(slices.Clone(meReadOnly), "groups", c.attributeName())
	return slices.DeleteFunc(list, func(a string) bool {
		return slices.ContainsFunc(c.Writable, func(w string) bool { return strings.EqualFold(w, a) })
	})
}

// attributeName is the attribute that Attribute names, as Frozen names
// attributes: the core attribute, or URN:attribute for an extension's.
func (c MeConfig) attributeName() string {
	p, err := schema.ParsePath(c.Attribute)
	if err != nil || p.URN == "" || strings.EqualFold(p.URN, schema.UserURN) {
		return p.Attr
	}
	return p.URN + ":" + p.Attr
}

// writes reports whether Methods lets a user change their own entry.
func (c MeConfig) writes() bool {
	return slices.ContainsFunc(c.Methods, func(m string) bool { return !strings.EqualFold(m, http.MethodGet) })
}

// DefaultMeConfig returns /Me off, reading only once turned on.
func DefaultMeConfig() MeConfig {
	return MeConfig{Attribute: "userName", Methods: []string{http.MethodGet}}
}

// Validate reports every problem, each naming its key; a is the auth
// section, which /Me's writes depend on.
func (c MeConfig) Validate(a auth.Config) error {
	var errs []error
	if c.Claim != "" && c.Attribute == "" {
		errs = append(errs, errors.New("me.attribute: name the users' attribute that holds the claim's value, e.g. userName"))
	}
	if c.Claim != "" && c.writes() && a.Audience == "" && c.Scope == "" {
		errs = append(errs, errors.New("me.methods: writes through /Me need auth.audience (tokens issued for this gateway only) or me.scope "+
			"(a scope such tokens hold): otherwise a token issued for any other client could change its user's entry"))
	}
	for _, w := range c.Writable {
		if !slices.ContainsFunc(append(slices.Clone(meReadOnly), c.attributeName()), func(a string) bool { return strings.EqualFold(a, w) }) {
			errs = append(errs, fmt.Errorf("me.writable: %q is not read-only through /Me; list only some of %s, %s",
				w, strings.Join(meReadOnly, ", "), c.attributeName()))
		}
	}
	for _, m := range c.Methods {
		switch strings.ToUpper(m) {
		case http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			errs = append(errs, fmt.Errorf("me.methods: %q is not one of GET, PUT, PATCH, DELETE", m))
		}
	}
	return errors.Join(errs...)
}
