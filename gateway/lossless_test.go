package gateway

import (
	"encoding/json"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/slapd"
)

// newPlainEnv is a gateway over a directory without scimgate's schema:
// only inetOrgPerson and groupOfNames hold what clients send.
func newPlainEnv(t *testing.T) *userEnv {
	t.Helper()
	dir := slapd.New(t, slapd.Options{PPolicy: true, ServiceAccount: true})
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{})
	return &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/scim/v2"}
}

// sameJSON reports whether got (decoded JSON) is exactly the JSON text
// want: same keys, same values, arrays in the same order.
func sameJSON(got any, want string) (string, bool) {
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		panic(want + ": " + err.Error())
	}
	g, _ := json.Marshal(got)
	wb, _ := json.Marshal(w)
	return string(g), string(g) == string(wb)
}

// wantExactly checks that the response holds each attribute exactly as
// want gives it (JSON text) and none of absent.
func wantExactly(t *testing.T, what string, r response, want map[string]string, absent []string) {
	t.Helper()
	for attr, w := range want {
		if got, ok := sameJSON(r.body[attr], w); !ok {
			t.Errorf("%s: %s = %s, want %s", what, attr, got, w)
		}
	}
	for _, attr := range absent {
		if v, ok := r.body[attr]; ok {
			t.Errorf("%s: %s = %v, want it unassigned", what, attr, v)
		}
	}
}

// What issue 17 found dropped or changed, with scimgate's schema installed:
// each value comes back exactly as sent, in the create's answer and in a
// GET — nothing added (primary, type, a derived name), nothing lost.
func TestKeptAsSent(t *testing.T) {
	u := newUserEnv(t)
	tests := []struct {
		name   string
		attrs  string // the user's attributes beside userName (JSON members)
		want   map[string]string
		absent []string
	}{
		{"ims and photos", `"ims":[{"value":"ada@jabber.example","type":"xmpp"}],"photos":[{"value":"https://photos.example.com/ada.jpg","type":"photo"}]`,
			map[string]string{"ims": `[{"value":"ada@jabber.example","type":"xmpp"}]`, "photos": `[{"value":"https://photos.example.com/ada.jpg","type":"photo"}]`}, nil},
		{"a home address, every part", `"addresses":[{"type":"home","streetAddress":"12 Ada Row","locality":"London","region":"Greater London","postalCode":"N1 7AA","country":"GB","formatted":"12 Ada Row\nLondon N1 7AA"}]`,
			map[string]string{"addresses": `[{"type":"home","streetAddress":"12 Ada Row","locality":"London","region":"Greater London","postalCode":"N1 7AA","country":"GB","formatted":"12 Ada Row\nLondon N1 7AA"}]`}, nil},
		{"a type /Schemas does not list, beside one it does", `"phoneNumbers":[{"value":"+44 20 7946 0000","type":"other"},{"value":"+44 20 7946 0001","type":"work"}]`,
			map[string]string{"phoneNumbers": `[{"value":"+44 20 7946 0000","type":"other"},{"value":"+44 20 7946 0001","type":"work"}]`}, nil},
		{"primary false stays false", `"emails":[{"value":"ada@example.com","type":"work","primary":false}]`,
			map[string]string{"emails": `[{"value":"ada@example.com","type":"work","primary":false}]`}, nil},
		{"primary on the second value", `"emails":[{"value":"ada@work.example","type":"work","primary":false},{"value":"ada@home.example","type":"home","primary":true}]`,
			map[string]string{"emails": `[{"value":"ada@work.example","type":"work","primary":false},{"value":"ada@home.example","type":"home","primary":true}]`}, nil},
		{"no primary stays none", `"emails":[{"value":"ada@example.com","type":"work"}]`,
			map[string]string{"emails": `[{"value":"ada@example.com","type":"work"}]`}, nil},
		{"no type stays none", `"emails":[{"value":"ada@example.com"}]`,
			map[string]string{"emails": `[{"value":"ada@example.com"}]`}, nil},
		{"display of a multi-valued item", `"emails":[{"value":"ada@example.com","type":"work","display":"Ada at work"}]`,
			map[string]string{"emails": `[{"value":"ada@example.com","type":"work","display":"Ada at work"}]`}, nil},
		{"only the name sent is there", `"name":{"givenName":"Ada"}`, map[string]string{"name": `{"givenName":"Ada"}`}, nil},
		{"no name is no name", `"title":"Countess"`, map[string]string{"title": `"Countess"`}, []string{"name", "displayName", "emails"}},
	}
	u.refuseAll(t, []refusal{{"two primaries", "POST", "/Users",
		`{"userName":"two","emails":[{"value":"a@x","type":"work","primary":true},{"value":"b@x","type":"home","primary":true}]}`,
		400, "invalidValue", "emails: 2 values are marked primary; at most one may be"}})
	id, _ := u.create(`{"userName":"one","emails":[{"value":"a@x","type":"work","primary":true}]}`)
	r := u.send("PATCH", "/Users/"+id, patchBody(`{"op":"add","path":"emails","value":[{"value":"b@x","type":"home","primary":true}]}`))
	wantExactly(t, "a primary added", r, map[string]string{"emails": `[{"value":"a@x","type":"work","primary":false},{"value":"b@x","type":"home","primary":true}]`}, nil)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, created := u.create(`{"userName":"kept` + string(rune('a'+i)) + `",` + tt.attrs + `}`)
			wantExactly(t, "created", created, tt.want, tt.absent)
			wantExactly(t, "GET", u.send("GET", "/Users/"+id, ""), tt.want, tt.absent)
		})
	}
}

// A rename re-derives what the gateway derived for the directory (sn from
// the userName, where the client gave no familyName), which still is not
// the client's: name stays unassigned. A familyName the client gave stays.
func TestDerivedNamesFollowRenames(t *testing.T) {
	u := newUserEnv(t)
	derived, _ := u.create(`{"userName":"before"}`)
	given, _ := u.create(`{"userName":"given-before","name":{"familyName":"Lovelace"}}`)
	for _, id := range []string{derived, given} {
		if r := u.send("PATCH", "/Users/"+id, patchBody(`{"op":"replace","path":"userName","value":"after-`+id[:8]+`"}`)); r.status != 200 {
			t.Fatalf("rename: %d %s", r.status, r.raw)
		}
	}
	wantExactly(t, "derived, renamed", u.send("GET", "/Users/"+derived, ""), map[string]string{"userName": `"after-` + derived[:8] + `"`}, []string{"name"})
	wantAttr(t, u.entry(derived), "sn", "after-"+derived[:8])
	wantExactly(t, "given, renamed", u.send("GET", "/Users/"+given, ""), map[string]string{"name": `{"familyName":"Lovelace"}`}, nil)
	wantAttr(t, u.entry(given), "sn", "Lovelace")
}

// Removing makes unassigned (RFC 7644 3.5.2.2), except active: unassigned,
// an account is neither enabled nor disabled, so removing it is refused and
// the account stays as it was. A PUT that leaves active out keeps it.
func TestRemovalAndActive(t *testing.T) {
	u := newUserEnv(t)
	id, _ := u.create(`{"userName":"disabled","active":false,"name":{"givenName":"Dis","familyName":"Abled"}}`)
	r := u.send("PATCH", "/Users/"+id, patchBody(`{"op":"remove","path":"active"}`))
	wantSCIMError(t, r, 400, "mutability")
	wantAttr(t, u.entry(id), "pwdAccountLockedTime", "000001010000Z")

	if r := u.send("PUT", "/Users/"+id, `{"userName":"disabled","title":"Put"}`); r.status != 200 {
		t.Fatalf("PUT: %d %s", r.status, r.raw)
	} else {
		wantExactly(t, "PUT without active", r, map[string]string{"active": `false`, "title": `"Put"`}, []string{"name"})
	}
	wantAttr(t, u.entry(id), "pwdAccountLockedTime", "000001010000Z")

	u.send("PATCH", "/Users/"+id, patchBody(`{"op":"add","path":"name","value":{"givenName":"Dis","familyName":"Abled"}}`))
	r = u.send("PATCH", "/Users/"+id, patchBody(`{"op":"remove","path":"name"}`))
	if r.status != 200 {
		t.Fatalf("remove name: %d %s", r.status, r.raw)
	}
	wantExactly(t, "remove name", r, nil, []string{"name"})
	wantExactly(t, "GET after remove name", u.send("GET", "/Users/"+id, ""), map[string]string{"active": `false`}, []string{"name"})
}

// Without scimgate's schema, what inetOrgPerson cannot keep as given is
// not advertised, and is refused with 400 naming it: never 201 and gone.
func TestNotKeptIsRefused(t *testing.T) {
	u := newPlainEnv(t)
	id, _ := u.create(`{"userName":"plain"}`)
	u.refuseAll(t, []refusal{
		{"PATCH add ims", "PATCH", "/Users/" + id, patchBody(`{"op":"add","path":"ims","value":[{"value":"x@jabber.example","type":"xmpp"}]}`), 400, "invalidValue", "ims cannot be kept"},
		{"PATCH a phone type without a home", "PATCH", "/Users/" + id, patchBody(`{"op":"replace","path":"phoneNumbers[type eq \"other\"].value","value":"+1 555 0102"}`),
			400, "invalidValue", `not "other"`},
		{"path-less PATCH with photos", "PATCH", "/Users/" + id, patchBody(`{"op":"Add","value":{"title":"T","photos":[{"value":"https://p.example/x.jpg"}]}}`), 400, "invalidValue", "photos cannot be kept"},
		{"path-less PATCH with a dotted key", "PATCH", "/Users/" + id, patchBody(`{"op":"replace","value":{"addresses[type eq \"home\"].locality":"Paris"}}`), 400, "invalidValue", `not "home"`},
		{"ims", "POST", "/Users", `{"userName":"r1","ims":[{"value":"x@jabber.example","type":"xmpp"}]}`, 400, "invalidValue", "ims"},
		{"photos", "POST", "/Users", `{"userName":"r2","photos":[{"value":"https://p.example/x.jpg","type":"photo"}]}`, 400, "invalidValue", "photos"},
		{"a phone type without a home", "POST", "/Users", `{"userName":"r3","phoneNumbers":[{"value":"+1 555 0100","type":"other"}]}`, 400, "invalidValue", "other"},
		{"a home address's street", "POST", "/Users", `{"userName":"r4","addresses":[{"type":"home","streetAddress":"1 Main St"}]}`, 400, "invalidValue", `not "home"`},
		{"a typeless phone", "POST", "/Users", `{"userName":"r5","phoneNumbers":[{"value":"+1 555 0101"}]}`, 400, "invalidValue", "phoneNumbers"},
		// externalId is a common attribute, in no schema: without
		// scimgate's schema it has no home here.
		{"externalId", "POST", "/Users", `{"userName":"r6","externalId":"ext-6"}`, 400, "invalidValue", "externalId cannot be kept"},
		{"PATCH externalId", "PATCH", "/Users/" + id, patchBody(`{"op":"add","path":"externalId","value":"ext-7"}`), 400, "invalidValue", "externalId cannot be kept"},
		{"a group's externalId", "POST", "/Groups", `{"displayName":"g-ext","externalId":"ext-8"}`, 400, "invalidValue", "externalId cannot be kept"},
	})
	for _, attr := range []string{"ims", "photos"} {
		r := u.send("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "")
		for _, a := range r.body["attributes"].([]any) {
			if a.(map[string]any)["name"] == attr {
				t.Errorf("/Schemas advertises %s", attr)
			}
		}
	}
}

// Without ppolicy (nor another users.active strategy) no account can be
// disabled: active true is what every account is and is taken, false is
// refused rather than answered 201 with the account still enabled.
func TestActiveWithoutAStrategy(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{})
	u := &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/scim/v2"}
	id, _ := u.create(`{"userName":"always","active":true}`)
	u.refuseAll(t, []refusal{
		{"create disabled", "POST", "/Users", `{"userName":"never","active":false}`, 400, "invalidValue", "no way to disable an account"},
		{"disable", "PATCH", "/Users/" + id, patchBody(`{"op":"replace","path":"active","value":false}`), 400, "invalidValue", "no way to disable an account"},
		{"disable by PUT", "PUT", "/Users/" + id, `{"userName":"always","active":false}`, 400, "invalidValue", "no way to disable an account"},
	})
}

// users.manager: a manager.value is found by id, employee number or
// userName; one that names nobody is kept as given (then resolved when
// that user is created), refused, or dropped, as users.manager.unresolved
// says.
func TestManagerReferences(t *testing.T) {
	const ext = `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`
	manager := func(v string) string { return ext + `:{"manager":{"value":"` + v + `"}}` }
	t.Run("found by id, employee number, userName", func(t *testing.T) {
		u := newUserEnv(t)
		boss, _ := u.create(`{"userName":"boss",` + ext + `:{"employeeNumber":"E7"}}`)
		for _, v := range []string{boss, "E7", "boss"} {
			id, created := u.create(`{"userName":"by-` + v + `",` + manager(v) + `}`)
			wantExactly(t, v, created, map[string]string{}, nil)
			got := created.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)["manager"].(map[string]any)["value"]
			if got != boss {
				t.Errorf("manager %q read back as %v, want %s", v, got, boss)
			}
			wantAttr(t, u.entry(id), "manager", "uid=boss,"+u.dir.PeopleDN)
			wantAttr(t, u.entry(id), "scimManager")
		}
	})
	t.Run("keep, then resolved", func(t *testing.T) {
		u := newUserEnv(t)
		id, created := u.create(`{"userName":"waiting",` + manager("HR-1") + `}`)
		wantExactly(t, "created", created, map[string]string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": `{"manager":{"value":"HR-1"}}`}, nil)
		wantAttr(t, u.entry(id), "scimManager", "HR-1")
		wantAttr(t, u.entry(id), "manager")
		boss, _ := u.create(`{"userName":"late-boss",` + ext + `:{"employeeNumber":"HR-1"}}`)
		wantAttr(t, u.entry(id), "manager", "uid=late-boss,"+u.dir.PeopleDN)
		wantAttr(t, u.entry(id), "scimManager")
		got := u.send("GET", "/Users/"+id, "")
		wantExactly(t, "resolved", got, map[string]string{}, nil)
		if m := got.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)["manager"].(map[string]any); m["value"] != boss {
			t.Errorf("manager = %v, want %s", m, boss)
		}
	})
	t.Run("reject", func(t *testing.T) {
		u := newUserEnvWith(t, ldapstore.Options{Manager: ldapstore.ManagerConfig{Unresolved: ldapstore.ManagerReject}})
		u.refuseAll(t, []refusal{
			{"create", "POST", "/Users", `{"userName":"r",` + manager("nobody") + `}`, 400, "invalidValue", `no user has "nobody"`},
			{"patch", "PATCH", "/Users/" + u.idOf("alovelace"), patchBody(`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"nobody"}}`),
				400, "invalidValue", `no user has "nobody"`},
		})
	})
	t.Run("drop", func(t *testing.T) {
		u := newUserEnvWith(t, ldapstore.Options{Manager: ldapstore.ManagerConfig{Unresolved: ldapstore.ManagerDrop}})
		id, created := u.create(`{"userName":"dropped",` + manager("nobody") + `}`)
		wantExactly(t, "created", created, nil, []string{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"})
		wantAttr(t, u.entry(id), "manager")
		wantAttr(t, u.entry(id), "scimManager")
	})
	t.Run("resolve by userName only", func(t *testing.T) {
		u := newUserEnvWith(t, ldapstore.Options{Manager: ldapstore.ManagerConfig{Resolve: []string{"userName"}, Unresolved: ldapstore.ManagerReject}})
		u.create(`{"userName":"boss2",` + ext + `:{"employeeNumber":"E8"}}`)
		u.refuseAll(t, []refusal{{"by employee number", "POST", "/Users", `{"userName":"r",` + manager("E8") + `}`, 400, "invalidValue", `no user has "E8" as userName`}})
		id, _ := u.create(`{"userName":"by-name",` + manager("boss2") + `}`)
		wantAttr(t, u.entry(id), "manager", "uid=boss2,"+u.dir.PeopleDN)
	})
}
