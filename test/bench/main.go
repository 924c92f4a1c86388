// Command bench measures scimgate against the directory it fronts, on one
// machine, in one run, and prints the figures as ratios (see
// docs/benchmarks.md): it loads a generated directory into a throwaway
// slapd with slapadd, starts the gateway as its own process, and drives
// both with the same concurrency.
//
//	go run ./test/bench -users 100000 -concurrency 8 -duration 10s
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/slapd"
)

func main() {
	var o options
	flag.IntVar(&o.users, "users", 100_000, "users in the generated directory")
	flag.IntVar(&o.groupSize, "group-size", 1000, "members per generated group (every user is in one group)")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent clients, for the gateway and for raw LDAP alike")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "time given to each of raw LDAP and the gateway, in 5 alternating runs")
	flag.BoolVar(&o.pin, "pin", false, "run slapd on CPU 0 and everything else on the other CPUs (Linux, taskset), as if the directory had a machine of its own")
	sections := flag.String("sections", strings.Join(sectionNames(), ","), "the sections to run, comma-separated")
	flag.Parse()
	// The load client should take as little CPU from the servers as it can.
	debug.SetGCPercent(800)
	if err := run(o, strings.Split(*sections, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const token = "bench-token"

// options are the bench's flags.
type options struct {
	users, groupSize, concurrency int
	duration                      time.Duration
	pin                           bool
}

// env is what every section measures with: the directory, the gateway
// binary and one running gateway over it.
type env struct {
	options
	ctx    context.Context
	work   string
	bin    string
	dir    *slapd.Server
	gw     *gateway
	client *http.Client
}

// sections are the parts of the bench, in the order they run.
var sections = []struct {
	name string
	run  func(*env) error
}{
	{"username-eq", benchUserNameEq},
	{"cpu", benchCPU},
	{"paging", benchPaging},
	{"walks", benchWalks},
	{"groups", benchGroups},
	{"auth", benchAuth},
	{"parallel-lists", benchParallelLists},
	{"scale", benchScale},
}

func sectionNames() []string {
	var out []string
	for _, s := range sections {
		out = append(out, s.name)
	}
	return out
}

func run(o options, only []string) error {
	for _, name := range only {
		if !slices.Contains(sectionNames(), name) {
			return fmt.Errorf("-sections: no section %q (there are %s)", name, strings.Join(sectionNames(), ", "))
		}
	}
	e, cleanup, err := setUp(o)
	if err != nil {
		return err
	}
	defer cleanup()
	for _, s := range sections {
		if slices.Contains(only, s.name) {
			if err := s.run(e); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
		}
	}
	return nil
}

// setUp loads the generated directory into a throwaway slapd, builds the
// gateway and starts one over it.
func setUp(o options) (*env, func(), error) {
	e := &env{options: o, ctx: context.Background()}
	work, err := os.MkdirTemp("", "scimgate-bench-")
	if err != nil {
		return nil, nil, err
	}
	e.work = work
	var stops []func()
	cleanup := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		os.RemoveAll(work)
	}
	fmt.Printf("# scimgate benchmark\n\n")
	fmt.Printf("- machine: %d CPUs (%s/%s), %s\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, cpuModel())
	fmt.Printf("- directory: slapd (%s), %d users in groups of %d, loaded with slapadd\n", slapdVersion(), o.users, o.groupSize)
	fmt.Printf("- concurrency %d, throughput runs of %s\n\n", o.concurrency, o.duration)

	t0 := time.Now()
	ldifPath := filepath.Join(work, "users.ldif")
	if err := slapd.WriteUsersLDIF(ldifPath, o.users, o.groupSize); err != nil {
		cleanup()
		return nil, nil, err
	}
	// SyncProv: the directory streams its changes, so the gateway keeps an
	// order index (the sections that measure snapshots turn it off).
	if e.dir, err = slapd.Start(e.ctx, slapd.Options{ServiceAccount: true, SyncProv: true, Preload: ldifPath, Dir: filepath.Join(work, "slapd")}); err != nil {
		cleanup()
		return nil, nil, err
	}
	stops = append(stops, func() { e.dir.Stop() })
	if o.pin {
		if err := pin(e.dir); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	fmt.Printf("- generated and loaded in %s\n\n", time.Since(t0).Round(100*time.Millisecond))

	e.bin = filepath.Join(work, "scimgate")
	if out, err := exec.Command("go", "build", "-o", e.bin, "./cmd/scimgate").CombinedOutput(); err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("build: %v: %s", err, out)
	}
	if e.gw, err = startGateway(e.ctx, e.bin, work, "a", e.dir); err != nil {
		cleanup()
		return nil, nil, err
	}
	stops = append(stops, e.gw.stop)
	e.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.concurrency * 2}}
	return e, cleanup, nil
}

// pin runs slapd on CPU 0 and this process on the others.
func pin(dir *slapd.Server) error {
	others := fmt.Sprintf("1-%d", runtime.NumCPU()-1)
	for _, args := range [][]string{{"-a", "-p", "-c", "0", strconv.Itoa(dir.Pid())}, {"-a", "-p", "-c", others, strconv.Itoa(os.Getpid())}} {
		if out, err := exec.Command("taskset", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("taskset: %v: %s", err, out)
		}
	}
	fmt.Printf("- pinned: slapd on CPU 0, the gateway and the load client on CPUs %s\n", others)
	return nil
}

// benchUserNameEq compares the gateway with the same search sent straight
// to LDAP, in alternating runs.
func benchUserNameEq(e *env) error {
	profile, _ := schema.Preset("openldap")
	attrs := profile.Users.LDAPAttributes()
	uid := func(r *rand.Rand) string { return fmt.Sprintf("user%06d", r.IntN(e.users)) }
	rawSetup := func() (func(*rand.Rand) error, func(), error) {
		c, err := ldap.DialURL(e.dir.URL)
		if err != nil {
			return nil, nil, err
		}
		if err := c.Bind(e.dir.ServiceDN, e.dir.ServicePassword); err != nil {
			return nil, nil, err
		}
		return func(r *rand.Rand) error {
			res, err := c.Search(ldap.NewSearchRequest(e.dir.PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
				"(&(objectClass=inetOrgPerson)(uid="+uid(r)+"))", attrs, nil))
			if err == nil && len(res.Entries) != 1 {
				err = fmt.Errorf("%d entries", len(res.Entries))
			}
			return err
		}, func() { c.Close() }, nil
	}
	gatewaySetup := func() (func(*rand.Rand) error, func(), error) {
		// A lean HTTP/1.1 client on one kept-alive connection, which checks
		// the answer without decoding it all, as the LDAP client does: both
		// leave the CPU to the servers.
		c, err := newLeanClient(e.gw.base)
		if err != nil {
			return nil, nil, err
		}
		return func(r *rand.Rand) error {
			b, err := c.get("/Users?filter=" + url.QueryEscape(`userName eq "`+uid(r)+`"`))
			if err == nil && !strings.Contains(string(b), `"totalResults":1}`) {
				err = fmt.Errorf("not one result: %.200s", b)
			}
			return err
		}, c.close, nil
	}
	// Alternate short runs of each, so that the noise of a shared machine
	// falls on both alike; report the medians.
	const rounds = 5
	var raws, gws, ratios []float64
	for range rounds {
		raw, err := throughput(e.concurrency, e.duration/rounds, rawSetup)
		if err != nil {
			return fmt.Errorf("raw LDAP: %w", err)
		}
		gw, err := throughput(e.concurrency, e.duration/rounds, gatewaySetup)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		raws, gws, ratios = append(raws, raw), append(gws, gw), append(ratios, gw/raw)
	}
	raw, viaGateway, ratio := median(raws), median(gws), median(ratios)
	fmt.Printf("## GET /Users?filter=userName eq \"...\"\n\n")
	fmt.Printf("Medians of %d alternating runs of %s each.\n\n", rounds, e.duration/rounds)
	fmt.Printf("| | requests/s |\n|---|---|\n| raw LDAP search (go-ldap, %d connections) | %.0f |\n| through scimgate (HTTP, %d clients) | %.0f |\n| **ratio** (median of the runs' ratios; range %.2f–%.2f) | **%.2f** |\n\n",
		e.concurrency, raw, e.concurrency, viaGateway, slices.Min(ratios), slices.Max(ratios), ratio)
	return nil
}

// benchPaging measures index paging: the first page and a deep one, on
// this gateway and on a replica that never served the first.
func benchPaging(e *env) error {
	first, err := latency(e.client, e.gw.base+"/Users?startIndex=1&count=100", 5)
	if err != nil {
		return err
	}
	deepIndex := max(e.users-99, 1)
	deep, err := latency(e.client, e.gw.base+fmt.Sprintf("/Users?startIndex=%d&count=100", deepIndex), 5)
	if err != nil {
		return err
	}
	gw2, err := startGateway(e.ctx, e.bin, e.work, "b", e.dir) // a replica that never saw the first page
	if err != nil {
		return err
	}
	coldDeep, err := latency(e.client, gw2.base+fmt.Sprintf("/Users?startIndex=%d&count=100", deepIndex), 1)
	gw2.stop()
	if err != nil {
		return err
	}
	fmt.Printf("## Index paging (count=100, median of 5)\n\n")
	fmt.Printf("| page | latency |\n|---|---|\n| startIndex=1 | %s |\n| startIndex=%d | %s |\n| startIndex=%d on a replica that never served page 1 | %s |\n| **ratio deep ÷ first** | **%.2f** |\n\n",
		ms(first), deepIndex, ms(deep), deepIndex, ms(coldDeep), float64(deep)/float64(first))
	return nil
}

// benchWalks walks every user by index (as Okta imports) and by cursor.
func benchWalks(e *env) error {
	rssStart := e.gw.rss()
	t1 := time.Now()
	seen := 0
	for start := 1; start <= e.users; start += 100 {
		body, err := get(e.client, e.gw.base+fmt.Sprintf("/Users?startIndex=%d&count=100", start))
		if err != nil {
			return err
		}
		seen += len(body["Resources"].([]any))
	}
	indexWalk := time.Since(t1)
	if seen != e.users {
		return fmt.Errorf("index walk saw %d users, want %d", seen, e.users)
	}
	cursorWalk, pageTimes, samples, err := cursorWalk(e)
	if err != nil {
		return err
	}
	pages := len(pageTimes)
	fmt.Printf("## Walks of all %d users (count=100)\n\n", e.users)
	fmt.Printf("| walk | total | per page |\n|---|---|---|\n| startIndex=1,101,... | %s | %s |\n| cursor | %s | %s |\n\n",
		indexWalk.Round(time.Millisecond), ms(indexWalk/time.Duration(max(e.users/100, 1))),
		cursorWalk.Round(time.Millisecond), ms(cursorWalk/time.Duration(pages)))
	avg := func(ds []time.Duration) time.Duration {
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return sum / time.Duration(max(len(ds), 1))
	}
	if n := len(pageTimes); n > 21 {
		fmt.Printf("Cursor pages: the first (which takes the snapshot) %s; pages 2–11 %s each; the last 10 %s each.\n\n",
			ms(pageTimes[0]), ms(avg(pageTimes[1:11])), ms(avg(pageTimes[n-10:])))
	}
	fmt.Printf("Gateway RSS: %s before the walks; during the cursor walk %s; peak (VmHWM) %s.\n\n",
		mib(rssStart), strings.Join(samples, ", "), mib(e.gw.peak()))
	return nil
}

// cursorWalk follows nextCursor through every user, timing each page and
// sampling the gateway's RSS four times.
func cursorWalk(e *env) (time.Duration, []time.Duration, []string, error) {
	t := time.Now()
	var samples []string
	var pageTimes []time.Duration
	cursor, seen := "", 0
	for {
		tp := time.Now()
		body, err := get(e.client, e.gw.base+"/Users?count=100&cursor="+url.QueryEscape(cursor))
		if err != nil {
			return 0, nil, nil, err
		}
		pageTimes = append(pageTimes, time.Since(tp))
		seen += len(body["Resources"].([]any))
		if len(pageTimes)%(max(e.users/100, 10)/4) == 0 {
			samples = append(samples, fmt.Sprintf("%d%%: %s", seen*100/e.users, mib(e.gw.rss())))
		}
		next, _ := body["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if seen != e.users {
		return 0, nil, nil, fmt.Errorf("cursor walk saw %d users, want %d", seen, e.users)
	}
	return time.Since(t), pageTimes, samples, nil
}

// benchParallelLists measures a fresh gateway's memory under 12 parallel
// first pages of every user and 8 distinct sorted queries at once, each
// matching every user (TestParallelListsStayBounded holds the bound).
func benchParallelLists(e *env) error {
	// The snapshot path, as without a change stream (issue 15's figure).
	gw, err := startGateway(e.ctx, e.bin, e.work, "parallel", e.dir, append(tokenEnv(e.work, "parallel"), "SCIMGATE_SEARCH_INDEX=off")...)
	if err != nil {
		return err
	}
	defer gw.stop()
	var paths []string
	for range 12 {
		paths = append(paths, "/Users?count=1")
	}
	for _, sortBy := range []string{"userName", "name.familyName", "name.givenName", "displayName", "title", "emails", "meta.created", "meta.lastModified"} {
		paths = append(paths, "/Users?count=10&sortBy="+sortBy+"&filter="+url.QueryEscape(`userName sw "user"`))
	}
	before := gw.rss()
	start := time.Now()
	statuses := make([]string, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() {
			body, err := get(e.client, gw.base+p)
			switch {
			case err != nil:
				statuses[i] = err.Error()
			case body["totalResults"] != float64(e.users):
				statuses[i] = fmt.Sprintf("totalResults %v", body["totalResults"])
			default:
				statuses[i] = "200"
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	ok := 0
	for _, s := range statuses {
		if s == "200" {
			ok++
		}
	}
	fmt.Printf("## %d parallel lists of all %d users (a fresh gateway)\n\n", len(paths), e.users)
	fmt.Printf("12 × `GET /Users?count=1` and 8 × `GET /Users?count=10&sortBy=<8 attributes>&filter=userName sw \"user\"`, at once.\n\n")
	fmt.Printf("| answered 200 with the exact total | all done after | gateway RSS before | peak (VmHWM) |\n|---|---|---|---|\n| %d of %d | %s | %s | **%s** |\n\n",
		ok, len(paths), took.Round(time.Millisecond), mib(before), mib(gw.peak()))
	if ok != len(paths) {
		return fmt.Errorf("parallel lists: %q", statuses)
	}
	return nil
}

// benchGroups measures a group of every user against a group of one.
func benchGroups(e *env) error {
	ctx, client, gw, dir, nUsers := e.ctx, e.client, e.gw, e.dir, e.users
	groupID := func(name string) (string, error) {
		body, err := get(client, gw.base+"/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "`+name+`"`))
		if err != nil {
			return "", err
		}
		list, _ := body["Resources"].([]any)
		if len(list) != 1 {
			return "", fmt.Errorf("group %s: %v", name, body)
		}
		return list[0].(map[string]any)["id"].(string), nil
	}
	big, err := groupID("everyone")
	if err != nil {
		return err
	}
	small, err := groupID("solo")
	if err != nil {
		return err
	}
	if err := benchMemberPatches(e, big, small); err != nil {
		return err
	}
	// The whole group, with display names: time and memory over HTTP, LDAP
	// operations through a store of its own.
	before := gw.rss()
	var b []byte
	full, peak := withPeakRSS(gw, func() { b, err = getRaw(client, gw.base+"/Groups/"+big) })
	if err != nil {
		return err
	}
	ops, err := storeOperations(ctx, dir, big)
	if err != nil {
		return err
	}
	fmt.Printf("Full GET of the %d-member group with display names: %s, %.1f MiB of JSON, %d LDAP operations; "+
		"gateway RSS %s before, at most %s during.\n\n", nUsers, full.Round(time.Millisecond), float64(len(b))/(1<<20), ops, mib(before), mib(peak))

	// A PATCH answered 200 with the group (as groups.patch_response: 200
	// answers; attributes= asks for the body whatever the setting).
	before = gw.rss()
	var n int64
	took, peak := withPeakRSS(gw, func() { n, err = patchAnswered(client, gw.base+"/Groups/"+big+"?attributes=displayName,members") })
	if err != nil {
		return err
	}
	fmt.Printf("PATCH of the %d-member group answered 200 with the group: %s, %.1f MiB of JSON; gateway RSS %s before, at most %s during.\n",
		nUsers, took.Round(time.Millisecond), float64(n)/(1<<20), mib(before), mib(peak))
	return nil
}

// benchMemberPatches compares adding one member to the big group and to
// the small one, and reading each without its members.
func benchMemberPatches(e *env, big, small string) error {
	client, gw, nUsers := e.client, e.gw, e.users
	userIDs := map[int]string{}
	userID := func(i int) (string, error) {
		if id, ok := userIDs[i]; ok {
			return id, nil
		}
		body, err := get(client, gw.base+"/Users?attributes=id&filter="+url.QueryEscape(fmt.Sprintf(`userName eq "user%06d"`, i)))
		if err != nil {
			return "", err
		}
		userIDs[i] = body["Resources"].([]any)[0].(map[string]any)["id"].(string)
		return userIDs[i], nil
	}
	patch := func(group, op, member string) (time.Duration, error) {
		body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + op + `]}`
		body = strings.ReplaceAll(body, "MEMBER", member)
		req, _ := http.NewRequest("PATCH", gw.base+"/Groups/"+group, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		t := time.Now()
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 204 {
			return 0, fmt.Errorf("PATCH %s: %d", op, res.StatusCode)
		}
		return time.Since(t), nil
	}
	const add = `{"op":"add","path":"members","value":[{"value":"MEMBER"}]}`
	const remove = `{"op":"remove","path":"members[value eq \"MEMBER\"]"}`
	const rounds = 21
	var bigAdds, smallAdds []time.Duration
	for i := 1; i <= rounds; i++ {
		member, err := userID(i)
		if err != nil {
			return err
		}
		if _, err := patch(big, remove, member); err != nil { // so that the add adds
			return err
		}
		d, err := patch(big, add, member)
		if err != nil {
			return err
		}
		bigAdds = append(bigAdds, d)
		if d, err = patch(small, add, member); err != nil {
			return err
		}
		smallAdds = append(smallAdds, d)
		if _, err := patch(small, remove, member); err != nil {
			return err
		}
	}
	bigGet, err := latency(client, gw.base+"/Groups/"+big+"?excludedAttributes=members", rounds)
	if err != nil {
		return err
	}
	smallGet, err := latency(client, gw.base+"/Groups/"+small+"?excludedAttributes=members", rounds)
	if err != nil {
		return err
	}
	fmt.Printf("## A group of %d members ÷ a group of one (median of %d)\n\n", nUsers, rounds)
	fmt.Printf("| request | %d members | 1 member | ratio |\n|---|---|---|---|\n", nUsers)
	fmt.Printf("| PATCH adding one member (204) | %s | %s | **%.2f** |\n", ms(medianDuration(bigAdds)), ms(medianDuration(smallAdds)),
		float64(medianDuration(bigAdds))/float64(medianDuration(smallAdds)))
	fmt.Printf("| GET ?excludedAttributes=members | %s | %s | **%.2f** |\n\n", ms(bigGet), ms(smallGet), float64(bigGet)/float64(smallGet))

	return nil
}

// withPeakRSS runs f, sampling the gateway's RSS every 10 ms, and returns
// how long f took and the largest RSS seen.
func withPeakRSS(gw *gateway, f func()) (time.Duration, int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := gw.rss(); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	t := time.Now()
	f()
	took := time.Since(t)
	close(done)
	<-sampled
	return took, peak.Load()
}

// patchAnswered renames the group at u (to the name it has) with a PATCH
// and returns the size of the 200's body.
func patchAnswered(c *http.Client, u string) (int64, error) {
	body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"everyone"}]}`
	req, _ := http.NewRequest("PATCH", u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/scim+json")
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("PATCH %s: %d", u, res.StatusCode)
	}
	return n, err
}

// storeOperations counts the LDAP operations of reading a whole group
// through a store of its own.
func storeOperations(ctx context.Context, dir *slapd.Server, id string) (int64, error) {
	pool, err := ldapstore.Open(ldapstore.Config{URLs: []string{dir.URL}, BindDN: dir.ServiceDN, BindPassword: dir.ServicePassword}.WithDefaults())
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	profile, _ := schema.Preset("openldap")
	store, err := ldapstore.NewStore(pool, ldapstore.Options{Profile: profile,
		Users: ldapstore.UsersConfig{ResourceConfig: ldapstore.ResourceConfig{BaseDN: dir.PeopleDN}}, Groups: ldapstore.GroupsConfig{ResourceConfig: ldapstore.ResourceConfig{BaseDN: dir.GroupsDN}}})
	if err != nil {
		return 0, err
	}
	groups, err := store.Groups(ctx)
	if err != nil {
		return 0, err
	}
	n := pool.Stats().Operations
	if _, err := groups.Get(ctx, id, schema.Projection{}); err != nil {
		return 0, err
	}
	return pool.Stats().Operations - n, nil
}

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

type gateway struct {
	cmd  *exec.Cmd
	base string
}

// startGateway starts a gateway process over dir; authEnv configures its
// authentication (default: the static token "bench-token").
func startGateway(ctx context.Context, bin, work, name string, dir *slapd.Server, authEnv ...string) (*gateway, error) {
	return startGatewayWith(ctx, bin, work, name, dir, os.Stderr, authEnv...)
}

// startGatewayWith is startGateway with the gateway's log to stderr and
// env added last (overriding the bench's settings).
func startGatewayWith(ctx context.Context, bin, work, name string, dir *slapd.Server, stderr io.Writer, env ...string) (*gateway, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "SCIMGATE_AUTH_MODE=") }) {
		env = append(tokenEnv(work, name), env...)
	}
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(append(os.Environ(), dir.GatewayEnv()...),
		"SCIMGATE_SERVER_LISTEN="+addr,
		"SCIMGATE_LOG_LEVEL=warn",
		"GOGC="+os.Getenv("GATEWAY_GOGC"),
	)
	cmd.Env = append(cmd.Env, env...) // the last of a name wins
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	g := &gateway{cmd: cmd, base: "http://" + addr + "/scim/v2"}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		res, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return g, nil
			}
		}
		if time.Now().After(deadline) {
			g.stop()
			return nil, fmt.Errorf("the gateway did not become ready")
		}
	}
}

func (g *gateway) stop() { g.cmd.Process.Kill(); g.cmd.Wait() }

// tokenEnv configures a gateway's authentication: the static token
// "bench-token", reading users and groups and writing groups.
func tokenEnv(work, name string) []string {
	return tokenEnvScopes(work, name, "https://jans.io/scim/users.read", "https://jans.io/scim/groups.read", "https://jans.io/scim/groups.write")
}

// tokenEnvScopes is tokenEnv with the token's scopes.
func tokenEnvScopes(work, name string, scopes ...string) []string {
	sum := sha256.Sum256([]byte(token))
	tokens := filepath.Join(work, "tokens-"+name+".yaml")
	os.WriteFile(tokens, []byte(fmt.Sprintf("- name: bench\n  sha256: %s\n  scopes: [%s]\n",
		hex.EncodeToString(sum[:]), strings.Join(scopes, ", "))), 0o600)
	return []string{"SCIMGATE_AUTH_MODE=token", "SCIMGATE_AUTH_TOKENS_FILE=" + tokens}
}

// rss and peak read the gateway process's resident set size, now and at
// its highest, in bytes.
func (g *gateway) rss() int64  { return procStatus(g.cmd.Process.Pid, "VmRSS:") }
func (g *gateway) peak() int64 { return procStatus(g.cmd.Process.Pid, "VmHWM:") }

func procStatus(pid int, field string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func get(c *http.Client, u string) (map[string]any, error) {
	b, err := getRaw(c, u)
	if err != nil {
		return nil, err
	}
	var body map[string]any
	return body, json.Unmarshal(b, &body)
}

// leanClient speaks just enough HTTP/1.1 for the throughput runs.
type leanClient struct {
	conn  net.Conn
	r     *bufio.Reader
	host  string
	path  string // the base path
	token string // the bearer token, "" for none
}

func newLeanClient(base string) (*leanClient, error) { return newLeanClientWith(base, token) }

func newLeanClientWith(base, token string) (*leanClient, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return &leanClient{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), host: u.Host, path: u.Path, token: token}, nil
}

func (c *leanClient) close() { c.conn.Close() }

func (c *leanClient) get(path string) ([]byte, error) { return c.do("GET", path, "") }

// do sends one request (a body as SCIM JSON) and reads its answer, which
// must be 200.
func (c *leanClient) do(method, path, body string) ([]byte, error) {
	req := method + " " + c.path + path + " HTTP/1.1\r\nHost: " + c.host + "\r\n"
	if c.token != "" {
		req += "Authorization: Bearer " + c.token + "\r\n"
	}
	if body != "" {
		req += "Content-Type: application/scim+json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	req += "\r\n" + body
	if _, err := io.WriteString(c.conn, req); err != nil {
		return nil, err
	}
	status, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	length, chunked := -1, false
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == "\r\n" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		switch {
		case strings.EqualFold(k, "Content-Length"):
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		case strings.EqualFold(k, "Transfer-Encoding") && strings.Contains(strings.ToLower(v), "chunked"):
			chunked = true
		}
	}
	var answer []byte
	switch {
	case chunked:
		if answer, err = readChunked(c.r); err != nil {
			return nil, err
		}
	case length >= 0:
		answer = make([]byte, length)
		if _, err := io.ReadFull(c.r, answer); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("no Content-Length in the response")
	}
	if !strings.HasPrefix(status, "HTTP/1.1 200") {
		return nil, fmt.Errorf("%s %s: %s %.300s", method, path, strings.TrimSpace(status), answer)
	}
	return answer, nil
}

// readChunked reads an HTTP/1.1 chunked body.
func readChunked(r *bufio.Reader) ([]byte, error) {
	var out []byte
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(line, ";", 2)[0]), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("chunk size %q: %w", line, err)
		}
		if size == 0 {
			_, err := r.ReadString('\n') // the blank line after the last chunk (no trailers)
			return out, err
		}
		chunk := make([]byte, size+2) // and its CRLF
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, err
		}
		out = append(out, chunk[:size]...)
	}
}

func getRaw(c *http.Client, u string) ([]byte, error) {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("GET %s: %d %.300s", u, res.StatusCode, b)
	}
	return b, err
}

// throughput runs workers (each made by setup) for d and returns
// operations per second; any error stops the run.
func throughput(workers int, d time.Duration, setup func() (func(*rand.Rand) error, func(), error)) (float64, error) {
	var ops atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	stop := time.Now().Add(d)
	for w := range workers {
		op, done, err := setup()
		if err != nil {
			return 0, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done()
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for time.Now().Before(stop) {
				if err := op(r); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				ops.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(ops.Load()) / d.Seconds(), firstErr
}

// latency returns the median latency of n requests to u.
func latency(c *http.Client, u string, n int) (time.Duration, error) {
	var ds []time.Duration
	for range n {
		t := time.Now()
		if _, err := get(c, u); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t))
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
func mib(b int64) string        { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			_, v, _ := strings.Cut(line, ":")
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func slapdVersion() string {
	bin, err := slapd.Binary()
	if err != nil {
		return "?"
	}
	out, _ := exec.Command(bin, "-VV").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "slapd") {
			f := strings.Fields(line)
			for i, w := range f {
				if w == "slapd" && i+1 < len(f) {
					return "OpenLDAP " + f[i+1]
				}
			}
		}
	}
	return "OpenLDAP"
}
