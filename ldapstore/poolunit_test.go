package ldapstore

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The pool's own logic — limits, waiting, double release, idle expiry, the
// retry of a read on a dead connection — tested without slapd: the
// connections are fakes that speak no LDAP, dialled through the pool's
// dial seam. A real slapd cannot be told to drop one given idle connection
// silently, nor a fake made to lie about what a real server does: the
// tests against slapd are in pool_test.go.

// fakeWire is a connection that answers every operation at once, or, once
// killed, fails the next one as a reset connection does and closes.
type fakeWire struct {
	id int

	mu     sync.Mutex
	closed bool
	dead   bool     // killed: the next operation fails and closes
	ops    []string // operations received, in order
}

func (w *fakeWire) kill() { w.mu.Lock(); w.dead = true; w.mu.Unlock() }

// op records an operation and fails it if the connection is dead.
func (w *fakeWire) op(kind string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops = append(w.ops, kind)
	if w.dead || w.closed {
		w.closed = true
		return ldap.NewError(ldap.ErrorNetwork, io.ErrUnexpectedEOF)
	}
	return nil
}

func (w *fakeWire) received() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.ops...)
}

func (w *fakeWire) SetTimeout(time.Duration)   {}
func (w *fakeWire) Add(*ldap.AddRequest) error { return w.op("add") }
func (w *fakeWire) Del(*ldap.DelRequest) error { return w.op("delete") }
func (w *fakeWire) Modify(*ldap.ModifyRequest) error {
	return w.op("modify")
}
func (w *fakeWire) ModifyDN(*ldap.ModifyDNRequest) error { return w.op("modifydn") }
func (w *fakeWire) Search(*ldap.SearchRequest) (*ldap.SearchResult, error) {
	if err := w.op("search"); err != nil {
		return nil, err
	}
	return &ldap.SearchResult{Entries: []*ldap.Entry{ldap.NewEntry("cn=x", nil)}}, nil
}
func (w *fakeWire) SearchAsync(_ context.Context, _ *ldap.SearchRequest, _ int) ldap.Response {
	err := w.op("pagedsearch")
	return &fakeResponse{entries: []*ldap.Entry{ldap.NewEntry("cn=x", nil)}, err: err}
}
func (w *fakeWire) Compare(string, string, string) (bool, error) {
	return true, w.op("compare")
}
func (w *fakeWire) PasswordModify(*ldap.PasswordModifyRequest) (*ldap.PasswordModifyResult, error) {
	return &ldap.PasswordModifyResult{}, w.op("passwordmodify")
}
func (w *fakeWire) IsClosing() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.closed }
func (w *fakeWire) Close() error    { w.mu.Lock(); w.closed = true; w.mu.Unlock(); return nil }

// fakeResponse is a streamed search's answer: its entries, or its error.
type fakeResponse struct {
	entries []*ldap.Entry
	err     error
	cur     *ldap.Entry
}

func (r *fakeResponse) Next() bool {
	if r.err != nil || len(r.entries) == 0 {
		return false
	}
	r.cur, r.entries = r.entries[0], r.entries[1:]
	return true
}
func (r *fakeResponse) Entry() *ldap.Entry       { return r.cur }
func (r *fakeResponse) Referral() string         { return "" }
func (r *fakeResponse) Controls() []ldap.Control { return nil }
func (r *fakeResponse) Err() error               { return r.err }

// fakeDialer hands out numbered fake connections and keeps them; wire(i)
// is nil until the i-th is dialled.
type fakeDialer struct {
	mu    sync.Mutex
	wires []*fakeWire
}

func (d *fakeDialer) dial(context.Context, string) (wire, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := &fakeWire{id: len(d.wires)}
	d.wires = append(d.wires, w)
	return w, nil
}

func (d *fakeDialer) wire(i int) *fakeWire {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i >= len(d.wires) {
		return nil // not dialled
	}
	return d.wires[i]
}

// openFake opens a pool over fake connections.
func openFake(t *testing.T, cfg Config, cleanEvery time.Duration) (*Pool, *fakeDialer) {
	t.Helper()
	d := &fakeDialer{}
	cfg.URLs = []string{"ldap://fake"}
	p, err := open(cfg, seams{dial: d.dial, cleanEvery: cleanEvery})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, d
}

func borrow(t *testing.T, p *Pool) *Conn {
	t.Helper()
	c, err := p.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// counts is the part of PoolStats these tests compare whole.
type counts struct {
	Open, InUse, Idle                                                int
	Dials, WaitCount, BrokenClosed, MaxIdleClosed, MaxIdleTimeClosed int64
	DoubleReleases, BadConnRetries                                   int64
}

func countsOf(p *Pool) counts {
	s := p.Stats()
	return counts{s.Open, s.InUse, s.Idle, s.Dials, s.WaitCount, s.BrokenClosed, s.MaxIdleClosed,
		s.MaxIdleTimeClosed, s.DoubleReleases, s.BadConnRetries}
}

func wantCounts(t *testing.T, p *Pool, when string, want counts) {
	t.Helper()
	if got := countsOf(p); got != want {
		t.Fatalf("stats %s = %+v, want %+v", when, got, want)
	}
}

func TestPoolLimitsAndWaitingWithFakes(t *testing.T) {
	p, _ := openFake(t, Config{MaxOpen: 2, MaxIdle: 1}, 0)
	a, b := borrow(t, p), borrow(t, p)
	wantCounts(t, p, "with two borrowed", counts{Open: 2, InUse: 2, Dials: 2})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	_, err := p.Conn(ctx)
	cancel()
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Conn with max_open borrowed = %v, want unavailable: deadline exceeded", err)
	}
	got := make(chan *Conn)
	go func() { c, _ := p.Conn(context.Background()); got <- c }()
	time.Sleep(20 * time.Millisecond) // the waiter waits (WaitCount counts a wait when it ends)
	a.Release()
	c := <-got
	if c.c != a.c {
		t.Error("the waiter did not get the released connection")
	}
	b.Release()
	c.Release()
	wantCounts(t, p, "after release", counts{Open: 1, Idle: 1, Dials: 2, WaitCount: 2, MaxIdleClosed: 1})
}

// A second Release of a borrowing is a no-op, counted: it neither frees a
// slot another borrower holds nor lends one connection twice, even when
// the connection was lent again meanwhile.
func TestPoolDoubleRelease(t *testing.T) {
	p, _ := openFake(t, Config{MaxOpen: 2, MaxIdle: 2}, 0)
	a, b := borrow(t, p), borrow(t, p)
	a.Release()
	a.Release()
	wantCounts(t, p, "after releasing one of two twice", counts{Open: 2, InUse: 1, Idle: 1, Dials: 2, DoubleReleases: 1})

	c := borrow(t, p) // a's connection, lent again
	if c.c != a.c {
		t.Fatal("the idle connection was not reused")
	}
	a.Release() // late, while c holds the connection
	wantCounts(t, p, "after a late release", counts{Open: 2, InUse: 2, Dials: 2, DoubleReleases: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if d, err := p.Conn(ctx); err == nil {
		t.Fatalf("a third borrower got a connection (%d) past max_open 2", d.c.(*fakeWire).id)
	}
	b.Release()
	c.Release()
	wantCounts(t, p, "at the end", counts{Open: 2, Idle: 2, Dials: 2, WaitCount: 1, DoubleReleases: 2})
}

// Connections idle longer than conn_max_idle_time are closed when borrowed
// and by the cleaner; 0 keeps them; Close stops the cleaner.
func TestPoolIdleTimeLimit(t *testing.T) {
	age := func(p *Pool, d time.Duration) {
		p.mu.Lock()
		for _, pc := range p.idle {
			pc.lastUsed = pc.lastUsed.Add(-d)
		}
		p.mu.Unlock()
	}
	t.Run("at checkout", func(t *testing.T) {
		p, d := openFake(t, Config{ConnMaxIdleTime: time.Minute}, time.Hour)
		borrow(t, p).Release()
		age(p, 59*time.Second)
		c := borrow(t, p)
		if c.c != d.wire(0) {
			t.Fatal("a connection idle less than conn_max_idle_time was not reused")
		}
		c.Release()
		age(p, 61*time.Second)
		c = borrow(t, p)
		if c.c != d.wire(1) {
			t.Fatal("a connection idle longer than conn_max_idle_time was reused")
		}
		c.Release()
		wantCounts(t, p, "at the end", counts{Open: 1, Idle: 1, Dials: 2, MaxIdleTimeClosed: 1})
		waitClosed(t, d.wire(0))
	})
	t.Run("by the cleaner", func(t *testing.T) {
		p, d := openFake(t, Config{ConnMaxIdleTime: time.Minute}, 5*time.Millisecond)
		a, b := borrow(t, p), borrow(t, p)
		a.Release()
		age(p, 2*time.Minute) // a's connection expires, b's will not
		b.Release()
		waitClosed(t, d.wire(0))
		wantCounts(t, p, "after the cleaner ran", counts{Open: 1, Idle: 1, Dials: 2, MaxIdleTimeClosed: 1})
		if d.wire(1).IsClosing() {
			t.Fatal("the cleaner closed a connection idle for less than conn_max_idle_time")
		}
		p.Close()
		select {
		case <-p.cleanerDone:
		case <-time.After(5 * time.Second):
			t.Fatal("the cleaner still runs after Close")
		}
	})
	t.Run("0 is no limit", func(t *testing.T) {
		p, d := openFake(t, Config{}, time.Millisecond)
		if p.cleanerDone != nil {
			t.Fatal("a cleaner runs without conn_max_idle_time")
		}
		borrow(t, p).Release()
		age(p, 24*time.Hour)
		if c := borrow(t, p); c.c != d.wire(0) {
			t.Fatal("an idle connection was not reused without conn_max_idle_time")
		}
	})
	if got := (Config{}).WithDefaults().ConnMaxIdleTime; got != 5*time.Minute {
		t.Errorf("default conn_max_idle_time = %s, want 5m", got)
	}
}

func waitClosed(t *testing.T, w *fakeWire) {
	t.Helper()
	for start := time.Now(); !w.IsClosing(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("connection %d is still open", w.id)
		}
	}
}

// A search or compare that finds a connection from the idle list dead is
// sent once more on a fresh connection; a write, a connection dialled for
// this borrowing, or one that already answered are not retried.
func TestPoolRetriesAReadOnADeadIdleConnection(t *testing.T) {
	ctx := context.Background()
	search := func(c *Conn) error { _, err := c.Search(ctx, pingRequest()); return err }
	ops := map[string]func(c *Conn) error{
		"search":  search,
		"compare": func(c *Conn) error { _, err := c.Compare(ctx, "cn=x", "cn", "x"); return err },
		"pagedsearch": func(c *Conn) error {
			return c.pagedSearch(ctx, pingRequest(), 10, func(*ldap.Entry) error { return nil })
		},
		"add":      func(c *Conn) error { return c.Add(ctx, ldap.NewAddRequest("cn=x", nil)) },
		"modify":   func(c *Conn) error { return c.Modify(ctx, ldap.NewModifyRequest("cn=x", nil)) },
		"modifydn": func(c *Conn) error { return c.ModifyDN(ctx, ldap.NewModifyDNRequest("cn=x", "cn=y", true, "")) },
		"delete":   func(c *Conn) error { return c.Del(ctx, ldap.NewDelRequest("cn=x", nil)) },
	}
	for _, tt := range []struct {
		op      string
		setup   func(t *testing.T, p *Pool, d *fakeDialer) *Conn // returns a borrowing whose connection is dead
		retried bool
	}{
		{"search", idleDead, true},
		{"compare", idleDead, true},
		{"pagedsearch", idleDead, true},
		{"add", idleDead, false},
		{"modify", idleDead, false},
		{"modifydn", idleDead, false},
		{"delete", idleDead, false},
		{"search", func(t *testing.T, p *Pool, d *fakeDialer) *Conn { // dialled for this borrowing
			c := borrow(t, p)
			d.wire(0).kill()
			return c
		}, false},
		{"search", func(t *testing.T, p *Pool, d *fakeDialer) *Conn { // answered once in this borrowing
			c := borrow(t, p)
			if err := search(c); err != nil {
				t.Fatal(err)
			}
			d.wire(0).kill()
			return c
		}, false},
	} {
		p, d := openFake(t, Config{}, 0)
		c := tt.setup(t, p, d)
		err := ops[tt.op](c)
		c.Release()
		var want counts
		if tt.retried {
			if err != nil {
				t.Errorf("%s on a dead idle connection = %v, want it retried", tt.op, err)
			}
			if got := d.wire(1).received(); len(got) != 1 || got[0] != tt.op {
				t.Errorf("%s: the fresh connection received %q, want the one %s", tt.op, got, tt.op)
			}
			want = counts{Open: 1, Idle: 1, Dials: 2, BrokenClosed: 1, BadConnRetries: 1}
		} else {
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("%s not retried = %v, want unavailable", tt.op, err)
			}
			want = counts{Dials: 1, BrokenClosed: 1}
		}
		if got := countsOf(p); got != want {
			t.Errorf("%s (retried %v): stats = %+v, want %+v", tt.op, tt.retried, got, want)
		}
		waitClosed(t, d.wire(0))
	}
}

// idleDead borrows a connection that went back to the idle list and was
// dropped there without the pool noticing, as a firewall drops one.
func idleDead(t *testing.T, p *Pool, d *fakeDialer) *Conn {
	borrow(t, p).Release()
	d.wire(0).kill()
	return borrow(t, p)
}

// conn_max_lifetime: a connection older than it is closed when given back;
// 0 keeps connections however old (it was turned into the 30m default).
func TestPoolLifetimeLimit(t *testing.T) {
	age := func(p *Pool, d time.Duration) {
		p.mu.Lock()
		for _, pc := range p.idle {
			pc.created = pc.created.Add(-d)
		}
		p.mu.Unlock()
	}
	tests := []struct {
		name     string
		lifetime time.Duration
		reused   bool
	}{
		{"older than the limit", time.Hour, false},
		{"0 is no limit", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, d := openFake(t, Config{ConnMaxLifetime: tt.lifetime}, time.Hour)
			borrow(t, p).Release()
			age(p, 48*time.Hour)
			c := borrow(t, p) // the connection, found old, is used once more
			c.Release()       // and closed on its return when there is a limit
			if got := borrow(t, p).c == d.wire(0); got != tt.reused {
				t.Errorf("a 48-hour-old connection reused: %v, want %v", got, tt.reused)
			}
		})
	}
	if got := (Config{}).WithDefaults().ConnMaxLifetime; got != 30*time.Minute {
		t.Errorf("default conn_max_lifetime = %s, want 30m", got)
	}
}
