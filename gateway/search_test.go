package gateway

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/directory"
	"github.com/scimgate/scimgate/test/slapd"
)

// list GETs a list and fails on anything but 200.
func (u *userEnv) list(path string) response {
	u.t.Helper()
	r := u.send("GET", path, "")
	if r.status != 200 {
		u.t.Fatalf("GET %s: %d %s", path, r.status, r.raw)
	}
	return r
}

// searchBody POSTs a SearchRequest built from params.
func (u *userEnv) searchBody(endpoint string, params map[string]any) response {
	u.t.Helper()
	params["schemas"] = []string{searchRequestURN}
	return u.send("POST", endpoint+"/.search", string(mustJSON(params)))
}

func resources(r response) []map[string]any {
	list, _ := r.body["Resources"].([]any)
	out := make([]map[string]any, len(list))
	for i, x := range list {
		out[i], _ = x.(map[string]any)
	}
	return out
}

func userNames(r response) []string {
	var out []string
	for _, res := range resources(r) {
		name, _ := res["userName"].(string)
		out = append(out, name)
	}
	return out
}

func total(r response) int { n, _ := r.body["totalResults"].(float64); return int(n) }

// Every operator and shape of RFC 7644 section 3.4.2.2, on slapd, by GET
// and by POST .search alike; hostile values match only themselves.
func TestSearchFilters(t *testing.T) {
	u := newUserEnv(t)
	for _, body := range []string{
		`{"userName":"star*","name":{"familyName":"Stars"},"emails":[{"value":"star@example.com","type":"work"},{"value":"star@home.example","type":"home"}]}`,
		`{"userName":"paren(x)","addresses":[{"type":"work","locality":"Paris","country":"FR"}]}`,
		`{"userName":"back\\slash","externalId":"EXT-1"}`,
		`{"userName":"zoë","nickName":"Zo","title":"Ninja"}`,
	} {
		if id, r := u.create(body); id == "" {
			t.Fatalf("create %s: %d %s", body, r.status, r.raw)
		}
	}
	// The gateway refuses control characters; a directory may hold them.
	if err := u.dir.AddLDIF(context.Background(), "dn: uid=nul\\00byte,"+u.dir.PeopleDN+
		"\nobjectClass: inetOrgPerson\nuid:: bnVsAGJ5dGU=\ncn: nul\nsn: nul\n"); err != nil {
		t.Fatal(err)
	}
	all := slapd.DemoUsers + 5
	engineering := ""
	for _, g := range resources(u.list(`/Groups?filter=` + urlQuery(`displayName eq "Engineering"`))) {
		engineering, _ = g["id"].(string)
	}
	ada := u.idOf("alovelace")
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	tests := []struct {
		filter string
		want   int
	}{
		{`userName eq "alovelace"`, 1},
		{`userName eq "ALOVELACE"`, 1}, // caseExact false, as uid's matching rule
		{`userName ne "alovelace"`, all - 1},
		{`userName co "lovelace"`, 2},
		{`userName sw "alove"`, 1},
		{`userName ew "lace"`, 1}, // not alovelace1
		{`title pr`, slapd.DemoUsers + 1},
		{`nickName pr`, 1},
		{`title eq "Product Manager" and name.givenName sw "T"`, 1},
		{`title eq "Product Manager" or title eq "Security Engineer"`, 10},
		{`(title eq "Product Manager" or title eq "Security Engineer") and name.givenName sw "K"`, 2},
		{`not (title pr)`, 4},
		{`NAME.FAMILYNAME eq "lovelace"`, 2},
		{ent + `:employeeNumber eq "1003"`, 1},
		{ent + `:employeeNumber pr`, slapd.DemoUsers},
		{`externalId eq "EXT-1"`, 1},
		{`externalId eq "ext-1"`, 0}, // caseExact, as scimExternalId's matching rule
		{`emails.value ew "@example.org"`, slapd.DemoUsers},
		{`emails co "star@"`, 1},
		{`emails[type eq "work" and value co "star"]`, 1},
		{`emails[type eq "home"]`, 1},
		{`emails[type eq "home" or type eq "other"]`, 1},
		{`emails[type eq "work" and (value sw "star" or value sw "alove")]`, 2},
		{`emails[type eq "home"].value eq "star@home.example"`, 1},
		{`emails[type eq "work" or type eq "home" or type eq "other"]`, slapd.DemoUsers + 1},
		{`addresses[type eq "work" and locality eq "Paris" and country eq "FR"]`, 1},
		{`phoneNumbers[type eq "work" and value sw "+1 555 010"]`, 10},
		{`id eq "` + ada + `"`, 1},
		{`id eq "not-an-id"`, 0},
		{`id ne "` + ada + `"`, all - 1},
		{`meta.created gt "2000-01-01T00:00:00Z"`, all},
		{`meta.lastModified lt "2000-01-01T00:00:00Z"`, 0},
		{`meta.resourceType eq "User"`, all},
		{`active eq true`, all},
		{`active eq false`, 0},
		{`groups.value eq "` + engineering + `"`, 25},
		{`groups[value eq "` + engineering + `"] and title eq "Software Engineer"`, 5},
		{`userName eq "star*"`, 1},
		{`userName eq "*"`, 0},
		{`userName co "*"`, 1},
		{`userName eq "paren(x)"`, 1},
		{`userName eq "paren(x" or userName eq "x)"`, 0},
		{`userName eq "back\\slash"`, 1},
		{`userName eq "nul\u0000byte"`, 1},
		{`userName eq "zoë"`, 1},
		{`userName eq "zo\u00eb"`, 1},
		{`userName eq "q\"uote"`, 0},
		// Answered exactly from the JSON documents (scimEmails, ...),
		// which LDAP filters cannot express (a directory without
		// scimgate's schema refuses them: TestFilterErrorsNameSCIMAttributes).
		{`emails[value sw "a" and value ew "org"]`, 4},
		{`phoneNumbers.value sw "+1"`, slapd.DemoUsers},
		{`addresses[type eq "work" and not (country eq "DE")]`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			u := *u
			u.t = t
			r := u.list("/Users?count=100&filter=" + urlQuery(tt.filter))
			if total(r) != tt.want || len(resources(r)) != tt.want {
				t.Errorf("GET: totalResults %d with %d resources, want %d", total(r), len(resources(r)), tt.want)
			}
			r = u.searchBody("/Users", map[string]any{"filter": tt.filter, "count": 100})
			if r.status != 200 || total(r) != tt.want {
				t.Errorf("POST .search: %d, totalResults %d, want %d: %s", r.status, total(r), tt.want, r.raw)
			}
		})
	}

	// Groups by member.
	r := u.list(`/Groups?filter=` + urlQuery(`members[value eq "`+ada+`"]`))
	if total(r) != 2 {
		t.Errorf("groups of alovelace: %d, want 2 (Engineering, Administrators)", total(r))
	}

	bad := []struct {
		filter string
		want   string // in the detail
	}{
		{`nosuch eq "x"`, "nosuch"},
		{`userName gt "m"`, "ordering"}, // uid has no ordering rule in the stock schema
		{`userName eq`, "does not parse"},
		{`userName eq "x" and`, "does not parse"},
		{`emails[type eq "work"`, "does not parse"},
		{`password eq "x"`, "password"},
		{`id co "1"`, "substring"},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber ge "1038"`, "ordering"},
	}
	for _, tt := range bad {
		r := u.send("GET", "/Users?filter="+urlQuery(tt.filter), "")
		wantSCIMError(t, r, 400, "invalidFilter")
		if detail, _ := r.body["detail"].(string); !strings.Contains(detail, tt.want) {
			t.Errorf("%s: detail %q does not mention %q", tt.filter, detail, tt.want)
		}
	}
}

// Okta imports with startIndex=1,101,201,... and count=100: every user
// exactly once, integers in the response, the same order on every page.
func TestOktaPagingWalk(t *testing.T) {
	u := newUserEnv(t)
	const extra = 560 // past slapd's default size limit of 500 for a non-root bind
	var b strings.Builder
	for i := range extra {
		fmt.Fprintf(&b, "dn: uid=bulk%d,%s\nobjectClass: inetOrgPerson\nuid: bulk%d\ncn: Bulk %d\nsn: Bulk\n\n", i, u.dir.PeopleDN, i, i)
	}
	if err := u.dir.AddLDIF(context.Background(), b.String()); err != nil {
		t.Fatal(err)
	}
	want := slapd.DemoUsers + extra
	seen := map[string]int{}
	var order []string
	for start := 1; start <= want; start += 100 {
		r := u.list(fmt.Sprintf("/Users?startIndex=%d&count=100", start))
		if total(r) != want || r.body["startIndex"] != float64(start) || r.body["itemsPerPage"] != float64(len(resources(r))) {
			t.Fatalf("page %d: totalResults %v, startIndex %v, itemsPerPage %v with %d resources", start,
				r.body["totalResults"], r.body["startIndex"], r.body["itemsPerPage"], len(resources(r)))
		}
		for _, res := range resources(r) {
			id := res["id"].(string)
			seen[id]++
			order = append(order, id)
		}
	}
	if len(seen) != want || len(order) != want {
		t.Fatalf("the walk saw %d users (%d times), want %d", len(seen), len(order), want)
	}
	if !slices.IsSorted(order) {
		t.Error("the default order is not the id order")
	}
	// Past the end: an empty page, still with the total.
	r := u.list(fmt.Sprintf("/Users?startIndex=%d&count=100", want+1))
	if total(r) != want || len(resources(r)) != 0 {
		t.Errorf("past the end: total %d, %d resources", total(r), len(resources(r)))
	}
	// count=0: only the total; a count over max_results is reduced to it.
	r = u.list("/Users?count=0")
	if total(r) != want || len(resources(r)) != 0 {
		t.Errorf("count=0: total %d, %d resources", total(r), len(resources(r)))
	}
	if r = u.list("/Users?count=100000"); len(resources(r)) != DefaultServerConfig().MaxResults {
		t.Errorf("count=100000 returned %d, want max_results", len(resources(r)))
	}
	if r = u.list("/Users?startIndex=-5&count=-1"); r.body["startIndex"] != float64(1) || len(resources(r)) != 0 {
		t.Errorf("startIndex=-5&count=-1: %s", r.raw)
	}
	wantSCIMError(t, u.send("GET", "/Users?count=ten", ""), 400, "invalidValue")
	wantSCIMError(t, u.send("GET", "/Users?startIndex=1&cursor=", ""), 400, "invalidValue")
}

func TestSorting(t *testing.T) {
	u := newUserEnv(t)
	u.create(`{"userName":"zz-notitle"}`) // no title: last ascending, first descending
	r := u.list("/Users?sortBy=title&count=200&attributes=title")
	var titles []string
	for _, res := range resources(r) {
		title, _ := res["title"].(string)
		titles = append(titles, strings.ToLower(title))
	}
	if len(titles) != slapd.DemoUsers+1 || titles[len(titles)-1] != "" || !slices.IsSorted(titles[:len(titles)-1]) {
		t.Errorf("ascending by title: %q", titles)
	}
	r = u.searchBody("/Users", map[string]any{"sortBy": "title", "sortOrder": "descending", "count": 3, "attributes": []string{"userName"}})
	if names := userNames(r); len(names) != 3 || names[0] != "zz-notitle" {
		t.Errorf("descending: %q", names)
	}
	// Sorted pages join up into the sorted whole.
	var paged []string
	for start := 1; start <= slapd.DemoUsers+1; start += 9 {
		paged = append(paged, userNames(u.list(fmt.Sprintf("/Users?sortBy=userName&startIndex=%d&count=9", start)))...)
	}
	if !slices.IsSorted(paged) || len(paged) != slapd.DemoUsers+1 {
		t.Errorf("pages sorted by userName: %q", paged)
	}
	r = u.list(`/Users?sortBy=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber&sortOrder=descending&count=1`)
	if res := resources(r); len(res) != 1 || res[0]["userName"] == "" {
		t.Errorf("sort by employeeNumber: %s", r.raw)
	}
	u.list("/Users?sortBy=meta.lastModified&count=1")
	u.list("/Users?sortBy=emails&count=1")
	for _, bad := range []string{"nosuch", "name", "members", "emails[type eq \"work\"].value", "password"} {
		wantSCIMError(t, u.send("GET", "/Users?sortBy="+url.QueryEscape(bad), ""), 400, "invalidValue")
	}
	wantSCIMError(t, u.send("GET", "/Users?sortBy=userName&sortOrder=sideways", ""), 400, "invalidValue")
}

// attributes and excludedAttributes cut responses, and the directory is
// not asked for what is excluded.
func TestProjection(t *testing.T) {
	u := newUserEnv(t)
	id := u.idOf("alovelace")
	r := u.list(`/Users?filter=` + urlQuery(`userName eq "alovelace"`) + `&attributes=userName,emails.value,name.givenName`)
	res := resources(r)[0]
	keys := slices.Sorted(maps.Keys(res))
	if !slices.Equal(keys, []string{"emails", "id", "name", "schemas", "userName"}) {
		t.Errorf("attributes=userName,emails.value,name.givenName: keys %q", keys)
	}
	if el := res["emails"].([]any)[0].(map[string]any); len(el) != 1 || el["value"] != "alovelace@example.org" {
		t.Errorf("emails.value: %v", el)
	}
	if name := res["name"].(map[string]any); len(name) != 1 || name["givenName"] != "Ada" {
		t.Errorf("name.givenName: %v", name)
	}
	r = u.send("GET", "/Users/"+id+"?excludedAttributes=groups,meta,emails", "")
	if _, has := r.body["groups"]; has || r.body["meta"] != nil || r.body["emails"] != nil || r.body["userName"] != "alovelace" {
		t.Errorf("GET excludedAttributes=groups,meta,emails: %s", r.raw)
	}
	r = u.send("GET", "/Users/"+id+"?attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "")
	if ext, _ := r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any); ext["employeeNumber"] != "1000" || r.body["userName"] != nil {
		t.Errorf("GET attributes=<enterprise>:employeeNumber: %s", r.raw)
	}
	r = u.list(`/Groups?excludedAttributes=members&filter=` + urlQuery(`displayName eq "Engineering"`))
	if g := resources(r); len(g) != 1 || g[0]["members"] != nil || g[0]["displayName"] != "Engineering" {
		t.Errorf("groups without members: %s", r.raw)
	}
	r = u.list(`/Groups?attributes=members.value&filter=` + urlQuery(`displayName eq "Administrators"`))
	if g := resources(r); len(g) != 1 || len(g[0]["members"].([]any)) != 3 || g[0]["displayName"] != nil {
		t.Errorf("groups with members.value only: %s", r.raw)
	}
	wantSCIMError(t, u.send("GET", "/Users?attributes=userName&excludedAttributes=emails", ""), 400, "invalidValue")

	// A list shows each resource exactly as GET shows it.
	single := u.send("GET", "/Users/"+id, "")
	listed := resources(u.list(`/Users?filter=` + urlQuery(`id eq "`+id+`"`)))[0]
	if a, b := string(mustJSON(single.body)), string(mustJSON(listed)); a != b {
		t.Errorf("GET and list differ:\n%s\n%s", a, b)
	}
}

// A cursor walk under concurrent inserts and deletes never skips or repeats
// a user that was there throughout; cursors work on any replica sharing
// the key, and bad cursors are 400 with RFC 9865's error types.
func TestCursorWalk(t *testing.T) {
	dir := slapd.New(t, slapd.Options{ScimgateSchema: true, PPolicy: true, ServiceAccount: true})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	secret := []byte("shared by the replicas")
	replicas := []*userEnv{
		{t: t, dir: dir.Directory(), base: newGatewayWith(t, dir, secret).URL + "/scim/v2"},
		{t: t, dir: dir.Directory(), base: newGatewayWith(t, dir, secret).URL + "/scim/v2"},
	}
	u := replicas[0]
	before := map[string]bool{}
	for _, res := range resources(u.list("/Users?count=200&attributes=userName")) {
		before[res["id"].(string)] = true
	}
	// Users deleted during the walk: some of them.
	var doomed []string
	for id := range before {
		if len(doomed) < 8 {
			doomed = append(doomed, id)
		}
	}
	// Inserts and deletes while the walk goes on: one step between any
	// two pages, so that every page but the first follows a write.
	var wg sync.WaitGroup
	stop, wrote := make(chan struct{}), make(chan struct{})
	var writeErrs []string
	steps := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			if r := u.send("POST", "/Users", fmt.Sprintf(`{"userName":"walker%d"}`, i)); r.status != 201 {
				writeErrs = append(writeErrs, fmt.Sprintf("create walker%d: %d %s", i, r.status, r.raw))
			}
			if i < len(doomed) {
				if r := u.send("DELETE", "/Users/"+doomed[i], ""); r.status != 204 {
					writeErrs = append(writeErrs, fmt.Sprintf("delete %s: %d %s", doomed[i], r.status, r.raw))
				}
			}
			select {
			case wrote <- struct{}{}:
				steps++
			case <-stop:
				return
			}
		}
	}()
	seen := map[string]int{}
	cursor := ""
	pages := 0
	for {
		if pages > 0 {
			<-wrote
		}
		rep := replicas[pages%2] // alternate replicas
		r := rep.list("/Users?count=3&attributes=userName&cursor=" + url.QueryEscape(cursor))
		pages++
		for _, res := range resources(r) {
			seen[res["id"].(string)]++
		}
		if _, has := r.body["startIndex"]; has {
			t.Fatal("a cursor page has startIndex")
		}
		next, _ := r.body["nextCursor"].(string)
		if next == "" {
			break
		}
		if strings.Trim(next, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") != "" {
			t.Fatalf("cursor %q has characters outside RFC 3986's unreserved set", next)
		}
		cursor = next
		if pages > 200 {
			t.Fatal("the walk does not end")
		}
	}
	close(stop)
	wg.Wait()
	if len(writeErrs) > 0 || steps < len(doomed) {
		t.Fatalf("the writes during the walk: %d steps (want at least %d), failures %q", steps, len(doomed), writeErrs)
	}
	deleted := map[string]bool{}
	for _, id := range doomed {
		deleted[id] = true
	}
	for id := range before {
		if n := seen[id]; !deleted[id] && n != 1 {
			t.Errorf("user %s, there throughout, seen %d times", id, n)
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("user %s seen %d times", id, n)
		}
	}

	// previousCursor leads back to the page before.
	first := u.list("/Users?count=5&cursor=&sortBy=userName&attributes=userName")
	if _, has := first.body["previousCursor"]; has {
		t.Error("the first page has a previousCursor")
	}
	second := u.list("/Users?count=5&sortBy=userName&attributes=userName&cursor=" + url.QueryEscape(first.body["nextCursor"].(string)))
	back := u.list("/Users?count=5&sortBy=userName&attributes=userName&cursor=" + url.QueryEscape(second.body["previousCursor"].(string)))
	if !slices.Equal(userNames(back), userNames(first)) {
		t.Errorf("previousCursor of page 2 gave %q, want page 1 %q", userNames(back), userNames(first))
	}

	next := first.body["nextCursor"].(string)
	wantSCIMError(t, u.send("GET", "/Users?count=5&sortBy=userName&cursor="+url.QueryEscape(next[:len(next)-2]+"AA"), ""), 400, "invalidCursor")
	wantSCIMError(t, u.send("GET", "/Users?count=5&sortBy=name.familyName&cursor="+url.QueryEscape(next), ""), 400, "invalidCursor")
	wantSCIMError(t, u.send("GET", "/Users?count=5&cursor=garbage", ""), 400, "invalidCursor")
	other := &userEnv{t: t, dir: dir.Directory(), base: newGatewayWith(t, dir, []byte("another key")).URL + "/scim/v2"}
	wantSCIMError(t, other.send("GET", "/Users?count=5&sortBy=userName&cursor="+url.QueryEscape(next), ""), 400, "invalidCursor")
	wantSCIMError(t, u.send("GET", "/Users?count=x&cursor=", ""), 400, "invalidCount")
}

// newGatewayWith serves a gateway whose cursors are signed with secret,
// given as server.cursor_key_file.
func newGatewayWith(t *testing.T, ds directory.Server, secret []byte) *httptest.Server {
	t.Helper()
	dir := ds.Directory()
	file := filepath.Join(t.TempDir(), "cursor-key")
	if err := os.WriteFile(file, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	return newGateway(t, dir, zap.NewNop(), ldapstore.Options{}, func(o *Options) { o.Server.CursorKeyFile = file })
}

// A cursor expires after cursor_timeout (a clock is faked: one function's
// unit test).
func TestCursorExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	cs := cursors{key: []byte("k"), timeout: time.Hour, now: func() time.Time { return now }}
	c := cs.encode("q", &ldapstore.Position{Key: "a", ID: "b"})
	if p, err := cs.decode("q", c); err != nil || p.ID != "b" || p.Key != "a" {
		t.Fatalf("decode = %+v, %v", p, err)
	}
	now = now.Add(time.Hour + time.Second)
	_, err := cs.decode("q", c)
	if se, ok := err.(*scimError); !ok || se.ScimType != "expiredCursor" || se.Status != 400 {
		t.Errorf("expired cursor: %v", err)
	}
}

// A directory that stops the gateway's searches early (its size limit for
// the bind DN) gives 400 tooMany saying so, not a 500 or a short list.
func TestDirectorySizeLimit(t *testing.T) {
	dir := slapd.New(t, slapd.Options{ServiceAccount: true, ServiceSizeLimit: 25})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	u := &userEnv{t: t, dir: dir.Directory(), base: newTestGateway(t, dir).URL + "/scim/v2"}
	r := u.send("GET", "/Users?count=10", "")
	wantSCIMError(t, r, 400, "tooMany")
	if detail, _ := r.body["detail"].(string); !strings.Contains(detail, "size limit") {
		t.Errorf("detail %q does not name the size limit", detail)
	}
	// A query within the limit works.
	if r := u.list(`/Users?filter=` + urlQuery(`userName sw "a"`)); total(r) == 0 {
		t.Errorf("a narrow query: %s", r.raw)
	}
}
