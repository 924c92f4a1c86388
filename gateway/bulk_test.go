package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/slapd"
)

// bulk sends a BulkRequest of ops (JSON objects) with token and returns the
// response and its Operations.
func (u *userEnv) bulk(token string, failOnErrors int, ops ...string) (response, []map[string]any) {
	u.t.Helper()
	fail := ""
	if failOnErrors > 0 {
		fail = fmt.Sprintf(`"failOnErrors":%d,`, failOnErrors)
	}
	body := `{"schemas":["` + bulkRequestURN + `"],` + fail + `"Operations":[` + strings.Join(ops, ",") + `]}`
	r := u.sendAs(token, "POST", "/Bulk", body)
	var results []map[string]any
	if list, ok := r.body["Operations"].([]any); ok {
		for _, x := range list {
			results = append(results, x.(map[string]any))
		}
	}
	return r, results
}

// statuses lists the results' statuses, with their bulkIds.
func statuses(results []map[string]any) []string {
	var out []string
	for _, r := range results {
		out = append(out, fmt.Sprintf("%v %v %v", r["method"], r["bulkId"], r["status"]))
	}
	return out
}

func TestBulk(t *testing.T) {
	u := newUserEnv(t)
	userOp := func(bulkID, userName string) string {
		return `{"method":"POST","path":"/Users","bulkId":"` + bulkID + `","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName + `"}}`
	}

	t.Run("forward references", func(t *testing.T) {
		// The group comes first and names users created after it.
		r, results := u.bulk(testToken, 0,
			`{"method":"POST","path":"/Groups","bulkId":"g","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Bulk Team","members":[{"value":"bulkId:u1"},{"value":"bulkId:u2"}]}}`,
			userOp("u1", "bulk.one"),
			userOp("u2", "bulk.two"),
			`{"method":"PATCH","path":"/Users/bulkId:u1","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"Bulk One"}]}}`,
		)
		if r.status != 200 || r.body["schemas"].([]any)[0] != bulkResponseURN {
			t.Fatalf("bulk: %d %s", r.status, r.raw)
		}
		if got := statuses(results); !slices.Equal(got, []string{"POST u1 201", "POST u2 201", "POST g 201", "PATCH <nil> 200"}) {
			t.Fatalf("results %q, want the users first, then the group, then the PATCH", got)
		}
		for _, res := range results[:3] {
			if loc, _ := res["location"].(string); !strings.HasPrefix(loc, u.base+"/") || res["version"] == nil {
				t.Errorf("result without location or version: %v", res)
			}
		}
		group := results[2]["location"].(string)
		g := u.send("GET", strings.TrimPrefix(group, u.base), "")
		if got := sorted(memberValues(g)...); !slices.Equal(got, sorted(u.idOf("bulk.one"), u.idOf("bulk.two"))) {
			t.Errorf("members %q, want the two users created in the request", got)
		}
		if e := u.entry(u.idOf("bulk.one")); e.GetAttributeValue("displayName") != "Bulk One" {
			t.Errorf("the PATCH through bulkId:u1 was not applied: %v", e.GetAttributeValue("displayName"))
		}
	})

	t.Run("circular references", func(t *testing.T) {
		_, results := u.bulk(testToken, 0,
			`{"method":"POST","path":"/Groups","bulkId":"a","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Circle A","members":[{"value":"bulkId:b"}]}}`,
			`{"method":"POST","path":"/Groups","bulkId":"b","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Circle B","members":[{"value":"bulkId:a"}]}}`,
			userOp("c", "bulk.three"),
		)
		if got := statuses(results); !slices.Equal(got, []string{"POST c 201", "POST a 409", "POST b 409"}) {
			t.Fatalf("results %q", got)
		}
		if r := u.list(`/Groups?filter=` + urlQuery(`displayName sw "Circle"`)); total(r) != 0 {
			t.Errorf("%d circular groups were created", total(r))
		}
	})

	t.Run("failOnErrors", func(t *testing.T) {
		_, results := u.bulk(testToken, 1,
			userOp("dup", "alovelace"), // exists: 409
			userOp("never", "bulk.never"),
		)
		if got := statuses(results); !slices.Equal(got, []string{"POST dup 409"}) {
			t.Fatalf("results %q, want the failure only", got)
		}
		if resp, _ := results[0]["response"].(map[string]any); resp["scimType"] != "uniqueness" || resp["status"] != "409" {
			t.Errorf("response %v, want the SCIM error of the failed create", resp)
		}
		if r := u.list(`/Users?filter=` + urlQuery(`userName eq "bulk.never"`)); total(r) != 0 {
			t.Error("an operation after failOnErrors was reached ran")
		}
	})

	t.Run("bad operations fail alone", func(t *testing.T) {
		_, results := u.bulk(testToken, 0,
			`{"method":"POST","path":"/Users","data":{"userName":"no.bulkid"}}`,
			`{"method":"PATCH","path":"/Users/bulkId:nowhere","data":{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}}`,
			`{"method":"GET","path":"/Users","bulkId":"x"}`,
			`{"method":"POST","path":"/Bulk","bulkId":"y","data":{}}`,
			`{"method":"DELETE","path":"/Users/`+u.idOf("bulk.three")+`","version":"W/\"stale\""}`,
			userOp("ok", "bulk.four"),
		)
		if got := statuses(results); !slices.Equal(got, []string{"POST <nil> 400", "PATCH <nil> 400", "GET x 400", "POST y 400", "DELETE <nil> 412", "POST ok 201"}) {
			t.Fatalf("results %q", got)
		}
	})

	t.Run("a token with only the bulk scope creates nothing", func(t *testing.T) {
		r, results := u.bulk("bulk-only-token", 0, userOp("sneaky", "bulk.sneaky"),
			`{"method":"DELETE","path":"/Users/`+u.idOf("alovelace")+`"}`)
		if r.status != 200 {
			t.Fatalf("bulk: %d %s", r.status, r.raw)
		}
		if got := statuses(results); !slices.Equal(got, []string{"POST sneaky 403", "DELETE <nil> 403"}) {
			t.Fatalf("results %q, want 403 for each", got)
		}
		if r := u.list(`/Users?filter=` + urlQuery(`userName eq "bulk.sneaky" or userName eq "alovelace"`)); total(r) != 1 {
			t.Errorf("the directory changed: %d of alovelace and bulk.sneaky", total(r))
		}
		if r, _ := u.bulk("reader-token", 0, userOp("x", "x")); r.status != 403 {
			t.Errorf("a token without the bulk scope: %d", r.status)
		}
	})
}

func TestBulkLimits(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{}, func(o *Options) {
		o.Bulk = BulkConfig{MaxOperations: 3, MaxPayloadBytes: 2048}
	})
	u := &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/scim/v2"}
	op := `{"method":"DELETE","path":"/Users/none"}`

	if r, results := u.bulk(testToken, 0, op, op, op); r.status != 200 || len(results) != 3 {
		t.Errorf("3 operations with a limit of 3: %d %s", r.status, r.raw)
	}
	r, _ := u.bulk(testToken, 0, op, op, op, op)
	wantSCIMError(t, r, 413, "")

	// Over the payload limit, sent without Content-Length (chunked): the
	// limit holds on the body read, not on a header.
	big := `{"schemas":["` + bulkRequestURN + `"],"Operations":[{"method":"POST","path":"/Users","bulkId":"b","data":{"userName":"` + strings.Repeat("x", 3000) + `"}}]}`
	if status := postChunked(t, u.base+"/Bulk", big); status != 413 {
		t.Errorf("a chunked body over the limit: %d, want 413", status)
	}
	// The bulk limit, not server.max_body_bytes (4096 here), governs /Bulk.
	spc := do(t, "GET", u.base+"/ServiceProviderConfig", "", "", "")
	if b := spc.body["bulk"].(map[string]any); b["supported"] != true || b["maxOperations"] != 3.0 || b["maxPayloadSize"] != 2048.0 {
		t.Errorf("bulk advertised as %v, want the configured limits", b)
	}
}

// bulk.max_operations: 0 turns /Bulk off, and every document says so.
func TestBulkOff(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{}, func(o *Options) {
		o.Bulk = BulkConfig{MaxOperations: 0, MaxPayloadBytes: 2048}
	})
	u := &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/scim/v2"}
	r, _ := u.bulk(testToken, 0, `{"method":"DELETE","path":"/Users/x"}`)
	wantSCIMError(t, r, 501, "")
	spc := do(t, "GET", u.base+"/ServiceProviderConfig", "", "", "")
	if b := spc.body["bulk"].(map[string]any); b["supported"] != false || b["maxOperations"] != 0.0 {
		t.Errorf("bulk advertised as %v", b)
	}
	res, err := http.Get(hs.URL + "/.well-known/scim-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if b, _ := io.ReadAll(res.Body); strings.Contains(string(b), "bulk_endpoint") {
		t.Errorf("scim-configuration lists a bulk endpoint: %s", b)
	}
}

func TestRootSearch(t *testing.T) {
	u := newUserEnv(t)
	search := func(token string, params map[string]any) response {
		t.Helper()
		params["schemas"] = []string{searchRequestURN}
		return u.sendAs(token, "POST", "/.search", string(mustJSON(params)))
	}
	ids := func(r response) []string {
		var out []string
		for _, res := range resources(r) {
			out = append(out, res["meta"].(map[string]any)["resourceType"].(string)+":"+res["id"].(string))
		}
		return out
	}

	// One filter over both types: every user, then every group, each in
	// its own order, paged through as one list.
	filter := `displayName sw "S"`
	users := u.list(`/Users?count=200&filter=` + urlQuery(filter))
	groups := u.list(`/Groups?count=200&filter=` + urlQuery(filter))
	var want []string
	for _, r := range resources(users) {
		want = append(want, "User:"+r["id"].(string))
	}
	for _, r := range resources(groups) {
		want = append(want, "Group:"+r["id"].(string))
	}
	if total(groups) != 2 || total(users) == 0 {
		t.Fatalf("the fixture changed: %d users, %d groups", total(users), total(groups))
	}
	var walked []string
	for start := 1; start <= len(want); start += 2 {
		r := search(testToken, map[string]any{"filter": filter, "startIndex": start, "count": 2})
		if r.status != 200 || total(r) != len(want) {
			t.Fatalf("page at %d: %d, totalResults %v, want %d: %s", start, r.status, r.body["totalResults"], len(want), r.raw)
		}
		walked = append(walked, ids(r)...)
	}
	if !slices.Equal(walked, want) {
		t.Errorf("walk %q\nwant %q", walked, want)
	}

	for _, tt := range []struct {
		name   string
		params map[string]any
		total  int // -1: the number of users
	}{
		{"an attribute only users have", map[string]any{"filter": `userName sw "a"`}, -2},
		{"unassigned is not present", map[string]any{"filter": `not (userName pr)`}, 5},
		{"attributes projected per type", map[string]any{"filter": `displayName eq "Sales" or userName eq "alovelace"`, "attributes": []string{"userName", "displayName"}}, 2},
		{"sortBy that only users have", map[string]any{"filter": `displayName sw "S"`, "sortBy": "userName", "sortOrder": "descending"}, -3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := search(testToken, tt.params)
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			switch tt.total {
			case -2:
				if n := total(u.list(`/Users?filter=` + urlQuery(`userName sw "a"`))); total(r) != n {
					t.Errorf("totalResults %d, want the %d users", total(r), n)
				}
			case -3: // users by userName, descending; then the groups
				names := userNames(r)
				names = names[:len(names)-2]
				if !slices.IsSortedFunc(names, func(a, b string) int { return strings.Compare(b, a) }) || len(names) == 0 {
					t.Errorf("users not in descending userName order: %q", names)
				}
			default:
				if total(r) != tt.total {
					t.Errorf("totalResults %d, want %d: %s", total(r), tt.total, r.raw)
				}
			}
			if tt.params["attributes"] != nil {
				for _, res := range resources(r) {
					if _, ok := res["meta"]; ok || len(res) > 4 {
						t.Errorf("projection not applied: %v", res)
					}
				}
			}
		})
	}

	for _, tt := range []struct {
		name, token string
		params      map[string]any
		status      int
		scimType    string
	}{
		{"an attribute no type has", testToken, map[string]any{"filter": `nosuch eq "x"`}, 400, "invalidFilter"},
		{"cursor paging", testToken, map[string]any{"cursor": ""}, 400, "invalidValue"},
		{"sortBy no type has", testToken, map[string]any{"sortBy": "nosuch"}, 400, "invalidValue"},
		{"without the all-resources scope", "reader-token", map[string]any{}, 403, ""},
		{"without groups.read", "searcher-token", map[string]any{}, 403, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantSCIMError(t, search(tt.token, tt.params), tt.status, tt.scimType)
		})
	}
}

// The Janssen SCIM module's own endpoints, and Microsoft's alias.
func TestJanssenEndpoints(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{}, func(o *Options) {
		o.Server.BasePath = "/jans-scim/restv1/v2"
	})
	base := hs.URL + "/jans-scim/restv1/v2"

	r, err := http.Get(hs.URL + "/.well-known/scim-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	json.NewDecoder(r.Body).Decode(&docs)
	r.Body.Close()
	if r.StatusCode != 200 || len(docs) != 1 || docs[0]["user_endpoint"] != base+"/Users" || docs[0]["bulk_endpoint"] != base+"/Bulk" ||
		docs[0]["service_provider_endpoint"] != base+"/ServiceProviderConfig" {
		t.Errorf("scim-configuration: %d %v", r.StatusCode, docs)
	}
	for _, path := range []string{"/health-check", "/jans-scim/sys/health-check"} {
		if r := do(t, "GET", hs.URL+path, "", "", ""); r.status != 200 || r.body["status"] != "running" || r.body["db_status"] != "online" {
			t.Errorf("%s: %d %s", path, r.status, r.raw)
		}
	}
	if r := do(t, "GET", base+"/serviceConfiguration", "", "", ""); r.status != 200 || r.body["bulk"] == nil {
		t.Errorf("serviceConfiguration: %d %s", r.status, r.raw)
	}
	dir.Stop()
	if r := do(t, "GET", hs.URL+"/health-check", "", "", ""); r.status != 200 || r.body["db_status"] != "offline" {
		t.Errorf("health-check with the directory down: %d %s", r.status, r.raw)
	}
}
