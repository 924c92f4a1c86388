package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// patchBody is a PatchOp request of the given operations (JSON objects).
func patchBody(ops ...string) string {
	return `{"schemas":["` + patchOpURN + `"],"Operations":[` + strings.Join(ops, ",") + `]}`
}

// refusal is a request that must get a SCIM error whose detail says what.
type refusal struct {
	name, method, path, body string
	status                   int
	scimType, detail         string
}

// refuseAll sends each request and checks its error; none may change the
// directory.
func (u *userEnv) refuseAll(t *testing.T, tests []refusal) {
	t.Helper()
	before := directoryDigest(t, u.dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := u.send(tt.method, tt.path, tt.body)
			wantSCIMError(t, r, tt.status, tt.scimType)
			if d, _ := r.body["detail"].(string); !strings.Contains(d, tt.detail) {
				t.Errorf("detail %q does not say %q", d, tt.detail)
			}
		})
	}
	if after := directoryDigest(t, u.dir); after != before {
		t.Errorf("the directory changed: %s → %s", before, after)
	}
}

// patch.max_operations and limits.max_values hold for every write, before
// any work, and inside /Bulk; a group's members are not counted.
func TestWriteLimits(t *testing.T) {
	u := newUserEnvWith(t, ldapstore.Options{Limits: schema.Limits{MaxValues: 3}}, func(o *Options) { o.Patch.MaxOperations = 4 })
	ada := u.idOf("alovelace")
	title := `{"op":"replace","path":"title","value":"t"}`
	role := func(v string) string { return `{"op":"add","path":"roles","value":[{"value":"` + v + `"}]}` }
	four := `[{"value":"a@x"},{"value":"b@x"},{"value":"c@x"},{"value":"d@x"}]`
	u.refuseAll(t, []refusal{
		{"five operations", "PATCH", "/Users/" + ada, patchBody(title, title, title, title, title), 400, "tooMany",
			"The PATCH has 5 operations; patch.max_operations is 4."},
		{"five operations once a path-less value is taken apart", "PATCH", "/Users/" + ada,
			patchBody(`{"op":"replace","value":{"name.givenName":"a","name.familyName":"b","name.middleName":"c","name.honorificPrefix":"d","name.honorificSuffix":"e"}}`),
			400, "tooMany", "patch.max_operations is 4"},
		{"create with four e-mails", "POST", "/Users", `{"userName":"four","emails":` + four + `}`, 400, "invalidValue",
			"emails holds 4 values; limits.max_values is 3."},
		{"replace with four roles", "PUT", "/Users/" + ada, `{"userName":"alovelace","roles":` + four + `}`, 400, "invalidValue",
			"roles holds 4 values"},
		{"four e-mails in one operation", "PATCH", "/Users/" + ada, patchBody(`{"op":"add","path":"emails","value":` + four + `}`), 400, "invalidValue",
			"emails holds 4 values"},
		{"four e-mails in a path-less value", "PATCH", "/Users/" + ada, patchBody(`{"op":"add","value":{"emails":` + four + `}}`), 400, "invalidValue",
			"emails holds 4 values"},
		{"four roles over four operations", "PATCH", "/Users/" + ada, patchBody(role("r1"), role("r2"), role("r3"), role("r4")), 400, "invalidValue",
			"roles would hold 4 values; limits.max_values is 3"},
	})

	t.Run("up to the limits", func(t *testing.T) {
		r := u.send("PATCH", "/Users/"+ada, patchBody(role("r1"), role("r2"), role("r3"), title))
		if r.status != 200 {
			t.Fatalf("PATCH: %d %s", r.status, r.raw)
		}
		wantAttr(t, u.entry(ada), "scimRole", "r1", "r2", "r3")
	})
	t.Run("a group's members are not counted", func(t *testing.T) {
		var members []string
		for _, r := range resources(u.list("/Users?count=5&filter=" + urlQuery(`userName ne "alovelace"`))) {
			members = append(members, `{"value":"`+r["id"].(string)+`"}`)
		}
		g := u.createGroup(`{"displayName":"Four","members":[` + strings.Join(members[:3], ",") + `,{"value":"` + ada + `"}]}`)
		r := u.send("PATCH", "/Groups/"+g, patchBody(`{"op":"add","path":"members","value":[`+strings.Join(members, ",")+`]}`, // five
			`{"op":"replace","path":"displayName","value":"Five"}`))
		if r.status != 204 {
			t.Fatalf("PATCH: %d %s", r.status, r.raw)
		}
		if got := len(u.memberDNs(g)); got != 6 {
			t.Errorf("%d members, want 6", got)
		}
	})
	t.Run("inside bulk", func(t *testing.T) {
		_, results := u.bulk(testToken, 0,
			`{"method":"POST","path":"/Users","bulkId":"many","data":{"userName":"many","emails":`+four+`}}`,
			`{"method":"PATCH","path":"/Users/`+ada+`","data":`+patchBody(title, title, title, title, title)+`}`,
			`{"method":"PATCH","path":"/Users/`+ada+`","data":`+patchBody(role("r4"))+`}`,
			`{"method":"POST","path":"/Users","bulkId":"fine","data":{"userName":"fine","emails":[{"value":"f@x"}]}}`,
		)
		if got := statuses(results); !slices.Equal(got, []string{"POST many 400", "PATCH <nil> 400", "PATCH <nil> 400", "POST fine 201"}) {
			t.Fatalf("results %q", got)
		}
		for i, want := range [][2]string{{"invalidValue", "emails holds 4 values"}, {"tooMany", "patch.max_operations is 4"}, {"invalidValue", "roles would hold 4 values"}} {
			if resp, _ := results[i]["response"].(map[string]any); resp["scimType"] != want[0] || !strings.Contains(fmt.Sprint(resp["detail"]), want[1]) {
				t.Errorf("operation %d: %v, want %s %q", i+1, resp, want[0], want[1])
			}
		}
	})
}

// Control characters are refused in every string of every write, but tab,
// CR and LF in addresses.formatted; userName and a group's displayName are
// put in NFC and refused with an invisible character.
func TestControlAndInvisibleCharacters(t *testing.T) {
	u := newUserEnv(t)
	ada := u.idOf("alovelace")
	eng := resources(u.list(`/Groups?filter=` + urlQuery(`displayName eq "Engineering"`)))[0]["id"].(string)
	const ent = schema.EnterpriseUserURN
	u.refuseAll(t, []refusal{
		{"NUL in userName", "POST", "/Users", `{"userName":"a\u0000b"}`, 400, "invalidValue", "userName holds the control character U+0000"},
		{"newline in userName", "POST", "/Users", `{"userName":"a\nb"}`, 400, "invalidValue", "userName holds the control character U+000A"},
		{"zero width space in userName", "POST", "/Users", `{"userName":"alove\u200blace"}`, 400, "invalidValue", "userName holds the invisible character U+200B"},
		{"soft hyphen in userName", "POST", "/Users", `{"userName":"alove\u00adlace"}`, 400, "invalidValue", "U+00AD"},
		{"bell in title", "POST", "/Users", `{"userName":"bell","title":"ding\u0007"}`, 400, "invalidValue", "title holds the control character U+0007"},
		{"C1 in a sub-attribute", "POST", "/Users", `{"userName":"c1","name":{"givenName":"a\u0085b"}}`, 400, "invalidValue", "name.givenName holds the control character U+0085"},
		{"newline in a multi-valued sub-attribute", "POST", "/Users", `{"userName":"nl","emails":[{"value":"a@x\n","type":"work"}]}`, 400, "invalidValue", "emails.value"},
		{"newline in a street", "POST", "/Users", `{"userName":"st","addresses":[{"streetAddress":"1\n2"}]}`, 400, "invalidValue", "addresses.streetAddress"},
		{"NUL in a formatted address", "POST", "/Users", `{"userName":"fa","addresses":[{"formatted":"1\u0000"}]}`, 400, "invalidValue", "addresses.formatted holds the control character U+0000"},
		{"tab in an extension", "POST", "/Users", `{"userName":"ext","` + ent + `":{"department":"a\tb"}}`, 400, "invalidValue", ent + ":department"},
		{"NUL in userName, replaced", "PUT", "/Users/" + ada, `{"userName":"alovelace\u0000"}`, 400, "invalidValue", "userName"},
		{"invisible userName, replaced", "PUT", "/Users/" + ada, `{"userName":"alovelace\ufeff"}`, 400, "invalidValue", "U+FEFF"},
		{"PATCH userName", "PATCH", "/Users/" + ada, patchBody(`{"op":"replace","path":"userName","value":"a\u0000"}`), 400, "invalidValue", "userName"},
		{"PATCH invisible userName", "PATCH", "/Users/" + ada, patchBody(`{"op":"replace","path":"userName","value":"ada\u2060"}`), 400, "invalidValue", "U+2060"},
		{"PATCH path-less userName", "PATCH", "/Users/" + ada, patchBody(`{"op":"replace","value":{"userName":"a\nb"}}`), 400, "invalidValue", "userName"},
		{"PATCH path-less dotted key", "PATCH", "/Users/" + ada, patchBody(`{"op":"replace","value":{"name.givenName":"a\u0001"}}`), 400, "invalidValue", "name.givenName"},
		{"PATCH path-less extension", "PATCH", "/Users/" + ada, patchBody(`{"op":"replace","value":{"` + ent + `":{"division":"\u001b[31m"}}}`), 400, "invalidValue", ent + ":division"},
		{"PATCH through a value filter", "PATCH", "/Users/" + ada, patchBody(`{"op":"replace","path":"emails[type eq \"work\"].value","value":"a@x\u0000"}`), 400, "invalidValue", "emails.value"},
		{"PATCH an element through a value filter", "PATCH", "/Users/" + ada, patchBody(`{"op":"add","path":"emails[type eq \"work\"]","value":{"value":"a@x\r"}}`), 400, "invalidValue", "emails.value"},
		{"PATCH a multi-valued attribute", "PATCH", "/Users/" + ada, patchBody(`{"op":"add","path":"emails","value":[{"value":"b@x","display":"\u009b"}]}`), 400, "invalidValue", "emails.display"},
		{"PATCH a path with a control character", "PATCH", "/Users/" + ada, patchBody(`{"op":"replace","path":"title\u0000","value":"x"}`), 400, "invalidPath", "U+0000"},
		{"group displayName", "POST", "/Groups", `{"displayName":"Engineering\u200c"}`, 400, "invalidValue", "displayName holds the invisible character U+200C"},
		{"group displayName, PATCH", "PATCH", "/Groups/" + eng, patchBody(`{"op":"replace","path":"displayName","value":"Eng\u0000"}`), 400, "invalidValue", "displayName"},
	})

	t.Run("inside bulk", func(t *testing.T) {
		before := directoryDigest(t, u.dir)
		_, results := u.bulk(testToken, 0,
			`{"method":"POST","path":"/Users","bulkId":"x","data":{"userName":"x\u0000"}}`,
			`{"method":"PATCH","path":"/Users/`+ada+`","data":`+patchBody(`{"op":"replace","path":"userName","value":"ada\u200b"}`)+`}`,
		)
		if got := statuses(results); !slices.Equal(got, []string{"POST x 400", "PATCH <nil> 400"}) {
			t.Fatalf("results %q", got)
		}
		for i, want := range []string{"U+0000", "U+200B"} {
			if resp, _ := results[i]["response"].(map[string]any); resp["scimType"] != "invalidValue" || !strings.Contains(fmt.Sprint(resp["detail"]), want) {
				t.Errorf("operation %d: %v, want invalidValue naming %s", i+1, resp, want)
			}
		}
		if after := directoryDigest(t, u.dir); after != before {
			t.Errorf("the directory changed: %s → %s", before, after)
		}
	})
	t.Run("lines in a formatted address", func(t *testing.T) {
		id, _ := u.create(`{"userName":"lines","addresses":[{"type":"work","formatted":"1 Main St\r\nSpringfield\tUSA"}]}`)
		r := u.send("PATCH", "/Users/"+id, patchBody(`{"op":"replace","path":"addresses[type eq \"work\"].formatted","value":"2 Main St\nSpringfield"}`))
		if r.status != 200 {
			t.Fatalf("PATCH: %d %s", r.status, r.raw)
		}
		if got := r.body["addresses"].([]any)[0].(map[string]any)["formatted"]; got != "2 Main St\nSpringfield" {
			t.Errorf("formatted = %q", got)
		}
	})
	t.Run("an attribute no schema has is not checked", func(t *testing.T) {
		// Microsoft's tests send a misspelt "adreses" with lines in it and
		// expect it ignored, as every attribute no schema defines is.
		if _, r := u.create(`{"userName":"misspelt","adreses":[{"formatted":"1 Main St\nSpringfield"}]}`); r.status != 201 {
			t.Errorf("POST: %d %s", r.status, r.raw)
		}
	})
	t.Run("names in NFC", func(t *testing.T) {
		id, r := u.create(`{"userName":"jose\u0301"}`) // e and a combining acute accent
		if r.body["userName"] != "jos\u00e9" {
			t.Errorf("userName = %q, want it in NFC", r.body["userName"])
		}
		wantAttr(t, u.entry(id), "uid", "jos\u00e9")
		r = u.send("PATCH", "/Users/"+id, patchBody(`{"op":"replace","value":{"userName":"Jose\u0301 M"}}`))
		if r.status != 200 || r.body["userName"] != "Jos\u00e9 M" {
			t.Errorf("PATCH: %d %s", r.status, r.raw)
		}
		g := u.createGroup(`{"displayName":"A\u030angstr\u00f6m"}`)
		if got := u.send("GET", "/Groups/"+g, "").body["displayName"]; got != "\u00c5ngstr\u00f6m" {
			t.Errorf("displayName = %q, want it in NFC", got)
		}
	})
	t.Run("names the directory takes for one", func(t *testing.T) {
		// The directory compares userName with caseIgnoreMatch, which
		// ignores case and insignificant spaces: the gateway's
		// normalisation must not make two of what it takes for one.
		for _, name := range []string{"ALOVELACE", "alovelace ", " Alovelace", "JOSE\u0301 m", "Jos\u00e9  M"} {
			wantSCIMError(t, u.send("POST", "/Users", `{"userName":"`+name+`"}`), http.StatusConflict, "uniqueness")
		}
	})
}

// The same uniqueness where the RDN is not the name, and the gateway
// searches for it: the janssen profile (RDN inum).
func TestNameUniquenessBySearch(t *testing.T) {
	u := newJanssenEnv(t)
	for _, name := range []string{"Admin", "admin ", "ADMIN"} {
		wantSCIMError(t, u.send("POST", "/Users", `{"userName":"`+name+`"}`), http.StatusConflict, "uniqueness")
	}
}

// A PATCH the engine stopped at the request's deadline is a 503 to retry,
// not a 500: the error is the engine's, a unit test of the mapping.
func TestDeadlineIs503(t *testing.T) {
	e := storeError(context.Background(), fmt.Errorf("update User: patch: stopped before operation 7 of 900: %w", context.DeadlineExceeded))
	if e.Status != http.StatusServiceUnavailable || e.Header.Get("Retry-After") == "" || !strings.Contains(e.Detail, "server.request_timeout") {
		t.Errorf("got %d %v %q", e.Status, e.Header, e.Detail)
	}
}
