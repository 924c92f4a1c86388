package gateway

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/scimgate/scimgate/schema"
)

// Request bodies of any shape: the normaliser (Entra's and Okta's quirks)
// either leaves a body alone or returns JSON; never a panic.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		`{"userName":"a","active":"False","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m-1"}}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}`,
		`{"Operations":[{"op":"replace","value":{"name.givenName":"A","id":"x"}}]}`,
		`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"u"}]}]}`,
		`{"Operations":"nope"}`, `[]`, `null`, `{"a":`, "\xff\xfe", `{"Operations":[null,1,"x",{"op":1}]}`,
	} {
		f.Add(s, http.MethodPatch)
		f.Add(s, http.MethodPost)
	}
	schemas := schema.Schemas{Core: schema.User(), Extensions: []schema.Schema{schema.EnterpriseUser()}, MaxValues: 1000}
	f.Fuzz(func(t *testing.T, body, method string) {
		out, err := normalizer{s: schemas, maxOps: 1000, ri: &requestInfo{}}.normalize([]byte(body), method)
		if err != nil {
			return // a SCIM error for the client
		}
		if string(out) != body && !json.Valid(out) {
			t.Fatalf("normalize(%q) = %q: changed, and not JSON", body, out)
		}
	})
}
