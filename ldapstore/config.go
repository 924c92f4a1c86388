package ldapstore

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// Config is how scimgate connects to the directory: the "ldap" section of the
// configuration file.
//
//	ldap:
//	  # Directory servers, in order of preference: ldap://host:389 or ldaps://host:636.
//	  urls: [ldap://ldap.example.org:389]
//	  # The service account scimgate binds as, and its password (or a file holding it).
//	  bind_dn: cn=scimgate,ou=services,dc=example,dc=org
//	  bind_password_file: /run/secrets/ldap_password
//	  # Upgrade ldap:// connections with StartTLS; verify the server with this CA bundle.
//	  start_tls: true
//	  ca_file: /etc/ssl/certs/ldap-ca.pem
//	  # A client certificate, for directories that ask for one.
//	  client_cert_file: /etc/scimgate/ldap-client.pem
//	  client_key_file: /etc/scimgate/ldap-client.key
//	  # Sending the bind password over plain ldap:// to a host other than this one is refused unless:
//	  allow_plaintext_bind: false
//	  # Pool: at most max_open connections, of which max_idle are kept when idle.
//	  max_open: 16
//	  max_idle: 8
//	  dial_timeout: 5s
//	  operation_timeout: 30s
//	  conn_max_lifetime: 30m
//	  # Idle connections unused this long are closed; 0 keeps them.
//	  conn_max_idle_time: 5m
//	  health_check_after: 30s
//	  # Failover: a server that does not answer is retried after a backoff up to this;
//	  # connections to a fallback server move back to the first one after failback_after.
//	  retry_backoff_max: 5s
//	  failback_after: 30s
type Config struct {
	// URLs of the directory servers; a connection goes to the first that
	// answers. Each is ldap://host[:port] or ldaps://host[:port].
	URLs []string `yaml:"urls"`

	// BindDN is the DN scimgate binds as. Empty means an anonymous bind,
	// which is rarely what a writer wants.
	BindDN string `yaml:"bind_dn"`

	// BindPassword is the password of BindDN. BindPasswordFile names a file
	// holding it instead (a trailing newline is ignored); set one, not both.
	BindPassword     string `yaml:"bind_password"`
	BindPasswordFile string `yaml:"bind_password_file"`

	// StartTLS upgrades ldap:// connections to TLS before binding.
	StartTLS bool `yaml:"start_tls"`

	// CAFile is a PEM bundle of the certificate authorities that may sign
	// the server's certificate; empty means the system's roots.
	CAFile string `yaml:"ca_file"`

	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`

	// DialTimeout bounds connecting, TLS and binding. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`

	// OperationTimeout bounds one LDAP operation when the request's own
	// deadline is later or absent. Default 30s.
	OperationTimeout time.Duration `yaml:"operation_timeout"`

	// MaxOpen is the most connections open at once, busy or idle; a request
	// that finds all busy waits for one until its context ends. Default 16.
	MaxOpen int `yaml:"max_open"`

	// MaxIdle is the most idle connections kept for reuse. Default 8.
	MaxIdle int `yaml:"max_idle"`

	// ConnMaxLifetime closes connections older than this when they are
	// returned, so that load spreads again after a failover. 0 keeps them
	// (no limit, as database/sql). Default 30m.
	ConnMaxLifetime time.Duration `yaml:"conn_max_lifetime"`

	// ConnMaxIdleTime closes connections that sit idle longer than this,
	// found by a cleaner that runs every half of it (every second at
	// least) and when borrowed, as database/sql's SetConnMaxIdleTime: a
	// quiet gateway keeps no connection that a firewall or the directory
	// may have dropped silently. 0 is no limit. Default 5m.
	ConnMaxIdleTime time.Duration `yaml:"conn_max_idle_time"`

	// HealthCheckAfter is how long a connection may sit idle before it is
	// checked with a cheap request when borrowed. Default 30s.
	HealthCheckAfter time.Duration `yaml:"health_check_after"`

	// ClientCertFile and ClientKeyFile are a PEM certificate and key the
	// gateway presents when the directory asks for one (TLS only).
	ClientCertFile string `yaml:"client_cert_file"`
	ClientKeyFile  string `yaml:"client_key_file"`

	// AllowPlaintextBind allows binding with a password over ldap://
	// without StartTLS to a host that is not this machine. Off, such a
	// configuration is refused: the password would cross the network in
	// clear.
	AllowPlaintextBind bool `yaml:"allow_plaintext_bind"`

	// RetryBackoffMax bounds how long a server that failed to answer is
	// left alone before the next dial tries it again (the backoff starts
	// at 100ms and doubles). When every server is in backoff, requests
	// fail at once with 503.
	RetryBackoffMax time.Duration `yaml:"retry_backoff_max"`

	// FailbackAfter is how long a connection to a server other than the
	// first of URLs lives before it is closed in favour of a preferred
	// server that answers again.
	FailbackAfter time.Duration `yaml:"failback_after"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.DialTimeout == 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.OperationTimeout == 0 {
		c.OperationTimeout = 30 * time.Second
	}
	if c.MaxOpen == 0 {
		c.MaxOpen = 16
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = 8
	}
	if c.ConnMaxLifetime == 0 {
		c.ConnMaxLifetime = 30 * time.Minute
	}
	if c.ConnMaxIdleTime == 0 {
		c.ConnMaxIdleTime = 5 * time.Minute
	}
	if c.HealthCheckAfter == 0 {
		c.HealthCheckAfter = 30 * time.Second
	}
	if c.RetryBackoffMax == 0 {
		c.RetryBackoffMax = 5 * time.Second
	}
	if c.FailbackAfter == 0 {
		c.FailbackAfter = 30 * time.Second
	}
	return c
}

// Validate reports every problem in c, each naming its key under the "ldap"
// section.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("ldap.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if len(c.URLs) == 0 {
		bad("urls", "at least one directory URL is needed, e.g. ldap://127.0.0.1:389")
	}
	for i, raw := range c.URLs {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			bad(fmt.Sprintf("urls[%d]", i), "%q is not a URL: %v", raw, err)
		case u.Scheme != "ldap" && u.Scheme != "ldaps":
			bad(fmt.Sprintf("urls[%d]", i), "%q: the scheme must be ldap or ldaps", raw)
		case u.Host == "":
			bad(fmt.Sprintf("urls[%d]", i), "%q has no host", raw)
		case u.Scheme == "ldaps" && c.StartTLS:
			bad("start_tls", "%q already uses TLS; StartTLS applies to ldap:// URLs only", raw)
		case u.Scheme == "ldap" && !c.StartTLS && c.BindDN != "" && !c.AllowPlaintextBind && !isLoopback(u.Hostname()):
			bad(fmt.Sprintf("urls[%d]", i), "%q: the bind password would cross the network in clear; use ldaps://, or ldap.start_tls: true, "+
				"or (on a network you trust) ldap.allow_plaintext_bind: true", raw)
		}
	}
	if c.BindPassword != "" && c.BindPasswordFile != "" {
		bad("bind_password_file", "set either bind_password or bind_password_file, not both")
	}
	if c.BindPasswordFile != "" {
		if _, err := os.ReadFile(c.BindPasswordFile); err != nil {
			bad("bind_password_file", "%v", err)
		}
	}
	if c.BindDN == "" && (c.BindPassword != "" || c.BindPasswordFile != "") {
		bad("bind_dn", "a bind password is set but no bind_dn")
	}
	if c.CAFile != "" {
		if _, err := c.tlsRoots(); err != nil {
			bad("ca_file", "%v", err)
		}
	}
	switch {
	case (c.ClientCertFile == "") != (c.ClientKeyFile == ""):
		bad("client_cert_file", "set both client_cert_file and client_key_file, or neither")
	case c.ClientCertFile != "":
		if _, err := tls.LoadX509KeyPair(c.ClientCertFile, c.ClientKeyFile); err != nil {
			bad("client_cert_file", "%v", err)
		}
	}
	for key, d := range map[string]time.Duration{
		"dial_timeout": c.DialTimeout, "operation_timeout": c.OperationTimeout,
		"conn_max_lifetime": c.ConnMaxLifetime, "conn_max_idle_time": c.ConnMaxIdleTime, "health_check_after": c.HealthCheckAfter,
		"retry_backoff_max": c.RetryBackoffMax, "failback_after": c.FailbackAfter,
	} {
		if d < 0 {
			bad(key, "must not be negative, got %s", d)
		}
	}
	if c.MaxOpen < 0 {
		bad("max_open", "must not be negative, got %d", c.MaxOpen)
	}
	if c.MaxIdle < 0 {
		bad("max_idle", "must not be negative, got %d", c.MaxIdle)
	}
	if c.MaxOpen > 0 && c.MaxIdle > c.MaxOpen {
		bad("max_idle", "%d is more than max_open (%d)", c.MaxIdle, c.MaxOpen)
	}
	return errors.Join(errs...)
}

// password returns the bind password, reading BindPasswordFile if set.
func (c Config) password() (string, error) {
	if c.BindPasswordFile == "" {
		return c.BindPassword, nil
	}
	b, err := os.ReadFile(c.BindPasswordFile)
	if err != nil {
		return "", fmt.Errorf("ldap.bind_password_file: %w", err)
	}
	return trimNewline(string(b)), nil
}

func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

func (c Config) tlsRoots() (*x509.CertPool, error) {
	if c.CAFile == "" {
		return nil, nil // the system's roots
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", c.CAFile)
	}
	return pool, nil
}

// tlsConfig returns the TLS settings for a connection to host.
func (c Config) tlsConfig(hostport string) (*tls.Config, error) {
	roots, err := c.tlsRoots()
	if err != nil {
		return nil, fmt.Errorf("ldap.ca_file: %w", err)
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	cfg := &tls.Config{
		ServerName:         host,
		RootCAs:            roots,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // documented as for tests only
	}
	if c.ClientCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.ClientCertFile, c.ClientKeyFile)
		if err != nil {
			return nil, fmt.Errorf("ldap.client_cert_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Validate reports a missing or malformed base DN, or a negative name
// length, naming the key.
func (c ResourceConfig) Validate(section string) error {
	if c.BaseDN == "" {
		return fmt.Errorf("%s.base_dn: required: the DN of the subtree that holds the %s", section, section)
	}
	if _, err := ldap.ParseDN(c.BaseDN); err != nil {
		return fmt.Errorf("%s.base_dn: %q is not a DN: %v", section, c.BaseDN, err)
	}
	if c.MaxNameLength < 0 {
		return fmt.Errorf("%s.max_name_length: must not be negative (0: the default, %d), got %d", section, DefaultMaxNameLength, c.MaxNameLength)
	}
	return nil
}

// Validate reports an unknown users.manager.unresolved or a resolve entry
// that is not an attribute path, naming the key.
func (c ManagerConfig) Validate() error {
	var errs []error
	switch c.Unresolved {
	case "", ManagerKeep, ManagerReject, ManagerDrop:
	default:
		errs = append(errs, fmt.Errorf("users.manager.unresolved: %q is not keep, reject or drop", c.Unresolved))
	}
	for _, a := range c.Resolve {
		if _, err := schema.ParsePath(a); err != nil {
			errs = append(errs, fmt.Errorf("users.manager.resolve: %q is not a SCIM attribute: %v", a, err))
		}
	}
	return errors.Join(errs...)
}

// DefaultMaxNameLength is the default of max_name_length: OpenLDAP's mdb
// cannot index a DN whose naming value is longer than about 240 bytes.
const DefaultMaxNameLength = 200

// ResourceConfig is what the "users" and "groups" sections share: where
// the resources live. Each section adds the keys of its mapping
// (UsersConfig, GroupsConfig).
//
//	users:
//	  base_dn: ou=people,dc=example,dc=org
//	  max_name_length: 200   # most characters of a userName (groups: of a displayName)
type ResourceConfig struct {
	// BaseDN is the subtree that holds the resources; new entries are
	// created directly below it.
	BaseDN string `yaml:"base_dn"`

	// MaxNameLength is the most characters a user's userName (a group's
	// displayName) may have; a longer one is refused with 400
	// invalidValue before any LDAP work. It keeps names within what the
	// directory can index as a DN. 0: the default, 200.
	MaxNameLength int `yaml:"max_name_length"`
}

// UsersConfig is the "users" section of the configuration: where users
// live, and how their mapping differs from the directory profile's (see
// schema.UserMappingConfig). Keys only groups have (members...) are
// unknown here.
//
//	users:
//	  base_dn: ou=people,dc=example,dc=org
//	  max_name_length: 200
//	  manager:               # what a manager.value that is no user's id names (ManagerConfig)
//	    resolve: [id, employeeNumber, userName]
//	    unresolved: keep     # keep (as given, until that user appears) | reject (400) | drop
//	  member_of: memberOf
//	  attributes:
//	    - {scim: externalId, ldap: employeeNumber}
type UsersConfig struct {
	ResourceConfig           `yaml:",inline"`
	schema.UserMappingConfig `yaml:",inline"`
}

// GroupsConfig is the "groups" section of the configuration: where groups
// live, and how their mapping differs from the directory profile's (see
// schema.GroupMappingConfig). Keys only users have (active, password,
// member_of...) are unknown here.
//
//	groups:
//	  base_dn: ou=groups,dc=example,dc=org
//	  max_name_length: 200
//	  members: uniqueMember
type GroupsConfig struct {
	ResourceConfig            `yaml:",inline"`
	schema.GroupMappingConfig `yaml:",inline"`
}

// ManagerConfig is users.manager: how the Enterprise User's manager.value
// finds the user it names. Okta fills it from an HR employee number,
// Microsoft's examples with a userName, SCIM with an id.
type ManagerConfig struct {
	// Resolve lists the users' SCIM attributes a manager.value is looked
	// up by, in order, the first match winning; the directory keeps the
	// DN of the user found in its manager attribute. Default [id,
	// employeeNumber, userName].
	Resolve []string `yaml:"resolve"`
	// Unresolved says what becomes of a value that names no user:
	// "keep" (the default) keeps it as given (scimgate's schema:
	// scimManager) and reads it back as manager.value, until a user it
	// names is created, then the DN; "reject" refuses it (400); "drop"
	// leaves the user without a manager.
	Unresolved string `yaml:"unresolved"`
}

// The values of users.manager.unresolved.
const (
	ManagerKeep   = "keep"
	ManagerReject = "reject"
	ManagerDrop   = "drop"
)

// withDefaults fills what is unset.
func (c ManagerConfig) withDefaults() ManagerConfig {
	if len(c.Resolve) == 0 {
		c.Resolve = []string{"id", schema.EnterpriseUserURN + ":employeeNumber", "userName"}
	}
	if c.Unresolved == "" {
		c.Unresolved = ManagerKeep
	}
	return c
}

// SearchConfig is the "search" section: how lists and searches are paged
// and sorted.
//
//	search:
//	  max_candidates: 1000000   # most results one list or search may order; more is 400 tooMany
//	  max_concurrent_scans: 2   # large queries ordered at once; more wait (within their deadline, then 503)
//	  index: auto               # auto: keep an order index where the directory streams its changes; off: never
//	  snapshot_cache: 64MiB     # memory for the ordered ids of recent queries (bytes; KiB/MiB/GiB)
//	  snapshot_max_age: 5m      # how long a walk's later pages reuse the order its first page saw
//	  poll_interval: 2s         # Active Directory: how often the order index asks DirSync what changed
type SearchConfig struct {
	// MaxCandidates is the most resources a list or search orders. A query
	// matching more is refused (400 tooMany) with advice to narrow it.
	// Each candidate costs the gateway about 100 bytes while it is
	// ordered (more with a long sort key).
	MaxCandidates int `yaml:"max_candidates"`

	// MaxConcurrentScans is how many queries too large for one search
	// (more than 1,000 matches) the gateway orders at once; each holds up
	// to MaxCandidates candidates. Identical queries share one scan. More
	// wait for their turn within their deadline, then get 503 with
	// Retry-After. The memory for lists is about MaxConcurrentScans ×
	// MaxCandidates × 100 bytes, plus SnapshotCache.
	MaxConcurrentScans int `yaml:"max_concurrent_scans"`

	// Index says whether each replica keeps an order index of the users
	// and groups in memory, fed by the directory's change stream (RFC 4533:
	// OpenLDAP's syncprov overlay, 389's content sync plugin), so that any
	// page of any size of list costs O(log n + page) with an exact total:
	// "auto" (the default) where the directory offers the stream, "off"
	// never. Without it, lists take snapshots (above). docs/search.md.
	// Active Directory has no stream: the index polls its DirSync control
	// every PollInterval instead.
	Index string `yaml:"index"`

	// PollInterval is how often, on Active Directory, the order index asks
	// the DirSync control what changed: a change made by another program
	// (or replica) shows in this replica's lists within about this long;
	// this replica's own writes show at once. Each poll is one search.
	PollInterval time.Duration `yaml:"poll_interval"`

	// SnapshotCache bounds the memory kept for the ordered ids of recent
	// queries (snapshots), which make the pages after the first cost one
	// indexed search. Written as bytes, or with KiB, MiB or GiB.
	SnapshotCache ByteSize `yaml:"snapshot_cache"`

	// SnapshotMaxAge is how long the pages after the first of a query reuse
	// its snapshot before it is taken again. First pages always see the
	// directory as it is.
	SnapshotMaxAge time.Duration `yaml:"snapshot_max_age"`
}

// The values of search.index.
const (
	IndexAuto = "auto"
	IndexOff  = "off"
)

// WithDefaults fills what is unset.
func (c SearchConfig) WithDefaults() SearchConfig {
	if c.MaxCandidates == 0 {
		c.MaxCandidates = 1_000_000
	}
	if c.MaxConcurrentScans == 0 {
		c.MaxConcurrentScans = 2
	}
	if c.Index == "" {
		c.Index = IndexAuto
	}
	if c.SnapshotCache == 0 {
		c.SnapshotCache = 64 << 20
	}
	if c.SnapshotMaxAge == 0 {
		c.SnapshotMaxAge = 5 * time.Minute
	}
	if c.PollInterval == 0 {
		c.PollInterval = 2 * time.Second
	}
	return c
}

// Validate names the key that is wrong.
func (c SearchConfig) Validate() error {
	var errs []error
	if c.MaxCandidates < 1 {
		errs = append(errs, fmt.Errorf("search.max_candidates: must be at least 1, got %d", c.MaxCandidates))
	}
	if c.Index != IndexAuto && c.Index != IndexOff {
		errs = append(errs, fmt.Errorf("search.index: %q is not auto or off", c.Index))
	}
	if c.MaxConcurrentScans < 1 {
		errs = append(errs, fmt.Errorf("search.max_concurrent_scans: must be at least 1, got %d", c.MaxConcurrentScans))
	}
	if c.SnapshotCache < 0 {
		errs = append(errs, fmt.Errorf("search.snapshot_cache: must not be negative"))
	}
	if c.SnapshotMaxAge < 0 {
		errs = append(errs, fmt.Errorf("search.snapshot_max_age: must not be negative"))
	}
	if c.PollInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("search.poll_interval: must be at least 100ms, got %s", c.PollInterval))
	}
	return errors.Join(errs...)
}

// ByteSize is a size in bytes that YAML may give as 67108864, "64MiB",
// "512KiB" or "1GiB".
type ByteSize int64

// UnmarshalText parses the forms ByteSize accepts.
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return &InvalidError{Msg: "want a size such as 67108864, 64MiB, 512KiB or 1GiB, got " + strconv.Quote(string(text))}
	}
	*b = ByteSize(n * mult)
	return nil
}

// isLoopback reports whether host is this machine: localhost or a loopback
// address (names other than localhost are not resolved).
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
