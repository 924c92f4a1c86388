package ldapstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Pool is a set of bound connections to the directory, safe for concurrent
// use, in the manner of database/sql.DB: Conn borrows a connection (waiting
// while MaxOpen are busy), Release gives it back, idle connections are reused
// and checked, broken ones are closed and replaced by new dials.
//
// With several URLs, new connections go to the first server that answers.
// A server that fails to answer a dial is left alone for a backoff that
// doubles with each failure (with jitter, up to RetryBackoffMax); when every
// server is in backoff, Conn fails at once with ErrUnavailable instead of
// waiting. Connections to a server other than the first are closed on
// release once FailbackAfter old while a preferred server is not in
// backoff, so that the pool moves back when the first server recovers.
//
// Also as database/sql: a connection released twice is released once;
// connections idle longer than ConnMaxIdleTime are closed, by a cleaner
// and at checkout; a search or compare that finds a connection from the
// idle list dead is retried once on a fresh connection.
type Pool struct {
	cfg      Config
	password string
	slots    chan struct{} // one token per open-or-opening busy connection
	seams    seams

	stopCleaner chan struct{} // closed by Close
	cleanerDone chan struct{} // closed when the cleaner has stopped; nil: no cleaner

	// operations counts what Conn.do sends, without the lock.
	operations atomic.Int64
	// writes counts the writes that succeeded: a query's results taken
	// after a change of this count may differ (scans.go).
	writes atomic.Uint64

	mu      sync.Mutex
	idle    []*pooledConn // most recently used last
	closed  bool
	stats   PoolStats
	servers []*server // in the order of Config.URLs

	observer atomic.Pointer[Observer] // nil: none
}

// Observer is told of every LDAP operation the pool's connections send:
// StartOperation when it starts, with the request's context and its kind
// (search, modify, add, delete, modifydn, compare, bind, starttls,
// passwordmodify), and the function it returns when it ends, with its
// result (ResultOf). Metrics and traces implement it; it must be quick and
// safe for concurrent use.
type Observer interface {
	StartOperation(ctx context.Context, kind string) (done func(result string))
}

// SetObserver sets the pool's observer.
func (p *Pool) SetObserver(o Observer) { p.observer.Store(&o) }

// ResultOf names an operation's outcome for metrics: "success", the LDAP
// result code's name in lower camel case as RFC 4511 spells it
// ("noSuchObject", "assertionFailed", ...), "unavailable" for a network
// failure or time-out, or "error".
func ResultOf(err error) string {
	var le *ldap.Error
	switch {
	case err == nil:
		return "success"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.As(err, &le):
		return resultName(le.ResultCode)
	}
	return "error"
}

// resultName is a result code's name in RFC 4511 (and RFC 4528's
// assertionFailed), for the codes a gateway meets; "other" for the rest.
func resultName(code uint16) string {
	switch code {
	case ldap.LDAPResultSuccess:
		return "success"
	case ldap.LDAPResultOperationsError:
		return "operationsError"
	case ldap.LDAPResultProtocolError:
		return "protocolError"
	case ldap.LDAPResultTimeLimitExceeded:
		return "timeLimitExceeded"
	case ldap.LDAPResultSizeLimitExceeded:
		return "sizeLimitExceeded"
	case ldap.LDAPResultCompareFalse:
		return "compareFalse"
	case ldap.LDAPResultCompareTrue:
		return "compareTrue"
	case ldap.LDAPResultAuthMethodNotSupported:
		return "authMethodNotSupported"
	case ldap.LDAPResultStrongAuthRequired:
		return "strongerAuthRequired"
	case ldap.LDAPResultAdminLimitExceeded:
		return "adminLimitExceeded"
	case ldap.LDAPResultUnavailableCriticalExtension:
		return "unavailableCriticalExtension"
	case ldap.LDAPResultConfidentialityRequired:
		return "confidentialityRequired"
	case ldap.LDAPResultNoSuchAttribute:
		return "noSuchAttribute"
	case ldap.LDAPResultUndefinedAttributeType:
		return "undefinedAttributeType"
	case ldap.LDAPResultInappropriateMatching:
		return "inappropriateMatching"
	case ldap.LDAPResultConstraintViolation:
		return "constraintViolation"
	case ldap.LDAPResultAttributeOrValueExists:
		return "attributeOrValueExists"
	case ldap.LDAPResultInvalidAttributeSyntax:
		return "invalidAttributeSyntax"
	case ldap.LDAPResultNoSuchObject:
		return "noSuchObject"
	case ldap.LDAPResultInvalidDNSyntax:
		return "invalidDNSyntax"
	case ldap.LDAPResultInvalidCredentials:
		return "invalidCredentials"
	case ldap.LDAPResultInsufficientAccessRights:
		return "insufficientAccessRights"
	case ldap.LDAPResultBusy:
		return "busy"
	case ldap.LDAPResultUnavailable:
		return "unavailable"
	case ldap.LDAPResultUnwillingToPerform:
		return "unwillingToPerform"
	case ldap.LDAPResultNamingViolation:
		return "namingViolation"
	case ldap.LDAPResultObjectClassViolation:
		return "objectClassViolation"
	case ldap.LDAPResultNotAllowedOnNonLeaf:
		return "notAllowedOnNonLeaf"
	case ldap.LDAPResultNotAllowedOnRDN:
		return "notAllowedOnRDN"
	case ldap.LDAPResultEntryAlreadyExists:
		return "entryAlreadyExists"
	case ldap.LDAPResultObjectClassModsProhibited:
		return "objectClassModsProhibited"
	case ldap.LDAPResultOther:
		return "other"
	case ldap.LDAPResultAssertionFailed:
		return "assertionFailed"
	}
	return "other"
}

// server is one of the configured URLs and what the pool knows of it.
type server struct {
	url       string
	rank      int       // its place in Config.URLs: 0 is preferred
	failures  int       // dials failed in a row
	downUntil time.Time // no dial before this
	dials     int64     // connections dialled and bound
}

// PoolStats are the pool's counters, as database/sql.DBStats.
type PoolStats struct {
	MaxOpen int // configured limit
	Open    int // connections open, busy or idle
	InUse   int // connections borrowed
	Idle    int // connections idle

	WaitCount    int64         // borrows that had to wait for a free connection
	WaitDuration time.Duration // total time spent waiting

	Dials             int64 // connections dialled and bound
	DialErrors        int64 // dials that failed
	BrokenClosed      int64 // connections closed after a network error, timeout or cancellation
	HealthCheckFailed int64 // idle connections found dead when borrowed
	MaxIdleClosed     int64 // connections closed because MaxIdle were already idle
	MaxLifetimeClosed int64 // connections closed because they reached ConnMaxLifetime
	MaxIdleTimeClosed int64 // connections closed because they sat idle longer than ConnMaxIdleTime

	DoubleReleases int64 // Release calls on a borrowing already released, ignored
	BadConnRetries int64 // searches and compares retried on a fresh connection after an idle one turned out dead

	Operations int64 // LDAP operations sent: searches (each page of a paged one), modifies, adds, ...

	FailbackClosed int64 // connections to a fallback server closed to move back to a preferred one
	FailFast       int64 // borrows refused at once because every server was in backoff

	Servers []ServerStats // one per URL, in order
}

// ServerStats is what the pool knows of one directory server.
type ServerStats struct {
	URL      string
	Up       bool  // not in backoff after failed dials
	Failures int   // dials failed in a row
	Dials    int64 // connections dialled and bound
}

// ErrPoolClosed is returned by Conn after Close.
var ErrPoolClosed = errors.New("ldapstore: pool closed")

// seams are what the pool's unit tests replace: how a server's URL becomes
// a bound connection, and how often the cleaner looks for idle connections
// to close. Zero fields take the real ones.
type seams struct {
	dial       func(ctx context.Context, url string) (wire, error)
	cleanEvery time.Duration
}

// Open returns a pool for cfg, which must be valid. Like sql.Open it does not
// connect; use Ping to check that the directory answers. A zero
// ConnMaxIdleTime or ConnMaxLifetime is no limit here, as in database/sql:
// the 5m and 30m defaults come from WithDefaults, where the configuration
// is read.
func Open(cfg Config) (*Pool, error) { return open(cfg, seams{}) }

func open(cfg Config, sm seams) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	maxIdleTime, maxLifetime := cfg.ConnMaxIdleTime, cfg.ConnMaxLifetime
	cfg = cfg.WithDefaults()
	cfg.ConnMaxIdleTime, cfg.ConnMaxLifetime = maxIdleTime, maxLifetime // 0 is no limit
	pw, err := cfg.password()
	if err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, password: pw, slots: make(chan struct{}, cfg.MaxOpen), seams: sm}
	if p.seams.dial == nil {
		p.seams.dial = p.dialURL
	}
	for i, u := range cfg.URLs {
		p.servers = append(p.servers, &server{url: u, rank: i})
	}
	if cfg.ConnMaxIdleTime > 0 {
		every := p.seams.cleanEvery
		if every == 0 {
			every = max(cfg.ConnMaxIdleTime/2, time.Second)
		}
		p.stopCleaner, p.cleanerDone = make(chan struct{}), make(chan struct{})
		go p.cleaner(every)
	}
	return p, nil
}

// Conn borrows a connection, dialling one if none is idle. It waits while
// MaxOpen connections are busy, until ctx ends. The caller must Release it.
func (p *Pool) Conn(ctx context.Context) (*Conn, error) {
	if err := p.acquire(ctx); err != nil {
		return nil, err
	}
	c, err := p.take(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// acquire takes a slot for one borrowed connection, waiting while MaxOpen
// are busy, until ctx ends.
func (p *Pool) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
	default:
		start := time.Now()
		var err error
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			err = fmt.Errorf("ldap: waiting for a free connection: %w: %w", ErrUnavailable, ctx.Err())
		}
		p.mu.Lock()
		p.stats.WaitCount++
		p.stats.WaitDuration += time.Since(start)
		p.mu.Unlock()
		return err
	}
	return nil
}

// take hands out the most recently used idle connection that is neither
// idle too long nor dead, or else a new one. The caller holds a slot.
func (p *Pool) take(ctx context.Context) (*Conn, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		pc := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if p.idleExpired(pc, time.Now()) {
			p.stats.MaxIdleTimeClosed++
			p.mu.Unlock()
			go pc.c.Close()
			continue
		}
		p.mu.Unlock()
		c := &Conn{pooledConn: pc, pool: p, unproven: true}
		if c.healthy(ctx) {
			c.broken = false
			return c, nil
		}
		p.mu.Lock()
		p.stats.HealthCheckFailed++
		p.mu.Unlock()
		pc.c.Close()
	}
	pc, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	return &Conn{pooledConn: pc, pool: p}, nil
}

// idleExpired reports whether pc has sat idle longer than ConnMaxIdleTime.
func (p *Pool) idleExpired(pc *pooledConn, now time.Time) bool {
	return p.cfg.ConnMaxIdleTime > 0 && now.Sub(pc.lastUsed) > p.cfg.ConnMaxIdleTime
}

// cleaner closes, every so often until Close, the connections idle longer
// than ConnMaxIdleTime, so that a quiet gateway holds none open for long.
func (p *Pool) cleaner(every time.Duration) {
	defer close(p.cleanerDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stopCleaner:
			return
		case <-t.C:
			p.closeIdleExpired()
		}
	}
}

// closeIdleExpired closes the idle connections idle longer than
// ConnMaxIdleTime.
func (p *Pool) closeIdleExpired() {
	now := time.Now()
	var expired []*pooledConn
	p.mu.Lock()
	kept := p.idle[:0]
	for _, pc := range p.idle {
		if p.idleExpired(pc, now) {
			expired = append(expired, pc)
		} else {
			kept = append(kept, pc)
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	p.stats.MaxIdleTimeClosed += int64(len(expired))
	p.mu.Unlock()
	for _, pc := range expired {
		pc.c.Close()
	}
}

// release returns c to the pool, or closes it if it is broken, too old, or
// MaxIdle connections are idle already. Conn.Release calls it once per
// borrowing.
func (p *Pool) release(c *pooledConn) {
	defer func() { <-p.slots }()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case c.broken || c.c.IsClosing():
		p.stats.BrokenClosed++
	case p.closed:
	case p.cfg.ConnMaxLifetime > 0 && time.Since(c.created) > p.cfg.ConnMaxLifetime:
		p.stats.MaxLifetimeClosed++
	case c.server.rank > 0 && time.Since(c.created) > p.cfg.FailbackAfter && p.preferredUpLocked(c.server.rank):
		p.stats.FailbackClosed++
	case len(p.idle) >= p.cfg.MaxIdle:
		p.stats.MaxIdleClosed++
	default:
		c.lastUsed = time.Now()
		p.idle = append(p.idle, c)
		return
	}
	go c.c.Close() // Close may wait for the server; never hold a request for it
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.MaxOpen = p.cfg.MaxOpen
	s.Idle = len(p.idle)
	s.InUse = len(p.slots)
	s.Open = s.InUse + s.Idle
	s.Operations = p.operations.Load()
	now := time.Now()
	for _, sv := range p.servers {
		s.Servers = append(s.Servers, ServerStats{URL: sv.url, Up: !now.Before(sv.downUntil), Failures: sv.failures, Dials: sv.dials})
	}
	return s
}

// tls reports whether every connection is encrypted.
func (p *Pool) tls() bool {
	for _, u := range p.cfg.URLs {
		if !strings.HasPrefix(strings.ToLower(u), "ldaps://") && !p.cfg.StartTLS {
			return false
		}
	}
	return true
}

// Ping borrows a connection and checks that the directory answers on it.
func (p *Pool) Ping(ctx context.Context) error {
	c, err := p.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return c.ping(ctx)
}

// Close stops the cleaner, closes the idle connections and makes later
// Conn calls fail; borrowed connections are closed when they are released.
func (p *Pool) Close() error {
	p.mu.Lock()
	idle, wasClosed := p.idle, p.closed
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	if p.cleanerDone != nil && !wasClosed {
		close(p.stopCleaner)
		<-p.cleanerDone
	}
	for _, c := range idle {
		c.c.Close()
	}
	return nil
}

// dial connects to the first of the configured servers, not in backoff, that
// answers, upgrades with StartTLS when configured, and binds. When every
// server is in backoff it fails at once.
func (p *Pool) dial(ctx context.Context) (*pooledConn, error) {
	now := time.Now()
	var candidates []*server
	next := time.Time{}
	p.mu.Lock()
	for _, sv := range p.servers {
		if !now.Before(sv.downUntil) {
			candidates = append(candidates, sv)
		} else if next.IsZero() || sv.downUntil.Before(next) {
			next = sv.downUntil
		}
	}
	if len(candidates) == 0 {
		p.stats.FailFast++
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: no directory server answered lately; the next attempt is in %s",
			ErrUnavailable, next.Sub(now).Round(time.Millisecond))
	}
	p.mu.Unlock()
	var errs []error
	for _, sv := range candidates {
		// Each server gets the whole dial timeout: a hung first one must
		// leave time for the next.
		uctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
		w, err := p.seams.dial(uctx, sv.url)
		cancel()
		if err == nil {
			c := &pooledConn{c: w, url: sv.url, server: sv, created: time.Now()}
			p.mu.Lock()
			p.stats.Dials++
			sv.dials++
			sv.failures, sv.downUntil = 0, time.Time{}
			p.mu.Unlock()
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break // the request gave up: no fault of the server's
		}
		if !isBindFailure(err) {
			p.markDown(sv)
		}
	}
	p.mu.Lock()
	p.stats.DialErrors++
	p.mu.Unlock()
	err := errors.Join(errs...)
	if isBindFailure(err) {
		return nil, fmt.Errorf("%w: %w", ErrBindRefused, err)
	}
	return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// Dedicated dials a bound connection of the caller's own, outside the
// pool's count and limits, to the first server that answers: for a
// long-lived operation such as a persistent search (package changes).
// The caller closes it.
func (p *Pool) Dedicated(ctx context.Context) (*ldap.Conn, error) {
	c, err := p.dial(ctx)
	if err != nil {
		return nil, err
	}
	lc, ok := c.c.(*ldap.Conn)
	if !ok {
		c.c.Close()
		return nil, fmt.Errorf("ldapstore: the pool's dialer gave a %T, not an LDAP connection", c.c)
	}
	lc.SetTimeout(0) // a persistent search has no end
	return lc, nil
}

// retryBackoffMin is the backoff after a server's first failed dial.
const retryBackoffMin = 100 * time.Millisecond

// markDown puts a server whose dial failed in backoff: twice as long as
// the last time, up to RetryBackoffMax, give or take a fifth at random so
// that replicas do not retry in step.
func (p *Pool) markDown(sv *server) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sv.failures++
	d := retryBackoffMin << min(sv.failures-1, 20)
	d = min(d, p.cfg.RetryBackoffMax)
	d += time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	sv.downUntil = time.Now().Add(d)
}

// preferredUpLocked reports whether a server ranked before rank is out of
// backoff, so that connections should move back to it. p.mu is held.
func (p *Pool) preferredUpLocked(rank int) bool {
	now := time.Now()
	for _, sv := range p.servers[:rank] {
		if !now.Before(sv.downUntil) {
			return true
		}
	}
	return false
}

// dialURL connects to one server, upgrades with StartTLS when configured,
// and binds.
func (p *Pool) dialURL(ctx context.Context, raw string) (wire, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("ldap: %q: %w", raw, err)
	}
	host := u.Host
	if u.Port() == "" {
		port := "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	var tlsCfg *tls.Config
	if u.Scheme == "ldaps" || p.cfg.StartTLS {
		if tlsCfg, err = p.cfg.tlsConfig(host); err != nil {
			return nil, err
		}
	}
	var nc net.Conn
	d := &net.Dialer{}
	if u.Scheme == "ldaps" {
		nc, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(ctx, "tcp", host)
	} else {
		nc, err = d.DialContext(ctx, "tcp", host)
	}
	if err != nil {
		return nil, fmt.Errorf("ldap: connect %s: %w", raw, err)
	}
	lc := ldap.NewConn(nc, u.Scheme == "ldaps")
	lc.Start()
	c := &Conn{pooledConn: &pooledConn{c: lc, url: raw}, pool: p} // for do: observed, bounded by ctx
	if u.Scheme == "ldap" && p.cfg.StartTLS {
		if err := c.do(ctx, "starttls", func() error { return lc.StartTLS(tlsCfg) }); err != nil {
			lc.Close()
			return nil, fmt.Errorf("ldap: StartTLS with %s: %w", raw, err)
		}
	}
	if p.cfg.BindDN != "" {
		if err := c.do(ctx, "bind", func() error { return lc.Bind(p.cfg.BindDN, p.password) }); err != nil {
			lc.Close()
			return nil, fmt.Errorf("ldap: bind to %s as %s: %w", raw, p.cfg.BindDN, err)
		}
	}
	return lc, nil
}

// isBindFailure tells a refused bind (wrong password, unknown DN), which no
// retry will fix, from an unreachable directory.
func isBindFailure(err error) bool {
	return ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication,
		ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultConfidentialityRequired)
}
