package gateway

import (
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/test/directory"
)

// directoryDigest sums every entry's DN and entryCSN: equal digests mean
// nothing was written.
func directoryDigest(t *testing.T, ds directory.Server) string {
	t.Helper()
	dir := ds.Directory()
	c, err := dir.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(dir.Suffix, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(objectClass=*)", []string{"entryCSN"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range res.Entries {
		lines = append(lines, e.DN+" "+e.GetAttributeValue("entryCSN"))
	}
	sort.Strings(lines)
	return fmt.Sprintf("%d entries, %x", len(lines), sha256.Sum256([]byte(strings.Join(lines, "\n"))))
}

// Bad requests of every kind get a SCIM error with the right status and
// scimType — never a 500 — and leave the directory as it was.
func TestHostileInput(t *testing.T) {
	u := newUserEnv(t)
	ada := u.idOf("alovelace")
	groups := u.list(`/Groups?filter=` + urlQuery(`displayName eq "Engineering"`))
	eng := resources(groups)[0]["id"].(string)
	before := directoryDigest(t, u.dir)

	deep := strings.Repeat(`{"a":`, 100_000) + `1` + strings.Repeat(`}`, 100_000)
	deepArray := `{"userName":"deep","emails":` + strings.Repeat(`[`, 50_000) + strings.Repeat(`]`, 50_000) + `}`
	patch := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`
	}
	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		scimType                              string
	}{
		{"malformed JSON", "POST", "/Users", contentTypeSCIM, `{"userName":`, 400, "invalidSyntax"},
		{"not an object", "POST", "/Users", contentTypeSCIM, `["userName"]`, 400, "invalidSyntax"},
		{"wrong type: userName a number", "POST", "/Users", contentTypeSCIM, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":7}`, 400, "invalidValue"},
		{"wrong type: emails an object", "POST", "/Users", contentTypeSCIM, `{"userName":"x1","emails":{"value":"a@b"}}`, 400, "invalidValue"},
		{"wrong type: active a list", "POST", "/Users", contentTypeSCIM, `{"userName":"x2","active":[true]}`, 400, "invalidValue"},
		{"huge body", "POST", "/Users", contentTypeSCIM, `{"userName":"` + strings.Repeat("x", 5000) + `"}`, 413, ""},
		{"deeply nested", "POST", "/Users", contentTypeSCIM, deep, 413, ""},
		{"deeply nested, small", "POST", "/Users", contentTypeSCIM, deepArray[:3000], 400, "invalidSyntax"},
		{"invalid UTF-8", "POST", "/Users", contentTypeSCIM, "{\"userName\":\"bad\xff\xfeutf8\"}", 400, "invalidSyntax"},
		{"unknown schema", "POST", "/Users", contentTypeSCIM, `{"schemas":["urn:nope"],"userName":"x3"}`, 400, "invalidSyntax"},
		{"unknown extension attribute", "POST", "/Users", contentTypeSCIM, `{"userName":"x4","urn:nope:Ext":{"a":1}}`, 400, "invalidSyntax"},
		{"form body", "POST", "/Users", "application/x-www-form-urlencoded", `userName=x5`, 415, ""},
		{"text body", "PUT", "/Users/" + ada, "text/plain", `{"userName":"alovelace"}`, 415, ""},
		{"oversized filter", "GET", "/Users?filter=" + urlQuery(`userName eq "`+strings.Repeat("a", 4100)+`"`), "", "", 400, "invalidFilter"},
		{"filter nested past the bound", "GET", "/Users?filter=" + urlQuery(strings.Repeat("(", 200)+`userName pr`+strings.Repeat(")", 200)), "", "", 400, "invalidFilter"},
		{"filter injection", "GET", "/Users?filter=" + urlQuery(`userName eq "*)(uid=*"`), "", "", 200, ""},
		{"count=-1", "GET", "/Users?count=-1", "", "", 200, ""},
		{"startIndex=0", "GET", "/Users?startIndex=0&count=1", "", "", 200, ""},
		{"count not a number", "GET", "/Users?count=ten", "", "", 400, "invalidValue"},
		{"unknown resource path", "GET", "/Widgets", "", "", 404, ""},
		{"unknown sub-path", "GET", "/Users/" + ada + "/extra", "", "", 404, ""},
		{"method not allowed", "DELETE", "/Users", "", "", 405, ""},
		{"method not allowed on discovery", "POST", "/Schemas", contentTypeSCIM, `{}`, 405, ""},
		{"PATCH without operations", "PATCH", "/Users/" + ada, contentTypeSCIM, patch(`[]`), 400, "invalidValue"},
		{"PATCH unknown op", "PATCH", "/Users/" + ada, contentTypeSCIM, patch(`[{"op":"explode","path":"title","value":"x"}]`), 400, "invalidValue"},
		{"PATCH bad path", "PATCH", "/Users/" + ada, contentTypeSCIM, patch(`[{"op":"replace","path":"emails[type eq","value":"x"}]`), 400, "invalidPath"},
		{"PATCH immutable id", "PATCH", "/Users/" + ada, contentTypeSCIM, patch(`[{"op":"replace","path":"id","value":"x"}]`), 400, "mutability"},
		{"PATCH no target", "PATCH", "/Users/" + ada, contentTypeSCIM, patch(`[{"op":"remove","path":"emails[value eq \"nobody@x\"]"}]`), 400, "noTarget"},
		{"PATCH half good", "PATCH", "/Users/" + ada, contentTypeSCIM, patch(`[{"op":"replace","path":"title","value":"Changed"},{"op":"replace","path":"nosuch","value":"x"}]`), 400, "invalidPath"},
		{"group with an unknown member", "PATCH", "/Groups/" + eng, contentTypeSCIM, patch(`[{"op":"add","path":"members","value":[{"value":"2b4f4a4e-0000-0000-0000-000000000000"}]}]`), 400, "invalidValue"},
		{"bulk not JSON", "POST", "/Bulk", contentTypeSCIM, `{`, 400, "invalidSyntax"},
		{"search body wrong type", "POST", "/Users/.search", contentTypeSCIM, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"count":"many"}`, 400, "invalidSyntax"},
		{"search body not UTF-8", "POST", "/Users/.search", contentTypeSCIM, "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:SearchRequest\"],\"filter\":\"userName eq \\\"\xff\\\"\"}", 400, "invalidSyntax"},
	}
	// What the lists answered 200 must hold: the injection, nothing.
	totals := map[string]int{"filter injection": 0}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := u.send(tt.method, tt.path, tt.body, "Content-Type", tt.contentType)
			if tt.status == 200 {
				if r.status != 200 {
					t.Fatalf("status %d, want 200: %.300s", r.status, r.raw)
				}
				if want, ok := totals[tt.name]; ok && (total(r) != want || len(resources(r)) != want) {
					t.Errorf("totalResults %d, %d resources; want %d: %.300s", total(r), len(resources(r)), want, r.raw)
				}
				return
			}
			wantSCIMError(t, r, tt.status, tt.scimType)
		})
	}
	if after := directoryDigest(t, u.dir); after != before {
		t.Errorf("the directory changed: %s → %s", before, after)
	}
}
