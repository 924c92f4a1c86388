package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// benchScale measures lists at the directory's size (issue 16's table): a
// fresh gateway's time to /readyz and to a ready order index, the latency
// of every kind of list page, memory, 12 parallel first pages, and how long
// a change made straight in the directory takes to show.
func benchScale(e *env) error {
	start := time.Now()
	gw, err := startGateway(e.ctx, e.bin, e.work, "scale", e.dir, "SCIMGATE_AUTH_MODE=bypass")
	if err != nil {
		return err
	}
	defer gw.stop()
	ready := time.Since(start)
	indexed, err := waitIndexReady(gw, 10*time.Minute)
	if err != nil {
		return err
	}
	indexed += ready
	fmt.Printf("## Lists at %d users (a fresh gateway, bypass auth)\n\n", e.users)
	fmt.Printf("- `/readyz` answered 200 %s after start; the order index was ready %s after start (%s).\n",
		ready.Round(time.Millisecond), indexed.Round(time.Millisecond), indexState(gw))
	fmt.Printf("- gateway RSS with the index loaded: %s (peak so far %s).\n\n", mib(gw.rss()), mib(gw.peak()))
	if err := scaleLatencies(e, gw); err != nil {
		return err
	}
	if err := scaleParallel(e, gw); err != nil {
		return err
	}
	return scaleChanges(e, gw)
}

// scaleLatencies prints the median latency of each kind of list page.
func scaleLatencies(e *env, gw *gateway) error {
	q := func(s string) string { return url.QueryEscape(s) }
	rows := []struct{ name, path string }{
		{`userName eq "…"`, "/Users?filter=" + q(fmt.Sprintf(`userName eq "user%06d"`, e.users/2))},
		{"`startIndex=1&count=2` (Okta's connection test)", "/Users?startIndex=1&count=2"},
		{"first page, count=100", "/Users?startIndex=1&count=100"},
		{fmt.Sprintf("`startIndex=%d&count=100` (the last page)", max(e.users-99, 1)), fmt.Sprintf("/Users?startIndex=%d&count=100", max(e.users-99, 1))},
		{"first cursor page, count=100", "/Users?count=100&cursor="},
	}
	for _, key := range []string{"userName", "displayName", "name.familyName", "meta.created", "meta.lastModified"} {
		for _, order := range []string{"ascending", "descending"} {
			rows = append(rows, struct{ name, path string }{
				fmt.Sprintf("`sortBy=%s&sortOrder=%s`, first page", key, order),
				fmt.Sprintf("/Users?count=100&sortBy=%s&sortOrder=%s", key, order)})
		}
	}
	rows = append(rows,
		struct{ name, path string }{`userName sw "user01"` + fmt.Sprintf(" (%d matches)", matchesOf(e.users, "user01")), "/Users?count=100&filter=" + q(`userName sw "user01"`)},
		struct{ name, path string }{"`/Groups` first page, count=100", "/Groups?count=100&excludedAttributes=members"},
		struct{ name, path string }{"`/Groups` sorted by displayName, descending", "/Groups?count=100&excludedAttributes=members&sortBy=displayName&sortOrder=descending"},
	)
	fmt.Printf("| request | median of 9 | totalResults |\n|---|---|---|\n")
	for _, row := range rows {
		d, err := latency(e.client, gw.base+row.path, 9)
		if err != nil {
			return err
		}
		body, err := get(e.client, gw.base+row.path)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %s | %v |\n", row.name, ms(d), body["totalResults"])
	}
	deep, err := cursorDepth(e, gw, 50)
	if err != nil {
		return err
	}
	fmt.Printf("| a cursor page 50 pages deep (median of the 50) | %s | |\n\n", ms(deep))
	return nil
}

// matchesOf counts the generated userNames (user000000…) with a prefix.
func matchesOf(n int, prefix string) int {
	count := 0
	for i := range n {
		if strings.HasPrefix(fmt.Sprintf("user%06d", i), prefix) {
			count++
		}
	}
	return count
}

// cursorDepth follows nextCursor for pages pages and returns the median
// page latency.
func cursorDepth(e *env, gw *gateway, pages int) (time.Duration, error) {
	var ds []time.Duration
	cursor := ""
	for range pages {
		t := time.Now()
		body, err := get(e.client, gw.base+"/Users?count=100&cursor="+url.QueryEscape(cursor))
		if err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t))
		cursor, _ = body["nextCursor"].(string)
		if cursor == "" {
			break
		}
	}
	return medianDuration(ds), nil
}

// scaleParallel sends 12 first pages at once and reports the statuses and
// the gateway's peak RSS.
func scaleParallel(e *env, gw *gateway) error {
	statuses := make([]int, 12)
	var wg sync.WaitGroup
	t := time.Now()
	for i := range statuses {
		wg.Go(func() {
			res, err := e.client.Get(gw.base + "/Users?startIndex=1&count=100")
			if err == nil {
				statuses[i] = res.StatusCode
				res.Body.Close()
			}
		})
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == 200 {
			ok++
		}
	}
	fmt.Printf("12 parallel first pages: %d × 200 in %s; gateway RSS %s, peak (VmHWM) %s.\n\n",
		ok, time.Since(t).Round(time.Millisecond), mib(gw.rss()), mib(gw.peak()))
	return nil
}

// scaleChanges measures how long an add, a rename and a delete made
// straight in the directory take to show in the gateway's lists.
func scaleChanges(e *env, gw *gateway) error {
	c, err := ldap.DialURL(e.dir.URL)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Bind(e.dir.RootDN, e.dir.Password); err != nil {
		return err
	}
	count := func(name string) (int, error) {
		body, err := get(e.client, gw.base+"/Users?count=0&filter="+url.QueryEscape(`userName eq "`+name+`"`))
		if err != nil {
			return 0, err
		}
		n, _ := body["totalResults"].(float64)
		return int(n), nil
	}
	dn := "uid=outofband," + e.dir.PeopleDN
	steps := []struct {
		what string
		do   func() error
		name string
		want int
	}{
		{"an add", func() error {
			return c.Add(&ldap.AddRequest{DN: dn, Attributes: []ldap.Attribute{{Type: "objectClass", Vals: []string{"inetOrgPerson"}},
				{Type: "uid", Vals: []string{"outofband"}}, {Type: "cn", Vals: []string{"O"}}, {Type: "sn", Vals: []string{"O"}}}})
		}, "outofband", 1},
		{"a rename", func() error {
			return c.ModifyDN(ldap.NewModifyDNRequest(dn, "uid=outofband2", true, ""))
		}, "outofband2", 1},
		{"a delete", func() error { return c.Del(ldap.NewDelRequest("uid=outofband2,"+e.dir.PeopleDN, nil)) }, "outofband2", 0},
	}
	var parts []string
	for _, s := range steps {
		t := time.Now()
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		for {
			n, err := count(s.name)
			if err != nil {
				return err
			}
			if n == s.want {
				break
			}
			if time.Since(t) > 10*time.Second {
				return fmt.Errorf("%s straight in the directory did not show in 10 s", s.what)
			}
			time.Sleep(5 * time.Millisecond)
		}
		parts = append(parts, fmt.Sprintf("%s %s", s.what, time.Since(t).Round(time.Millisecond)))
	}
	fmt.Printf("Changes made straight in the directory, until a list shows them: %s.\n\n", strings.Join(parts, ", "))
	return nil
}

// waitIndexReady polls /readyz until its index says both types are ready.
func waitIndexReady(gw *gateway, limit time.Duration) (time.Duration, error) {
	t := time.Now()
	for time.Since(t) < limit {
		if strings.HasPrefix(indexState(gw), "users ready") && strings.Contains(indexState(gw), "groups ready") {
			return time.Since(t), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("the order index was not ready within %s: %s", limit, indexState(gw))
}

// indexState is what /readyz says of the order indexes.
func indexState(gw *gateway) string {
	res, err := http.Get(strings.TrimSuffix(gw.base, "/scim/v2") + "/readyz")
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	var body map[string]string
	json.NewDecoder(res.Body).Decode(&body)
	return body["index"]
}
