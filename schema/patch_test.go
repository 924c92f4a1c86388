package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
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
				eq(t, email(r, "work")["primary"], false) // RFC 7644 3.5.2: the others' set to false
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
		{name: "a value written is found by value", ops: [][3]string{{"replace", `emails[value eq "bj@work"].value`, `"new@work"`},
			{"replace", `emails[value eq "NEW@work"].type`, `"other"`}, {"remove", `emails[value eq "bj@work"]`, ""}}, errTyp: "noTarget"},
		{name: "a value written is found by value, and its old value is gone",
			ops: [][3]string{{"replace", `emails[value eq "bj@work"].value`, `"new@work"`}, {"replace", `emails[value eq "NEW@work"].type`, `"other"`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, email(r, "other")["value"], "new@work")
				eq(t, len(r["emails"].([]any)), 2)
			}},
		{name: "a removed value is not found again", ops: [][3]string{{"remove", `emails[value eq "bj@home"]`, ""}, {"remove", `emails[value eq "bj@home"]`, ""}},
			errTyp: "noTarget"},
		{name: "removed, then added again, then found",
			ops: [][3]string{{"remove", `emails[value eq "bj@home"]`, ""}, {"add", "emails", `[{"value":"bj@home","type":"other"}]`},
				{"replace", `emails[value eq "bj@home"].display`, `"Home"`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, r["emails"], []any{map[string]any{"value": "bj@work", "type": "work", "primary": true},
					map[string]any{"value": "bj@home", "type": "other", "display": "Home"}})
			}},
		{name: "an element created by its type is found by a later operation",
			ops:   [][3]string{{"add", `emails[type eq "other"].value`, `"o@x"`}, {"replace", `emails[value eq "o@x"].display`, `"O"`}},
			check: func(t *testing.T, r map[string]any) { eq(t, email(r, "other")["display"], "O") }},
		{name: "the last primary written wins, and unsetting it leaves none",
			ops: [][3]string{{"replace", `emails[value eq "bj@home"].primary`, `true`}, {"replace", `emails[value eq "bj@home"].primary`, `false`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, email(r, "work")["primary"], false)
				eq(t, email(r, "home")["primary"], false) // as written
			}},
		{name: "a value added as primary takes the mark",
			ops: [][3]string{{"add", "emails", `[{"value":"new@x","type":"other","primary":true}]`}},
			check: func(t *testing.T, r map[string]any) {
				eq(t, email(r, "other")["primary"], true)
				eq(t, email(r, "work")["primary"], false)
			}},
		{name: "case-exact values are found only as written",
			ops: [][3]string{{"add", "x509Certificates", `[{"value":"QUJD"}]`}, {"remove", `x509Certificates[value eq "qujd"]`, ""}}, errTyp: "noTarget"},
		{name: "a value that is not a string is reported, not skipped",
			ops: [][3]string{{"replace", `emails[value eq "bj@home"].value`, `42`}, {"remove", `emails[value eq "bj@work"]`, ""}}, errTyp: "invalidPath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ops []Operation
			for _, o := range tt.ops {
				ops = append(ops, op(t, o[0], o[1], o[2]))
			}
			before := testResource()
			got, err := Patch(context.Background(), schemas, before, ops)
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

// countdown is a context whose Err says it has ended after its first n
// calls: a fake, so that a PATCH can be stopped between two given
// operations without timing.
type countdown struct {
	context.Context
	n int
}

func (c *countdown) Err() error {
	if c.n--; c.n < 0 {
		return context.DeadlineExceeded
	}
	return nil
}

func TestPatchStopsWhenTheContextEnds(t *testing.T) {
	schemas := Schemas{Core: User()}
	ops := []Operation{op(t, "replace", "title", `"a"`), op(t, "replace", "title", `"b"`), op(t, "replace", "title", `"c"`)}
	_, err := Patch(&countdown{Context: context.Background(), n: 2}, schemas, testResource(), ops)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "before operation 3 of 3") {
		t.Fatalf("err = %v, want the deadline, before operation 3", err)
	}
}

func TestPatchMaxValues(t *testing.T) {
	user := Schemas{Core: User(), Extensions: []Schema{EnterpriseUser()}, MaxValues: 2}
	tests := []struct {
		name    string
		schemas Schemas
		ops     [][3]string
		err     string // "": applies
	}{
		{name: "up to the bound", schemas: user, ops: [][3]string{{"add", "phoneNumbers", `[{"value":"666"}]`}}},
		{name: "past the bound", schemas: user, ops: [][3]string{{"add", "emails", `[{"value":"third@x"}]`}},
			err: "emails would hold 3 values; limits.max_values is 2"},
		{name: "past the bound by a created element", schemas: user, ops: [][3]string{{"add", `emails[type eq "other"].value`, `"o@x"`}},
			err: "emails would hold 3 values"},
		{name: "past the bound by many operations", schemas: user,
			ops: [][3]string{{"add", "roles", `[{"value":"a"}]`}, {"add", "roles", `[{"value":"b"}]`}, {"add", "roles", `[{"value":"c"}]`}},
			err: "roles would hold 3 values"},
		{name: "past the bound, then back", schemas: user,
			ops: [][3]string{{"add", "emails", `[{"value":"third@x"}]`}, {"remove", `emails[value eq "third@x"]`, ""}}},
		{name: "an attribute over the bound that does not grow", schemas: Schemas{Core: User(), MaxValues: 1},
			ops: [][3]string{{"replace", `emails[value eq "bj@home"].type`, `"other"`}}},
		{name: "an attribute over the bound that grows", schemas: Schemas{Core: User(), MaxValues: 1},
			ops: [][3]string{{"add", "emails", `[{"value":"third@x"}]`}}, err: "emails would hold 3 values; limits.max_values is 1"},
		{name: "no bound", schemas: Schemas{Core: User()}, ops: [][3]string{{"add", "emails", `[{"value":"a"},{"value":"b"},{"value":"c"}]`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ops []Operation
			for _, o := range tt.ops {
				ops = append(ops, op(t, o[0], o[1], o[2]))
			}
			_, err := Patch(context.Background(), tt.schemas, testResource(), ops)
			var pe *PatchError
			switch {
			case tt.err == "" && err != nil:
				t.Fatal(err)
			case tt.err != "" && (!errors.As(err, &pe) || pe.ScimType != "invalidValue" || !strings.Contains(pe.Msg, tt.err)):
				t.Fatalf("err = %v, want invalidValue %q", err, tt.err)
			}
		})
	}
	// A group's members are not counted.
	group := Schemas{Core: Group(), MaxValues: 1}
	_, err := Patch(context.Background(), group, map[string]any{"displayName": "g"},
		[]Operation{op(t, "add", "members", `[{"value":"a"},{"value":"b"},{"value":"c"}]`)})
	if err != nil {
		t.Errorf("members: %v", err)
	}
}

// Operations applied in one PATCH give what they give one PATCH at a time,
// where nothing is kept from one operation to the next: the indexes of
// values and the primary's position are kept up to date. Random sequences
// of operations on emails, from a fixed seed.
func TestPatchAllAtOnceEqualsOneByOne(t *testing.T) {
	schemas := Schemas{Core: User()}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(prefix string) string { return fmt.Sprintf("%s%d", prefix, rng.IntN(4)) }
	forms := []func() [3]string{
		func() [3]string {
			return [3]string{"replace", `emails[value eq "` + pick("v") + `"].type`, `"` + pick("t") + `"`}
		},
		func() [3]string {
			return [3]string{"replace", `emails[value eq "` + pick("V") + `"].value`, `"` + pick("v") + `"`}
		},
		func() [3]string {
			return [3]string{"replace", `emails[value eq "` + pick("v") + `"].primary`, []string{"true", "false"}[rng.IntN(2)]}
		},
		func() [3]string { return [3]string{"remove", `emails[value eq "` + pick("v") + `"]`, ""} },
		func() [3]string {
			return [3]string{"add", "emails", `[{"value":"` + pick("v") + `","type":"` + pick("t") + `"}]`}
		},
		func() [3]string {
			return [3]string{"replace", `emails[type eq "` + pick("t") + `"].display`, `"` + pick("d") + `"`}
		},
		func() [3]string { return [3]string{"Remove", "emails", `[{"value":"` + pick("v") + `"}]`} },
		func() [3]string {
			return [3]string{"add", `emails[type eq "` + pick("t") + `"].value`, `"` + pick("v") + `"`}
		},
		func() [3]string {
			return [3]string{"replace", `emails[type eq "` + pick("t") + `"]`, `{"value":"` + pick("v") + `","primary":true}`}
		},
	}
	start := map[string]any{"userName": "u", "emails": []any{
		map[string]any{"value": "v0", "type": "t0", "primary": true}, map[string]any{"value": "v1", "type": "t1"},
		map[string]any{"value": "v2", "type": "t0"}, map[string]any{"value": "v1", "type": "t2", "primary": true},
	}}
	parsed := map[[3]string]Operation{}
	for n := range 3000 {
		var ops []Operation
		var desc []string
		for range 1 + rng.IntN(10) {
			o := forms[rng.IntN(len(forms))]()
			if _, ok := parsed[o]; !ok {
				parsed[o] = op(t, o[0], o[1], o[2]) // parsing paths is slow: each once
			}
			ops = append(ops, parsed[o])
			desc = append(desc, fmt.Sprint(o))
		}
		all, errAll := Patch(context.Background(), schemas, start, ops)
		one, errOne := start, error(nil)
		for _, o := range ops {
			if one, errOne = Patch(context.Background(), schemas, one, []Operation{o}); errOne != nil {
				break
			}
		}
		if (errAll != nil) != (errOne != nil) || errAll == nil && !reflect.DeepEqual(all, one) {
			t.Fatalf("sequence %d %v:\nat once:    %v %v\none by one: %v %v", n, desc, all, errAll, one, errOne)
		}
	}
}

// A required attribute of an extension goes with the whole extension (a
// PATCH whose path is the extension's URN removes each of its attributes),
// never alone; a required attribute of the core schema never goes.
func TestPatchRequiredExtensionAttribute(t *testing.T) {
	const urn = "urn:example:params:scim:schemas:extension:badge:2.0:User"
	schemas := Schemas{Core: User(), Extensions: []Schema{{ID: urn, Name: "Badge",
		Attributes: []Attribute{attr("badge", String, "").required(), attr("floor", String, "")}}}}
	tests := []struct {
		name string
		ops  [][3]string
		want any // the extension afterwards
		err  string
	}{
		{name: "with the whole extension", ops: [][3]string{{"remove", urn + ":badge", ""}, {"remove", urn + ":floor", ""}}},
		{name: "alone", ops: [][3]string{{"remove", urn + ":badge", ""}}, err: "mutability"},
		{name: "alone, then given again", ops: [][3]string{{"remove", urn + ":badge", ""}, {"add", urn + ":badge", `"B2"`}},
			want: map[string]any{"badge": "B2", "floor": "3"}},
		{name: "with a core attribute", ops: [][3]string{{"remove", urn + ":badge", ""}, {"remove", urn + ":floor", ""}, {"remove", "userName", ""}},
			err: "mutability"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := testResource()
			res[urn] = map[string]any{"badge": "B1", "floor": "3"}
			var ops []Operation
			for _, o := range tt.ops {
				ops = append(ops, op(t, o[0], o[1], o[2]))
			}
			got, err := Patch(context.Background(), schemas, res, ops)
			var pe *PatchError
			if tt.err != "" {
				if !errors.As(err, &pe) || pe.ScimType != tt.err {
					t.Fatalf("err = %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			eq(t, got[urn], tt.want)
		})
	}
}
