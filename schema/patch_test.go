package schema

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/scim2/filter-parser/v2"
)

func testResource() map[string]any {
	var m map[string]any
	json.Unmarshal([]byte(`{
		"userName": "bjensen",
		"name": {"givenName": "Barbara", "familyName": "Jensen"},
		"emails": [{"value": "bj@work", "type": "work", "primary": true}, {"value": "bj@home", "type": "home"}],
		"phoneNumbers": [{"value": "555", "type": "work"}],
		"title": "Tour Guide",
		"active": true,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tours", "manager": {"value": "m1"}}
	}`), &m)
	return m
}

func op(t *testing.T, verb, path string, value string) Operation {
	t.Helper()
	o := Operation{Op: verb}
	if path != "" {
		p, err := filter.ParsePath([]byte(path))
		if err != nil {
			t.Fatalf("path %q: %v", path, err)
		}
		o.Path = &p
	}
	if value != "" {
		if err := json.Unmarshal([]byte(value), &o.Value); err != nil {
			t.Fatalf("value %q: %v", value, err)
		}
	}
	return o
}

func TestPatch(t *testing.T) {
	schemas := Schemas{Core: User(), Extensions: []Schema{EnterpriseUser()}}
	const ent = EnterpriseUserURN
	tests := []struct {
		name   string
		ops    [][3]string // op, path, JSON value
		check  func(t *testing.T, r map[string]any)
		errTyp string
	}{
		{name: "replace a simple attribute", ops: [][3]string{{"replace", "userName", `"babs"`}},
			check: func(t *testing.T, r map[string]any) { eq(t, r["userName"], "babs") }},
		{name: "replace a sub-attribute leaves the others", ops: [][3]string{{"replace", "name.givenName", `"Babs"`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, r["name"], map[string]any{"givenName": "Babs", "familyName": "Jensen"})
			}},
		{name: "replace a complex attribute merges", ops: [][3]string{{"replace", "name", `{"givenName":"B"}`}},
			check: func(t *testing.T, r map[string]any) { eq(t, r["name"].(map[string]any)["familyName"], "Jensen") }},
		{name: "add through a value filter", ops: [][3]string{{"add", `emails[type eq "work"].value`, `"new@work"`}},
			check: func(t *testing.T, r map[string]any) { eq(t, email(r, "work")["value"], "new@work") }},
		{name: "Entra: replace creates the typed value when absent", ops: [][3]string{{"Replace", `emails[type eq "other"].value`, `"o@x"`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, email(r, "other")["value"], "o@x")
				eq(t, len(r["emails"].([]any)), 3)
			}},
		{name: "remove through a value filter", ops: [][3]string{{"remove", `emails[type eq "home"]`, ""}},
			check: func(t *testing.T, r map[string]any) { eq(t, len(r["emails"].([]any)), 1) }},
		{name: "remove matching nothing", ops: [][3]string{{"remove", `emails[value eq "nope"]`, ""}}, errTyp: "noTarget"},
		{name: "replace matching nothing", ops: [][3]string{{"replace", `emails[value eq "nope"].value`, `"x"`}}, errTyp: "noTarget"},
		{name: "remove a required attribute", ops: [][3]string{{"remove", "userName", ""}}, errTyp: "mutability"},
		{name: "remove without a path", ops: [][3]string{{"remove", "", ""}}, errTyp: "noTarget"},
		{name: "replace a read-only attribute", ops: [][3]string{{"replace", "groups", `[{"value":"g"}]`}}, errTyp: "mutability"},
		{name: "unknown op", ops: [][3]string{{"copy", "title", `"x"`}}, errTyp: "invalidValue"},
		{name: "a list for a single value", ops: [][3]string{{"replace", "userName", `["a","b"]`}}, errTyp: "invalidValue"},
		{name: "unknown attribute", ops: [][3]string{{"replace", "shoeSize", `"9"`}}, errTyp: "invalidPath"},
		{name: "Okta: path-less deactivate", ops: [][3]string{{"replace", "", `{"active":false}`}},
			check: func(t *testing.T, r map[string]any) { eq(t, r["active"], false) }},
		{name: "Entra: path-less replace with dotted and URN keys",
			ops: [][3]string{{"replace", "", `{"name.givenName":"A","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"X"}`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, r["name"].(map[string]any)["givenName"], "A")
				eq(t, r[ent].(map[string]any)["department"], "X")
			}},
		{name: "path-less replace with an extension object",
			ops: [][3]string{{"replace", "", `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Y","employeeNumber":"7"}}`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, r[ent].(map[string]any)["department"], "Y")
				eq(t, r[ent].(map[string]any)["employeeNumber"], "7")
			}},
		{name: "extension path", ops: [][3]string{{"replace", ent + ":manager", `{"value":"m2"}`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, r[ent].(map[string]any)["manager"], map[string]any{"value": "m2"})
			}},
		{name: "add to a multi-valued attribute, without duplicates",
			ops:   [][3]string{{"add", "phoneNumbers", `[{"value":"666","type":"mobile"},{"value":"555","type":"work"}]`}},
			check: func(t *testing.T, r map[string]any) { eq(t, len(r["phoneNumbers"].([]any)), 2) }},
		{name: "replace a whole multi-valued attribute", ops: [][3]string{{"replace", "emails", `[{"value":"only@x","type":"work"}]`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, r["emails"], []any{map[string]any{"value": "only@x", "type": "work"}})
			}},
		{name: "one primary at most", ops: [][3]string{{"replace", `emails[type eq "home"].primary`, `true`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, email(r, "home")["primary"], true)
				eq(t, email(r, "work")["primary"], nil)
			}},
		{name: "remove a sub-attribute", ops: [][3]string{{"remove", "name.familyName", ""}},
			check: func(t *testing.T, r map[string]any) { eq(t, r["name"], map[string]any{"givenName": "Barbara"}) }},
		{name: "null unassigns", ops: [][3]string{{"replace", "title", `null`}},
			check: func(t *testing.T, r map[string]any) { eq(t, r["title"], nil) }},
		{name: "replace a filtered element merges", ops: [][3]string{{"replace", `emails[type eq "work"]`, `{"value":"w2"}`}},
			check: func(t *testing.T, r map[string]any) { eq(t, email(r, "work")["value"], "w2") }},
		{name: "Entra: remove listed values", ops: [][3]string{{"Remove", "emails", `[{"value":"bj@home"}]`}},
			check: func(t *testing.T, r map[string]any) { eq(t, len(r["emails"].([]any)), 1) }},
		{name: "case-insensitive names and values", ops: [][3]string{{"replace", `EMAILS[TYPE eq "WORK"].Value`, `"c@x"`}},
			check: func(t *testing.T, r map[string]any) { eq(t, email(r, "work")["value"], "c@x") }},
		{name: "removing the last sub-attribute unassigns", ops: [][3]string{{"remove", "name.givenName", ""}, {"remove", "name.familyName", ""}},
			check: func(t *testing.T, r map[string]any) { eq(t, r["name"], nil) }},
		{name: "all or nothing", ops: [][3]string{{"replace", "title", `"x"`}, {"remove", `emails[value eq "nope"]`, ""}}, errTyp: "noTarget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ops []Operation
			for _, o := range tt.ops {
				ops = append(ops, op(t, o[0], o[1], o[2]))
			}
			before := testResource()
			got, err := Patch(schemas, before, ops)
			if !reflect.DeepEqual(before, testResource()) {
				t.Fatal("Patch changed its input")
			}
			if tt.errTyp != "" {
				pe, ok := err.(*PatchError)
				if !ok || pe.ScimType != tt.errTyp {
					t.Fatalf("err = %v, want scimType %s", err, tt.errTyp)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func email(r map[string]any, typ string) map[string]any {
	for _, e := range r["emails"].([]any) {
		if o := e.(map[string]any); strings.EqualFold(o["type"].(string), typ) {
			return o
		}
	}
	return map[string]any{}
}

func eq(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}
