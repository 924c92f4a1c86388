package schema

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/scim2/filter-parser/v2"
)

// Any input either parses or is refused with an error; never a panic, and
// never a hang (the parser bounds nesting).
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`, `emails[type eq "work" and (value co "@" or primary eq true)]`, `not (a pr)`,
		`a eq "\u0000"`, `((((((((a pr))))))))`, `a[b[c eq 1]]`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`,
		`userName eq "*)(uid=*"`, `a eq bare`, `a gt 2015-10-10T14:38:21.8617979-07:00`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseFilter(s)
		if err == nil && e == nil {
			t.Fatalf("%q: no expression and no error", s)
		}
	})
}

// A PATCH operation of any path and value applies or fails with a
// PatchError (a SCIM error for the client); never a panic, and never a
// change when it fails.
func FuzzPatch(f *testing.F) {
	for _, s := range []struct{ op, path, value string }{
		{"replace", "name.givenName", `"Ann"`},
		{"add", `emails[type eq "work"].value`, `"a@b.c"`},
		{"remove", `members[value eq "x"]`, `null`},
		{"replace", "", `{"active":false,"name.familyName":"X"}`},
		{"add", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", `"m-1"`},
		{"replace", `emails[type eq "work" and primary eq true]`, `[{"value":"x"}]`},
		{"remove", "emails", ``},
		{"replace", "id", `"new"`},
	} {
		f.Add(s.op, s.path, s.value)
	}
	schemas := Schemas{Core: User(), Extensions: []Schema{EnterpriseUser()}}
	f.Fuzz(func(t *testing.T, op, path, value string) {
		var v any
		if value != "" && json.Unmarshal([]byte(value), &v) != nil {
			return
		}
		o := Operation{Op: op, Value: v}
		if path != "" {
			p, err := filter.ParsePath([]byte(path))
			if err != nil {
				return
			}
			o.Path = &p
		}
		resource := map[string]any{
			"userName": "bjensen", "name": map[string]any{"givenName": "Barbara"},
			"emails": []any{map[string]any{"type": "work", "value": "b@example.org", "primary": true}},
		}
		before, _ := json.Marshal(resource)
		_, err := Patch(context.Background(), schemas, resource, []Operation{o})
		var pe *PatchError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("%s %q %s: %v is not a PatchError", op, path, value, err)
		}
		if after, _ := json.Marshal(resource); string(after) != string(before) {
			t.Fatalf("Patch changed its input: %s → %s", before, after)
		}
	})
}
