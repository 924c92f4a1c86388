package ldapstore

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// Seeds: ordinary filters and LDAP injection attempts.
var injections = []string{
	`*`, `*)(uid=*`, `*)(|(uid=*`, `admin)(&)`, `x)(objectClass=*`, `\2a`, `\00`, "nul\x00byte", `(`, `)`, `\`,
	`*)(userPassword=*)`, `a*b*c`, `ü`, "\xff\xfe", `cn=admin,dc=example,dc=org`, `"`, `\"`,
}

// Any filter that parses translates to an LDAP filter that compiles (or to
// a FilterError for the client), never to a panic or a malformed filter.
func FuzzFilterTranslation(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`, `emails[type eq "work" and value co "@example"]`, `not (title pr) or name.givenName sw "B"`,
		`members[value eq "u-1"]`, `meta.lastModified gt "2020-01-01T00:00:00Z"`, `active eq false`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "u-1"`, `id eq "x" or externalId eq "y"`,
	} {
		f.Add(s)
	}
	for _, v := range injections {
		b, _ := json.Marshal(v)
		f.Add(`userName eq ` + string(b))
		f.Add(`emails.value co ` + string(b))
	}
	ol, _ := schema.Preset("openldap")
	refs := map[string]string{"u-1": "uid=u1,ou=people,dc=example,dc=org"}
	f.Fuzz(func(t *testing.T, s string) {
		expr, err := schema.ParseFilter(s)
		if err != nil {
			return
		}
		for _, m := range []struct {
			r    schema.Resource
			kind string
		}{{ol.Users, "User"}, {ol.Groups, "Group"}} {
			tr := translator{r: &Resources{m: m.r, kind: m.kind},
				ref:         func(_ []*Resources, id string) (string, error) { return refs[id], nil },
				memberValue: func(id string) (string, error) { return refs[id], nil }}
			out, err := tr.filter(expr)
			var fe *FilterError
			if err != nil {
				if !errors.As(err, &fe) {
					t.Fatalf("%s: %v is not a FilterError", s, err)
				}
				continue
			}
			if _, err := ldap.CompileFilter(out); err != nil {
				t.Fatalf("%s → %s does not compile: %v", s, out, err)
			}
		}
	})
}

// userName eq "v" is exactly one equality assertion on uid with the value
// v: whatever v holds, it cannot widen the search.
func FuzzEqualityIsExact(f *testing.F) {
	for _, v := range injections {
		f.Add(v)
	}
	ol, _ := schema.Preset("openldap")
	tr := translator{r: &Resources{m: ol.Users, kind: "User"}}
	f.Fuzz(func(t *testing.T, v string) {
		b, _ := json.Marshal(v)
		var want string
		json.Unmarshal(b, &want) // what JSON can carry of v
		expr, err := schema.ParseFilter(`userName eq ` + string(b))
		if err != nil {
			t.Fatalf("a quoted value does not parse: %s: %v", b, err)
		}
		out, err := tr.filter(expr)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		packet, err := ldap.CompileFilter(out)
		if err != nil {
			t.Fatalf("%s → %s: %v", b, out, err)
		}
		if packet.Tag != ldap.FilterEqualityMatch || len(packet.Children) != 2 ||
			packet.Children[0].Value != "uid" || packet.Children[1].Value != want {
			t.Fatalf("%s → %s is not the one assertion uid=%q", b, out, want)
		}
	})
}

// A DN built from any name parses back to that name under the base.
func FuzzChildDN(f *testing.F) {
	for _, v := range injections {
		f.Add(v)
	}
	f.Add(" leading and trailing ")
	f.Add("#hash")
	f.Fuzz(func(t *testing.T, v string) {
		const base = "ou=people,dc=example,dc=org"
		if v == "" || !utf8.ValidString(v) {
			return // names come from JSON: text, never empty
		}
		dn, err := ldap.ParseDN(childDN("uid", v, base))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if len(dn.RDNs) != 4 || len(dn.RDNs[0].Attributes) != 1 || dn.RDNs[0].Attributes[0].Type != "uid" || dn.RDNs[0].Attributes[0].Value != v {
			t.Fatalf("%q → %q parses as %+v", v, childDN("uid", v, base), dn.RDNs[0])
		}
	})
}
