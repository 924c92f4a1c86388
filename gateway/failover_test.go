package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/slapd"
)

// loadCounts tallies the requests of a load run by outcome.
type loadCounts struct {
	sent, ok, unavailable, other atomic.Int64
	slowest                      atomic.Int64 // nanoseconds
	firstOK                      atomic.Int64 // unix nanoseconds of the first 200
}

func (l *loadCounts) String() string {
	return fmt.Sprintf("sent %d, succeeded %d, failed %d (503: %d, other: %d), slowest %s",
		l.sent.Load(), l.ok.Load(), l.unavailable.Load()+l.other.Load(), l.unavailable.Load(), l.other.Load(),
		time.Duration(l.slowest.Load()).Round(time.Millisecond))
}

// Two directory servers killed and restarted under load: no request
// outlives its deadline, failures are 503s, the second server takes over,
// connections move back to the first when it returns, and service is full
// again within seconds of a total outage.
func TestFailoverUnderLoad(t *testing.T) {
	opts := slapd.Options{}
	a, b := slapd.New(t, opts), slapd.New(t, opts)
	for _, d := range []*slapd.Server{a, b} {
		if err := d.AddLDIF(context.Background(), slapd.DemoLDIF(d)); err != nil {
			t.Fatal(err)
		}
	}
	const deadline = 2 * time.Second
	pool, err := ldapstore.Open(ldapstore.Config{
		URLs: []string{a.URL, b.URL}, BindDN: a.RootDN, BindPassword: a.Password,
		DialTimeout: 500 * time.Millisecond, RetryBackoffMax: 500 * time.Millisecond, FailbackAfter: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	profile, _ := schema.Preset("openldap")
	store, err := ldapstore.NewStore(pool, ldapstore.Options{Profile: profile,
		Users: ldapstore.UsersConfig{ResourceConfig: ldapstore.ResourceConfig{BaseDN: a.PeopleDN}}, Groups: ldapstore.GroupsConfig{ResourceConfig: ldapstore.ResourceConfig{BaseDN: a.GroupsDN}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultServerConfig()
	cfg.RequestTimeout = deadline
	srv, err := New(Options{Server: cfg, Auth: auth.Config{Mode: auth.ModeBypass}, Store: store, Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	url := hs.URL + "/scim/v2/Users?filter=" + urlQuery(`userName eq "alovelace"`)

	// The load: 8 clients, each request on its own, until stop.
	var counts *loadCounts
	var mu sync.Mutex
	phase := func() *loadCounts { mu.Lock(); defer mu.Unlock(); return counts }
	newPhase := func() { mu.Lock(); counts = &loadCounts{}; mu.Unlock() }
	newPhase()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := phase()
				start := time.Now()
				c.sent.Add(1)
				res, err := client.Get(url)
				took := time.Since(start)
				for {
					old := c.slowest.Load()
					if int64(took) <= old || c.slowest.CompareAndSwap(old, int64(took)) {
						break
					}
				}
				switch {
				case err != nil:
					c.other.Add(1)
				case res.StatusCode == 200:
					c.ok.Add(1)
					c.firstOK.CompareAndSwap(0, time.Now().UnixNano())
				case res.StatusCode == 503 && res.Header.Get("Retry-After") != "":
					c.unavailable.Add(1)
				default:
					c.other.Add(1)
				}
				if res != nil {
					res.Body.Close()
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	run := func(name string, d time.Duration, check func(c *loadCounts)) {
		t.Helper()
		newPhase()
		time.Sleep(d)
		c := phase()
		t.Logf("%-40s %s", name+":", c)
		if c.other.Load() > 0 {
			t.Errorf("%s: %d requests failed otherwise than with 503 and Retry-After", name, c.other.Load())
		}
		if slowest := time.Duration(c.slowest.Load()); slowest > deadline+time.Second {
			t.Errorf("%s: a request took %s, past its %s deadline", name, slowest, deadline)
		}
		check(c)
	}
	dialsTo := func(i int) int64 { return pool.Stats().Servers[i].Dials }
	mostlyOK := func(c *loadCounts) {
		if c.ok.Load() == 0 || c.ok.Load() < c.sent.Load()*9/10 {
			t.Errorf("only %d of %d requests succeeded", c.ok.Load(), c.sent.Load())
		}
	}

	run("both servers up", time.Second, func(c *loadCounts) {
		mostlyOK(c)
		if dialsTo(1) != 0 {
			t.Errorf("%d connections to the second server while the first answers", dialsTo(1))
		}
	})
	a.Kill()
	run("first server killed", 2*time.Second, func(c *loadCounts) {
		mostlyOK(c)
		if dialsTo(1) == 0 {
			t.Error("no connection to the second server: no failover")
		}
	})
	if err := a.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := dialsTo(0)
	run("first server back", 3*time.Second, func(c *loadCounts) {
		mostlyOK(c)
		if dialsTo(0) == before || pool.Stats().FailbackClosed == 0 {
			t.Errorf("no move back to the first server: %d new connections to it, %d closed to fail back", dialsTo(0)-before, pool.Stats().FailbackClosed)
		}
	})
	// A server that hangs (stopped, not dead): connections to it stay open
	// and do not answer. Requests on them end at their deadline with 503;
	// dials to it time out and the second server takes over.
	syscall.Kill(a.Pid(), syscall.SIGSTOP)
	run("first server hung", 3*time.Second, func(c *loadCounts) {
		if c.ok.Load() == 0 {
			t.Errorf("nothing served while the first server hung: %s", c)
		}
	})
	syscall.Kill(a.Pid(), syscall.SIGCONT)
	run("first server answering again", 2*time.Second, mostlyOK)
	a.Kill()
	b.Kill()
	run("both servers killed", 1500*time.Millisecond, func(c *loadCounts) {
		if c.unavailable.Load() == 0 || c.ok.Load() > c.sent.Load()/10 {
			t.Errorf("with no directory: %s", c)
		}
	})
	restarted := time.Now()
	for _, d := range []*slapd.Server{a, b} {
		if err := d.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	run("both servers back", 3*time.Second, func(c *loadCounts) {
		first := c.firstOK.Load()
		if first == 0 {
			t.Fatalf("service did not come back: %s", c)
		}
		t.Logf("first success %s after the restart", time.Unix(0, first).Sub(restarted).Round(time.Millisecond))
	})
	run("after recovery", time.Second, mostlyOK)
}

// A create answered 503 because the directory stalled may still be
// written once the directory resumes: the add was already on its way, and
// LDAP cannot promise that an abandoned operation did not happen. The
// client's retry then lands as 409 uniqueness, never as a second user.
func TestCreateDuringAStall(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)), ldapstore.Options{}, func(o *Options) {
		o.Server.RequestTimeout = time.Second
	})
	u := &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/scim/v2"}
	u.list("/Users?count=1") // the directory's schema read, connections open
	body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"stalled"}`

	syscall.Kill(dir.Pid(), syscall.SIGSTOP)
	waitStopped(t, dir.Pid())
	r := u.send("POST", "/Users", body)
	syscall.Kill(dir.Pid(), syscall.SIGCONT)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("create with the directory stalled: %d (Retry-After %q) %s", r.status, r.header.Get("Retry-After"), r.raw)
	}
	// The pool may have put the server in backoff during the stall: the
	// requests below wait out its 503s.
	count := func() int {
		r := untilAnswered(t, func() response { return u.send("GET", `/Users?filter=`+urlQuery(`userName eq "stalled"`), "") })
		return total(r)
	}
	written := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !written; time.Sleep(50 * time.Millisecond) {
		written = count() == 1
	}
	t.Logf("the stalled create was written after all: %v", written)
	retry := untilAnswered(t, func() response { return u.send("POST", "/Users", body) })
	switch {
	case written && (retry.status != http.StatusConflict || retry.body["scimType"] != "uniqueness"):
		t.Errorf("the retry of a create that was written: %d %s, want 409 uniqueness", retry.status, retry.raw)
	case !written && retry.status != http.StatusCreated:
		t.Errorf("the retry of a create that was not written: %d %s, want 201", retry.status, retry.raw)
	}
	if n := count(); n != 1 {
		t.Errorf("%d users named stalled, want 1", n)
	}
}

// waitStopped waits until the process pid is stopped (SIGSTOP taken).
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if _, rest, ok := strings.Cut(string(b), ") "); ok && strings.HasPrefix(rest, "T") {
			return
		}
	}
	t.Fatalf("process %d did not stop", pid)
}

// untilAnswered repeats a request while it gets 503 (for up to 10 s).
func untilAnswered(t *testing.T, send func() response) response {
	t.Helper()
	r := send()
	for deadline := time.Now().Add(10 * time.Second); r.status == http.StatusServiceUnavailable && time.Now().Before(deadline); r = send() {
		time.Sleep(100 * time.Millisecond)
	}
	return r
}
