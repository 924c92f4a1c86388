package gateway

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/directory"
	"github.com/scimgate/scimgate/test/slapd"
)

// Two directory providers replicating both ways, a gateway on each (the
// other provider its fallback), sharing a cursor key: what users who
// outgrow one directory server run. Writes through one gateway show in the
// other's lists and GETs within 2 s, with the same ETag; a cursor begun on
// one continues on the other; and while writes go on through both,
// killing a provider loses no acknowledged write.
func TestReplicatedGateways(t *testing.T) {
	a, b := slapd.NewPair(t, slapd.Options{ServiceAccount: true})
	key := filepath.Join(t.TempDir(), "cursor-key")
	os.WriteFile(key, []byte("the replicas' shared cursor key"), 0o600)
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	gateway := func(urls ...string) *userEnv {
		_, hs := newGatewayServerURLs(t, a, urls, log, ldapstore.Options{}, func(o *Options) { o.Server.CursorKeyFile = key })
		return &userEnv{t: t, dir: a.Directory(), base: hs.URL + "/scim/v2"}
	}
	ga, gb := gateway(a.URL, b.URL), gateway(b.URL, a.URL)
	userNames := func(u *userEnv) []string {
		r := u.send("GET", "/Users?count=1000&attributes=userName&filter="+urlQuery(`userName sw "repl"`), "")
		var out []string
		for _, res := range resources(r) {
			out = append(out, res["userName"].(string))
		}
		slices.Sort(out)
		return out
	}

	// Writes through A, read through B.
	ids := map[string]string{}
	var want []string
	for i := range 30 {
		name := fmt.Sprintf("repl%02d", i)
		id, _ := ga.create(`{"userName":"` + name + `"}`)
		ids[name], want = id, append(want, name)
	}
	written := time.Now()
	for !slices.Equal(userNames(gb), want) && time.Since(written) < 2*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	if got := userNames(gb); !slices.Equal(got, want) {
		t.Fatalf("2 s after the writes through A, B lists %q, want %q", got, want)
	}
	for name, id := range ids {
		ra, rb := ga.send("GET", "/Users/"+id, ""), gb.send("GET", "/Users/"+id, "")
		if rb.status != 200 || rb.header.Get("ETag") != ra.header.Get("ETag") || rb.body["userName"] != name {
			t.Errorf("GET %s through B: %d ETag %q, through A: ETag %q", name, rb.status, rb.header.Get("ETag"), ra.header.Get("ETag"))
		}
	}

	// A cursor walk alternating the replicas.
	seen := map[string]int{}
	cursor := ""
	for page := 0; ; page++ {
		u := []*userEnv{ga, gb}[page%2]
		r := u.list("/Users?count=7&sortBy=userName&filter=" + urlQuery(`userName sw "repl"`) + "&cursor=" + url.QueryEscape(cursor))
		for _, res := range resources(r) {
			seen[res["userName"].(string)]++
		}
		if cursor, _ = r.body["nextCursor"].(string); cursor == "" {
			break
		}
	}
	if got := slices.Sorted(maps.Keys(seen)); !slices.Equal(got, want) || len(seen) != len(want) {
		t.Errorf("the walk across replicas saw %v, want each of %q once", seen, want)
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", name, n)
		}
	}

	acknowledged := writeThroughAKill(t, a, ga, gb)
	if err := a.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := slapd.WaitSynced(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []*slapd.Server{b, a} {
		if missing := missingUsers(t, dir, acknowledged); len(missing) > 0 {
			t.Errorf("%d acknowledged creates missing on %s: %q", len(missing), dir.URL, missing)
		}
	}
}

// writeThroughAKill creates users through both gateways, kills provider a
// half way, and returns the userNames whose creation was acknowledged.
func writeThroughAKill(t *testing.T, a *slapd.Server, gateways ...*userEnv) []string {
	t.Helper()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g, u := range gateways {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%04d", g, i)
				if r := u.send("POST", "/Users", `{"userName":"`+name+`"}`); r.status == 201 {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	a.Kill()
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d creates acknowledged through both gateways, provider A killed half way", len(acked))
	return acked
}

// missingUsers returns those of names that dir has no user of.
func missingUsers(t *testing.T, ds directory.Server, names []string) []string {
	t.Helper()
	dir := ds.Directory()
	c, err := dir.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(dir.PeopleDN, ldap.ScopeSingleLevel, 0, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"uid"}, nil), 1000)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range res.Entries {
		have[e.GetAttributeValue("uid")] = true
	}
	var missing []string
	for _, n := range names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	return missing
}
