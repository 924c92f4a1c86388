package ldapstore

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/test/directory"
	"github.com/scimgate/scimgate/test/slapd"
)

func poolConfig(ds directory.Server) Config {
	s := ds.Directory()
	return Config{URLs: []string{s.URL}, BindDN: s.RootDN, BindPassword: s.Password, CAFile: s.CAFile}
}

func openPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPoolConnectsOverEachTransport(t *testing.T) {
	s := slapd.New(t, slapd.Options{TLS: true})
	tests := []struct {
		name string
		cfg  Config
	}{
		{"plain", Config{URLs: []string{s.URL}}},
		{"ldaps", Config{URLs: []string{s.LDAPSURL}, CAFile: s.CAFile}},
		{"starttls", Config{URLs: []string{s.URL}, StartTLS: true, CAFile: s.CAFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.BindDN, tt.cfg.BindPassword = s.RootDN, s.Password
			p := openPool(t, tt.cfg)
			if err := p.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("ldaps with the wrong CA", func(t *testing.T) {
		p := openPool(t, Config{URLs: []string{s.LDAPSURL}, BindDN: s.RootDN, BindPassword: s.Password})
		err := p.Ping(context.Background())
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Ping with the system roots = %v, want a certificate error", err)
		}
	})
}

// A directory that demands a client certificate gets one from
// client_cert_file and client_key_file, over LDAPS and StartTLS alike.
func TestPoolClientCertificate(t *testing.T) {
	s := slapd.New(t, slapd.Options{TLS: true, RequireClientCert: true})
	for _, tt := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ldaps with the certificate", Config{URLs: []string{s.LDAPSURL}, ClientCertFile: s.ClientCertFile, ClientKeyFile: s.ClientKeyFile}, true},
		{"starttls with the certificate", Config{URLs: []string{s.URL}, StartTLS: true, ClientCertFile: s.ClientCertFile, ClientKeyFile: s.ClientKeyFile}, true},
		{"ldaps without", Config{URLs: []string{s.LDAPSURL}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.CAFile, tt.cfg.BindDN, tt.cfg.BindPassword = s.CAFile, s.RootDN, s.Password
			err := openPool(t, tt.cfg).Ping(context.Background())
			if (err == nil) != tt.ok {
				t.Fatalf("Ping = %v, want success %v", err, tt.ok)
			}
		})
	}
}

func TestPoolFailures(t *testing.T) {
	s := slapd.New(t, slapd.Options{})
	ctx := context.Background()

	t.Run("wrong password", func(t *testing.T) {
		cfg := poolConfig(s)
		cfg.BindPassword = "wrong"
		err := openPool(t, cfg).Ping(ctx)
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) || !errors.Is(err, ErrBindRefused) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("Ping = %v, want a refused bind (invalid credentials), not unavailable", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		err := openPool(t, Config{URLs: []string{"ldap://" + addr}}).Ping(ctx)
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("Ping = %v, want unavailable: connection refused", err)
		}
	})
	t.Run("falls back to the next URL", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		cfg := poolConfig(s)
		cfg.URLs = []string{"ldap://" + addr, s.URL}
		if err := openPool(t, cfg).Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a server that never answers is bounded by the context", func(t *testing.T) {
		// A listener that accepts and says nothing: a hung directory, which a
		// real slapd cannot be made to be on demand.
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		defer l.Close()
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		p := openPool(t, Config{URLs: []string{"ldap://" + l.Addr().String()}, BindDN: "cn=x", BindPassword: "y"})
		ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := p.Ping(ctx)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Ping = %v, want unavailable", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Ping took %s despite a 200ms deadline", d)
		}
	})
}

func TestPoolReusesLimitsAndRecovers(t *testing.T) {
	s := slapd.New(t, slapd.Options{})
	cfg := poolConfig(s)
	cfg.MaxOpen, cfg.MaxIdle = 2, 1
	p := openPool(t, cfg)
	ctx := context.Background()

	a, err := p.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.InUse != 2 || st.Open != 2 || st.Dials != 2 {
		t.Fatalf("stats with two borrowed = %+v", st)
	}
	// A third borrower waits until its context ends.
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = p.Conn(wctx)
	cancel()
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Conn with the pool full = %v, want unavailable: deadline exceeded", err)
	}
	// ... or until a connection comes back.
	got := make(chan *Conn)
	go func() { c, _ := p.Conn(ctx); got <- c }()
	time.Sleep(20 * time.Millisecond)
	a.Release()
	c := <-got
	if c.c != a.c {
		t.Error("the waiter did not get the released connection")
	}
	b.Release()
	c.Release()
	st := p.Stats()
	if st.Idle != 1 || st.InUse != 0 || st.MaxIdleClosed != 1 || st.WaitCount != 2 {
		t.Fatalf("stats after release = %+v, want 1 idle, 1 closed over max_idle, 2 waits", st)
	}

	// A connection cancelled mid-operation is closed, not reused.
	c, _ = p.Conn(ctx)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Search(cctx, ldap.NewSearchRequest("", ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", nil, nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Search with a cancelled context = %v", err)
	}
	c.Release()

	// The server restarts: idle connections die, the next borrow redials.
	c, _ = p.Conn(ctx)
	c.c.Close() // what a server restart does to an idle connection
	c.Release()
	if err := p.Ping(ctx); err != nil {
		t.Fatalf("Ping after the connection died = %v", err)
	}
	if st := p.Stats(); st.BrokenClosed < 1 {
		t.Errorf("stats = %+v, want a broken connection closed", st)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // a substring of the error; "" for valid
	}{
		{"valid", Config{URLs: []string{"ldap://h:389"}}, ""},
		{"no urls", Config{}, "ldap.urls: at least one"},
		{"bad scheme", Config{URLs: []string{"http://h"}}, "ldap.urls[0]: \"http://h\": the scheme must be ldap or ldaps"},
		{"no host", Config{URLs: []string{"ldap://"}}, "ldap.urls[0]: \"ldap://\" has no host"},
		{"starttls on ldaps", Config{URLs: []string{"ldaps://h"}, StartTLS: true}, "ldap.start_tls"},
		{"both passwords", Config{URLs: []string{"ldap://h"}, BindDN: "cn=a", BindPassword: "x", BindPasswordFile: "/f"}, "ldap.bind_password_file: set either"},
		{"password without dn", Config{URLs: []string{"ldap://h"}, BindPassword: "x"}, "ldap.bind_dn"},
		{"missing ca", Config{URLs: []string{"ldaps://h"}, CAFile: "/nonexistent.pem"}, "ldap.ca_file"},
		{"idle over open", Config{URLs: []string{"ldap://h"}, MaxOpen: 2, MaxIdle: 3}, "ldap.max_idle: 3 is more than max_open (2)"},
		{"negative timeout", Config{URLs: []string{"ldap://h"}, DialTimeout: -1}, "ldap.dial_timeout: must not be negative"},
		{"negative idle time", Config{URLs: []string{"ldap://h"}, ConnMaxIdleTime: -time.Second}, "ldap.conn_max_idle_time: must not be negative, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// A connection that drops while a request waits for its answer is a
// network failure (ErrUnavailable, so 503), never an unclassified error.
// A test server resets the connection on the first request it reads: a
// real slapd does it only when killed at the right moment.
func TestConnectionResetUnderARequest(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.Read(make([]byte, 512)) // the request
				c.(*net.TCPConn).SetLinger(0)
				c.Close() // RST
			}()
		}
	}()
	p, err := Open(Config{URLs: []string{"ldap://" + l.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 5 {
		c, err := p.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Search(context.Background(), ldap.NewSearchRequest("", ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", nil, nil))
		c.Release()
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("a reset under a search gave %v, want ErrUnavailable", err)
		}
	}
	if s := p.Stats(); s.BrokenClosed != 5 {
		t.Errorf("%d broken connections closed, want 5", s.BrokenClosed)
	}
}
