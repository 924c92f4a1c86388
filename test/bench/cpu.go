package main

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The CPU section: CPU time per request of each process — the gateway and
// slapd — from /proc/<pid>/stat (utime + stime) over a run, divided by the
// requests answered, for each kind of request and its closest raw LDAP
// equivalent sent straight to slapd. Unlike requests per second, it holds
// steady on a shared machine. The gateway runs as shipped: access log at
// info (to a file), metrics on, a static token.

// rawAttributes are what a plain look-up asks: every user attribute and
// the operational ones a SCIM resource needs.
var rawAttributes = []string{"*", "entryUUID", "entryCSN", "createTimestamp", "modifyTimestamp", "memberOf"}

// cpuCase is one kind of request, through the gateway and raw.
type cpuCase struct {
	name, raw string
	gw        func(c *leanClient, r *rand.Rand) error
	ldap      func(c *ldap.Conn, r *rand.Rand) error
}

// cpuSample is what one run measured: requests answered per second and
// the CPU each process spent per request.
type cpuSample struct {
	requestsPerSec float64
	gatewayPerReq  float64 // µs of CPU
	slapdPerReq    float64 // µs of CPU
}

func benchCPU(e *env) error {
	logFile, err := os.Create(filepath.Join(e.work, "cpu-gateway.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	gw, err := startGatewayWith(e.ctx, e.bin, e.work, "cpu", e.dir, logFile, append(tokenEnvScopes(e.work, "cpu",
		"https://jans.io/scim/users.read", "https://jans.io/scim/users.write", "https://jans.io/scim/groups.read"),
		// BENCH_ADMIN=127.0.0.1:6060 puts the profiler where a run can be
		// profiled: go tool pprof http://127.0.0.1:6060/debug/pprof/profile
		"SCIMGATE_LOG_LEVEL=info", "SCIMGATE_SERVER_ADMIN_LISTEN="+cmp.Or(os.Getenv("BENCH_ADMIN"), "127.0.0.1:0"))...)
	if err != nil {
		return err
	}
	defer gw.stop()
	if _, err := waitIndexReady(gw, 2*time.Minute); err != nil {
		return err
	}
	cases, err := cpuCases(e)
	if err != nil {
		return err
	}
	fmt.Printf("## CPU per request\n\n")
	fmt.Printf("CPU time (utime + stime, /proc/<pid>/stat) of each process over a run ÷ requests answered; %d clients; "+
		"medians of 3 alternating runs of %s each; the gateway as shipped (access log at info, metrics on, a static token).\n\n",
		e.concurrency, e.duration/5)
	fmt.Printf("| request | raw LDAP equivalent | scimgate CPU/req | slapd CPU/req via scimgate | slapd CPU/req raw | scimgate ÷ slapd raw | slapd via ÷ raw | req/s scimgate ÷ raw |\n|---|---|---|---|---|---|---|---|\n")
	floor := false
	for i, c := range cases {
		if only := os.Getenv("BENCH_CPU_CASE"); only != "" && !strings.Contains(c.name, only) {
			continue // BENCH_CPU_CASE=Groups: the cases whose name has it
		}
		floor = floor || i == 0
		g, r, err := alternate(e, gw, c)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		fmt.Printf("| %s | %s | %.0f µs | %.0f µs | %.0f µs | **%.2f** | **%.2f** | %.0f ÷ %.0f = %.2f |\n", c.name, c.raw,
			g.gatewayPerReq, g.slapdPerReq, r.slapdPerReq, g.gatewayPerReq/r.slapdPerReq, g.slapdPerReq/r.slapdPerReq,
			g.requestsPerSec, r.requestsPerSec, g.requestsPerSec/r.requestsPerSec)
	}
	fmt.Println()
	if floor {
		return cpuFloor(e, cases[0])
	}
	return nil
}

// cpuFloor measures the floor of the look-up by userName (the first case):
// test/bench/floor, plain net/http with one go-ldap search and
// encoding/json, against the same search sent straight, in alternating
// runs as the table's.
func cpuFloor(e *env, c cpuCase) error {
	fl, stop, err := startFloor(e)
	if err != nil {
		return err
	}
	defer stop()
	f, r, err := alternate(e, fl, c)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	fmt.Printf("Floor of the first row (`test/bench/floor`: net/http, one go-ldap search with the raw case's filter and attributes, "+
		"the entry encoded by encoding/json; no echo, SCIM, mapping, auth, metrics or log): **%.0f µs** of CPU per request "+
		"against slapd's %.0f µs raw = **%.2f**; slapd %.0f µs per request through it.\n\n",
		f.gatewayPerReq, r.slapdPerReq, f.gatewayPerReq/r.slapdPerReq, f.slapdPerReq)
	return nil
}

// startFloor builds and starts test/bench/floor over the bench's slapd,
// with as many connections as clients; stop ends it.
func startFloor(e *env) (*gateway, func(), error) {
	bin := filepath.Join(e.work, "floor")
	if out, err := exec.Command("go", "build", "-o", bin, "./test/bench/floor").CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("build floor: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.CommandContext(e.ctx, bin)
	cmd.Env = append(os.Environ(), "FLOOR_LISTEN="+addr, "FLOOR_LDAP_URL="+e.dir.URL, "FLOOR_BIND_DN="+e.dir.ServiceDN,
		"FLOOR_BIND_PASSWORD="+e.dir.ServicePassword, "FLOOR_BASE_DN="+e.dir.PeopleDN, "FLOOR_CONNS="+strconv.Itoa(e.concurrency))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("floor did not listen on %s", addr)
		}
	}
	return &gateway{cmd: cmd, base: "http://" + addr}, stop, nil
}

// alternate runs c three times raw and three times through target (a
// gateway, or the floor), alternating, and returns the median samples.
func alternate(e *env, target *gateway, c cpuCase) (via, raw cpuSample, err error) {
	var vias, raws []cpuSample
	for range 3 {
		r, err := cpuRun(e, target, e.duration/5, func() (func(*rand.Rand) error, func(), error) {
			conn, err := serviceConn(e)
			if err != nil {
				return nil, nil, err
			}
			return func(r *rand.Rand) error { return c.ldap(conn, r) }, func() { conn.Close() }, nil
		})
		if err != nil {
			return cpuSample{}, cpuSample{}, fmt.Errorf("raw: %w", err)
		}
		v, err := cpuRun(e, target, e.duration/5, func() (func(*rand.Rand) error, func(), error) {
			lc, err := newLeanClient(target.base)
			if err != nil {
				return nil, nil, err
			}
			return func(r *rand.Rand) error { return c.gw(lc, r) }, lc.close, nil
		})
		if err != nil {
			return cpuSample{}, cpuSample{}, err
		}
		raws, vias = append(raws, r), append(vias, v)
	}
	return medianSample(vias), medianSample(raws), nil
}

// cpuRun runs the workers setup makes for d and measures the CPU each
// process spent.
func cpuRun(e *env, gw *gateway, d time.Duration, setup func() (func(*rand.Rand) error, func(), error)) (cpuSample, error) {
	g0, s0 := cpuSeconds(gw.cmd.Process.Pid), cpuSeconds(e.dir.Pid())
	rps, err := throughput(e.concurrency, d, setup)
	if err != nil {
		return cpuSample{}, err
	}
	g1, s1 := cpuSeconds(gw.cmd.Process.Pid), cpuSeconds(e.dir.Pid())
	n := rps * d.Seconds()
	return cpuSample{requestsPerSec: rps, gatewayPerReq: (g1 - g0) / n * 1e6, slapdPerReq: (s1 - s0) / n * 1e6}, nil
}

// cpuSeconds reads a process's CPU time so far, user and system, in
// seconds (/proc/<pid>/stat, fields 14 and 15, in clock ticks of 1/100 s).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // from field 3, the state
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100
}

// medianSample is the sample of median gateway CPU per request.
func medianSample(xs []cpuSample) cpuSample {
	s := slices.Clone(xs)
	slices.SortFunc(s, func(a, b cpuSample) int {
		return int((a.gatewayPerReq + a.slapdPerReq - b.gatewayPerReq - b.slapdPerReq) * 1000)
	})
	return s[len(s)/2]
}

// serviceConn is a connection to slapd bound as the gateway's account.
func serviceConn(e *env) (*ldap.Conn, error) {
	c, err := ldap.DialURL(e.dir.URL)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(e.dir.ServiceDN, e.dir.ServicePassword); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// cpuCases are the kinds of request measured, with ids read from the
// directory: users and teams (groups) to address by id.
func cpuCases(e *env) ([]cpuCase, error) {
	users, groups, err := sampleIDs(e)
	if err != nil {
		return nil, err
	}
	uid := func(r *rand.Rand) int { return r.IntN(e.users) }
	pick := func(r *rand.Rand, ids []string) string { return ids[r.IntN(len(ids))] }
	search := func(c *ldap.Conn, base, filter string, attrs []string, want int, controls ...ldap.Control) error {
		res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, controls))
		if err == nil && len(res.Entries) != want {
			err = fmt.Errorf("%s: %d entries", filter, len(res.Entries))
		}
		return err
	}
	body := func(r *rand.Rand) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"T` +
			strconv.Itoa(r.IntN(1e6)) + `"}]}`
	}
	expect := func(b []byte, err error, want string) error {
		if err == nil && !strings.Contains(string(b), want) {
			err = fmt.Errorf("unexpected answer %.200s", b)
		}
		return err
	}
	return []cpuCase{
		{`GET /Users?filter=userName eq "…"`, "search (uid=…), attributes `*` + operational",
			func(c *leanClient, r *rand.Rand) error {
				b, err := c.get("/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "user%06d"`, uid(r))))
				return expect(b, err, `"totalResults":1}`)
			},
			func(c *ldap.Conn, r *rand.Rand) error {
				return search(c, e.dir.PeopleDN, fmt.Sprintf("(&(objectClass=inetOrgPerson)(uid=user%06d))", uid(r)), rawAttributes, 1)
			}},
		{"GET /Users/{id}", "search (entryUUID=…), the same attributes",
			func(c *leanClient, r *rand.Rand) error {
				b, err := c.get("/Users/" + pick(r, users))
				return expect(b, err, `"userName"`)
			},
			func(c *ldap.Conn, r *rand.Rand) error {
				return search(c, e.dir.PeopleDN, "(&(objectClass=inetOrgPerson)(entryUUID="+pick(r, users)+"))", rawAttributes, 1)
			}},
		{"PATCH /Users/{id} (replace title)", "modify (replace title)",
			func(c *leanClient, r *rand.Rand) error {
				b, err := c.do("PATCH", "/Users/"+pick(r, users), body(r))
				return expect(b, err, `"title"`)
			},
			func(c *ldap.Conn, r *rand.Rand) error {
				req := ldap.NewModifyRequest(fmt.Sprintf("uid=user%06d,%s", r.IntN(len(users)), e.dir.PeopleDN), nil)
				req.Replace("title", []string{"T" + strconv.Itoa(r.IntN(1e6))})
				return c.Modify(req)
			}},
		{"GET /Groups/{id}?excludedAttributes=members", "search (entryUUID=…), `*` but member + operational",
			func(c *leanClient, r *rand.Rand) error {
				b, err := c.get("/Groups/" + pick(r, groups) + "?excludedAttributes=members")
				return expect(b, err, `"displayName"`)
			},
			func(c *ldap.Conn, r *rand.Rand) error {
				return search(c, e.dir.GroupsDN, "(&(objectClass=groupOfNames)(entryUUID="+pick(r, groups)+"))",
					[]string{"cn", "entryUUID", "entryCSN", "createTimestamp", "modifyTimestamp"}, 1)
			}},
		{"GET /Users?count=100 (a page)", "paged search, first 100 users, `*` + operational",
			func(c *leanClient, r *rand.Rand) error {
				b, err := c.get("/Users?startIndex=1&count=100")
				return expect(b, err, `"itemsPerPage":100`)
			},
			func(c *ldap.Conn, r *rand.Rand) error {
				return search(c, e.dir.PeopleDN, "(objectClass=inetOrgPerson)", rawAttributes, 100, ldap.NewControlPaging(100))
			}},
	}, nil
}

// sampleIDs reads the entryUUIDs of the users (in uid order, so that index
// i is user i's) and of the teams.
func sampleIDs(e *env) (users, groups []string, err error) {
	c, err := serviceConn(e)
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	const sample = 10_000
	for i := 0; i < min(sample, e.users); i++ {
		res, err := c.Search(ldap.NewSearchRequest(fmt.Sprintf("uid=user%06d,%s", i, e.dir.PeopleDN), ldap.ScopeBaseObject,
			ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"entryUUID"}, nil))
		if err != nil || len(res.Entries) != 1 {
			return nil, nil, fmt.Errorf("user %d: %v", i, err)
		}
		users = append(users, res.Entries[0].GetAttributeValue("entryUUID"))
	}
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(e.dir.GroupsDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(cn=team*)", []string{"entryUUID"}, nil), 1000)
	if err != nil {
		return nil, nil, err
	}
	for _, g := range res.Entries {
		groups = append(groups, g.GetAttributeValue("entryUUID"))
	}
	return users, groups, nil
}
