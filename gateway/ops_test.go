package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/slapd"
)

// scrape reads a Prometheus text exposition into series → value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// The HTTP, LDAP, pool and auth series move with the requests, on the admin
// listener, and no label holds a token, a user name or an id.
func TestMetrics(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	srv, hs := newGatewayServer(t, dir, zaptest.NewLogger(t, zaptest.Level(level)), ldapstore.Options{}, func(o *Options) {
		o.Server.AdminListen = "127.0.0.1:0"
		o.LogLevel = &level
	})
	admin := httptest.NewServer(srv.AdminHandler())
	defer admin.Close()
	base := hs.URL + "/scim/v2"
	if r := do(t, "GET", hs.URL+"/metrics", "", "", ""); r.status != 404 {
		t.Errorf("/metrics on the main listener with admin_listen set: %d", r.status)
	}

	before := scrape(t, admin.URL+"/metrics")
	do(t, "GET", base+"/Users?filter="+urlQuery(`userName eq "alovelace"`), testToken, "", "")
	r := do(t, "POST", base+"/Users", testToken, contentTypeSCIM, `{"userName":"metrics.user"}`)
	do(t, "GET", base+"/Users/"+r.body["id"].(string), testToken, "", "")
	do(t, "GET", base+"/nowhere/at/all/2b4f4a4e", testToken, "", "")
	after := scrape(t, admin.URL+"/metrics")

	moved := func(series string) {
		t.Helper()
		if after[series] <= before[series] {
			t.Errorf("%s did not move: %v → %v", series, before[series], after[series])
		}
	}
	moved(`scimgate_http_requests_total{method="GET",route="/scim/v2/Users",status="200"}`)
	moved(`scimgate_http_requests_total{method="POST",route="/scim/v2/Users",status="201"}`)
	moved(`scimgate_http_requests_total{method="GET",route="/scim/v2/Users/:id",status="200"}`)
	moved(`scimgate_http_requests_total{method="GET",route="unmatched",status="404"}`)
	moved(`scimgate_http_request_duration_seconds_count{method="POST",route="/scim/v2/Users"}`)
	moved(`scimgate_ldap_operations_total{kind="search",result="success"}`)
	moved(`scimgate_ldap_operations_total{kind="add",result="success"}`)
	moved(`scimgate_ldap_operation_duration_seconds_count{kind="add"}`)
	if after[`scimgate_ldap_pool_open_connections`] < 1 || after[`scimgate_ldap_pool_dials_total`] < 1 ||
		after[`scimgate_ldap_server_up{url="`+dir.URL+`"}`] != 1 {
		t.Errorf("pool series: open %v, dials %v, up %v", after[`scimgate_ldap_pool_open_connections`],
			after[`scimgate_ldap_pool_dials_total`], after[`scimgate_ldap_server_up{url="`+dir.URL+`"}`])
	}
	for _, series := range []string{`scimgate_ldap_pool_max_idle_time_closed_total`, `scimgate_ldap_pool_double_releases_total`,
		`scimgate_ldap_pool_bad_conn_retries_total`} {
		if v, ok := after[series]; !ok || v != 0 {
			t.Errorf("%s = %v (exported %v), want 0", series, v, ok)
		}
	}
	for series := range after {
		for _, secret := range []string{testToken, "metrics.user", "alovelace", r.body["id"].(string)} {
			if strings.Contains(series, secret) {
				t.Errorf("a label holds %q: %s", secret, series)
			}
		}
	}

	if res, err := http.Get(admin.URL + "/debug/pprof/"); err != nil || res.StatusCode != 200 {
		t.Errorf("the profiler on the admin listener: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	if r := do(t, "GET", hs.URL+"/debug/pprof/", "", "", ""); r.status != 404 {
		t.Errorf("the profiler on the main listener: %d", r.status)
	}

	// The log level, changed at run time.
	req, _ := http.NewRequest("PUT", admin.URL+"/loglevel", strings.NewReader(`{"level":"debug"}`))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || level.Level() != zap.DebugLevel {
		t.Errorf("PUT /loglevel: %d; level %s", res.StatusCode, level.Level())
	}
}

// One audit line per write, refused ones included: who, what, result;
// attribute names, never values.
func TestAuditLog(t *testing.T) {
	dir := slapd.New(t, slapd.Options{ScimgateSchema: true, PPolicy: true, ServiceAccount: true})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{}, func(o *Options) {
		o.Audit = zap.New(core)
	})
	u := &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/scim/v2"}
	id, _ := u.create(`{"userName":"audited","password":"s3cret-Passw0rd","emails":[{"value":"audited@example.org","type":"work"}],` +
		`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Audit"}}`)
	u.send("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+
		`{"op":"replace","path":"emails[value eq \"audited@example.org\"].value","value":"new@example.org"},{"op":"Replace","value":{"title":"Auditor"}}]}`)
	u.sendAs("reader-token", "DELETE", "/Users/"+id, "")
	u.send("DELETE", "/Users/"+id, "")
	u.bulk(testToken, 0, `{"method":"POST","path":"/Users","bulkId":"b","data":{"userName":"bulk.audited"}}`)
	do(t, "GET", u.base+"/Users/"+id, testToken, "", "") // a read: no line

	type line struct {
		op, id, client, result string
		attributes             []string
		status                 int
	}
	var got []line
	for _, e := range logs.All() {
		m := e.ContextMap()
		raw, _ := json.Marshal(m)
		for _, secret := range []string{"s3cret-Passw0rd", "audited@example.org", "new@example.org", "Auditor", testToken, "reader-token"} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("the audit log holds %q: %s", secret, raw)
			}
		}
		if m["request_id"] == "" {
			t.Errorf("no request id: %s", raw)
		}
		var attrs []string
		for _, a := range m["attributes"].([]any) {
			attrs = append(attrs, a.(string))
		}
		got = append(got, line{m["operation"].(string), m["id"].(string), m["client"].(string), m["result"].(string), attrs, int(m["status"].(int64))})
	}
	want := []line{
		{"create", id, "all", "success", []string{"emails", "password", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "userName"}, 201},
		{"patch", id, "all", "success", []string{"replace:emails", "replace:title"}, 200},
		{"delete", id, "reader", "failure", []string{}, 403},
		{"delete", id, "all", "success", []string{}, 204},
		{"create", "", "all", "success", []string{"userName"}, 201},
	}
	if len(got) != len(want) {
		t.Fatalf("%d audit lines, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		w, g := want[i], got[i]
		if i == 4 {
			w.id = g.id // the bulk-created user's
			if g.id == "" {
				t.Error("the bulk operation's line has no id")
			}
		}
		if g.op != w.op || g.id != w.id || g.client != w.client || g.result != w.result || g.status != w.status || strings.Join(g.attributes, ",") != strings.Join(w.attributes, ",") {
			t.Errorf("line %d: %+v\nwant     %+v", i, g, w)
		}
	}
}

// Per-client rate limits answer 429 with Retry-After, counted by identity:
// one client over its rate does not slow another.
func TestRateLimitAndFilterLength(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{}, func(o *Options) {
		o.Server.RateLimit, o.Server.RateBurst = 1, 3
	})
	users := hs.URL + "/scim/v2/Users?count=1"
	statuses := ""
	for range 5 {
		statuses += strconv.Itoa(do(t, "GET", users, testToken, "", "").status) + " "
	}
	if statuses != "200 200 200 429 429 " {
		t.Errorf("statuses %q, want a burst of 3 then 429", statuses)
	}
	r := do(t, "GET", users, testToken, "", "")
	wantSCIMError(t, r, 429, "")
	if !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(r.header.Get("Retry-After")) {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if r := do(t, "GET", users, "reader-token", "", ""); r.status != 200 {
		t.Errorf("another client: %d, want 200", r.status)
	}

	long := hs.URL + "/scim/v2/Users?filter=" + urlQuery(`userName eq "`+strings.Repeat("x", 5000)+`"`)
	wantSCIMError(t, do(t, "GET", long, "reader-token", "", ""), 400, "invalidFilter")
}
