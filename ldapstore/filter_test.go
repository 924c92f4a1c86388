package ldapstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// translate runs the translator over m without a directory: references
// resolve through refs (id → DN), and no matching rule is checked (the
// integration tests on slapd check those).
func translate(t *testing.T, m schema.Resource, kind, f string, refs map[string]string) (string, error) {
	t.Helper()
	expr, err := schema.ParseFilter(f)
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	tr := translator{r: &Resources{m: m, kind: kind}, ref: func(_ []*Resources, id string) (string, error) { return refs[id], nil }}
	return tr.filter(expr)
}

func TestFilterTranslation(t *testing.T) {
	ol, _ := schema.Preset("openldap")
	ad, _ := schema.Preset("activedirectory")
	refs := map[string]string{"u-1": "uid=u1,ou=people,dc=example,dc=org", "g-1": "cn=g(1),ou=groups,dc=example,dc=org"}
	// The octets AD stores for this GUID (the codec's known vector).
	guid := "(objectGUID=" + ldap.EscapeFilter("\xd4\x2e\x5b\xdd\x8f\x7e\xab\x4c\x8c\xa8\xb4\x1e\x46\xb1\xd3\xc6") + ")"
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	tests := []struct {
		m      schema.Resource
		filter string
		want   string
	}{
		// Operators.
		{ol.Users, `userName eq "bjensen"`, `(uid=bjensen)`},
		{ol.Users, `userName ne "bjensen"`, `(!(uid=bjensen))`},
		{ol.Users, `userName co "jen"`, `(uid=*jen*)`},
		{ol.Users, `userName sw "bj"`, `(uid=bj*)`},
		{ol.Users, `userName ew "sen"`, `(uid=*sen)`},
		{ol.Users, `userName pr`, `(uid=*)`},
		{ol.Users, `userName co ""`, `(uid=*)`},
		{ol.Users, `userName gt "m"`, `(&(uid>=m)(!(uid=m)))`},
		{ol.Users, `userName ge "m"`, `(uid>=m)`},
		{ol.Users, `userName lt "m"`, `(&(uid<=m)(!(uid=m)))`},
		{ol.Users, `userName le "m"`, `(uid<=m)`},
		{ol.Users, `title eq null`, `(!(title=*))`},
		// Logic and grouping.
		{ol.Users, `userName eq "a" and title pr`, `(&(uid=a)(title=*))`},
		{ol.Users, `userName eq "a" or userName eq "b" and title pr`, `(|(uid=a)(&(uid=b)(title=*)))`},
		{ol.Users, `(userName eq "a" or userName eq "b") and title pr`, `(&(|(uid=a)(uid=b))(title=*))`},
		{ol.Users, `not (userName eq "a")`, `(!(uid=a))`},
		{ol.Users, `not (userName ne "a")`, `(uid=a)`},
		// Sub-attributes, case of names, the core URN.
		{ol.Users, `name.familyName eq "Jensen"`, `(sn=Jensen)`},
		{ol.Users, `NAME.GIVENNAME sw "B"`, `(givenName=B*)`},
		{ol.Users, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `(uid=x)`},
		// Extension attributes.
		{ol.Users, ent + `:employeeNumber eq "42"`, `(employeeNumber=42)`},
		{ol.Users, ent + `:manager.value eq "u-1"`, `(manager=uid=u1,ou=people,dc=example,dc=org)`},
		{ol.Users, ent + `:manager.value eq "nobody"`, matchNone},
		{ol.Users, ent + `:manager.value ne "nobody"`, matchAll},
		// Typed multi-valued attributes: any mapped attribute may hold it.
		{ol.Users, `emails.value eq "x@example.com"`, `(|(mail=x@example.com)(scimHomeEmail=x@example.com)(scimOtherEmail=x@example.com))`},
		{ol.Users, `emails eq "x@example.com"`, `(|(mail=x@example.com)(scimHomeEmail=x@example.com)(scimOtherEmail=x@example.com))`},
		{ol.Users, `emails.value ne "x@example.com"`, `(!(|(mail=x@example.com)(scimHomeEmail=x@example.com)(scimOtherEmail=x@example.com)))`},
		{ol.Users, `emails.type eq "work"`, `(mail=*)`},
		{ol.Users, `emails pr`, `(|(mail=*)(scimHomeEmail=*)(scimOtherEmail=*))`},
		// Value paths.
		{ol.Users, `emails[type eq "work"]`, `(mail=*)`},
		{ol.Users, `emails[type eq "work" and value co "@example.com"]`, `(mail=*@example.com*)`},
		{ol.Users, `emails[type eq "work"].value eq "x"`, `(mail=x)`},
		{ol.Users, `emails[type eq "work" or type eq "home"]`, `(|(mail=*)(scimHomeEmail=*))`},
		{ol.Users, `emails[type eq "WORK" and (value co "a" or value co "b")]`, `(|(mail=*a*)(mail=*b*))`},
		{ol.Users, `emails[type ne "work" and value sw "x"]`, `(|(scimHomeEmail=x*)(scimOtherEmail=x*))`},
		{ol.Users, `emails[type eq "fax"]`, matchNone},
		{ol.Users, `addresses[type eq "work" and locality eq "Paris"]`, `(l=Paris)`},
		{ol.Users, `phoneNumbers[type eq "mobile"].value sw "+33"`, `(mobile=+33*)`},
		// Special attributes.
		{ol.Users, `id eq "3d0a3ec0-7b16-1041-8968-fbed12f3a63e"`, `(entryUUID=3d0a3ec0-7b16-1041-8968-fbed12f3a63e)`},
		{ol.Users, `id eq "*"`, matchNone},
		{ol.Users, `id ne "*"`, matchAll},
		{ol.Users, `id pr`, matchAll},
		{ad.Users, `id eq "dd5b2ed4-7e8f-4cab-8ca8-b41e46b1d3c6"`, guid},
		{ad.Users, `id ne "dd5b2ed4-7e8f-4cab-8ca8-b41e46b1d3c6"`, "(!" + guid + ")"},
		{ad.Users, `id eq "not-a-guid"`, matchNone},
		{ol.Users, `externalId eq "E-1"`, `(scimExternalId=E-1)`},
		{ol.Users, `meta.lastModified gt "2011-05-13T04:42:34Z"`, `(&(modifyTimestamp>=20110513044234Z)(!(modifyTimestamp=20110513044234Z)))`},
		{ol.Users, `meta.created ge "2011-05-13T06:42:34+02:00"`, `(createTimestamp>=20110513044234Z)`},
		{ol.Users, `meta.resourceType eq "User"`, matchAll},
		{ol.Users, `meta.resourceType eq "Group"`, matchNone},
		{ol.Users, `meta.version eq "W/\"2024\""`, `(entryCSN=2024)`},
		{ol.Users, `active eq true`, `(!(pwdAccountLockedTime=*))`},
		{ol.Users, `active eq "False"`, `(pwdAccountLockedTime=*)`},
		{ol.Users, `active ne true`, `(pwdAccountLockedTime=*)`},
		{ad.Users, `active eq false`, `(userAccountControl:1.2.840.113556.1.4.803:=2)`},
		{ol.Users, `groups.value eq "g-1"`, `(memberOf=cn=g\281\29,ou=groups,dc=example,dc=org)`},
		{ol.Users, `groups[value eq "g-1"]`, `(memberOf=cn=g\281\29,ou=groups,dc=example,dc=org)`},
		{ol.Groups, `members.value eq "u-1"`, `(member=uid=u1,ou=people,dc=example,dc=org)`},
		{ol.Groups, `members eq "nobody"`, matchNone},
		{ol.Groups, `displayName eq "Admins" and members.value eq "u-1"`, `(&(cn=Admins)(member=uid=u1,ou=people,dc=example,dc=org))`},
		// Hostile values stay values.
		{ol.Users, `userName eq "*"`, `(uid=\2a)`},
		{ol.Users, `userName eq "a)(uid=*"`, `(uid=a\29\28uid=\2a)`},
		{ol.Users, `userName co "\\"`, `(uid=*\5c*)`},
		{ol.Users, `userName eq "a\u0000b"`, `(uid=a\00b)`},
		{ol.Users, `userName eq "zoë"`, `(uid=zo\c3\ab)`},
		{ol.Users, `userName sw "(*)"`, `(uid=\28\2a\29*)`},
	}
	for _, tt := range tests {
		kind := "User"
		if tt.m.Members != "" {
			kind = "Group"
		}
		got, err := translate(t, tt.m, kind, tt.filter, refs)
		if err != nil || got != tt.want {
			t.Errorf("%s (%s)\n got  %q, %v\n want %q", tt.filter, tt.m.ID, got, err, tt.want)
			continue
		}
		if _, err := ldap.CompileFilter(got); err != nil {
			t.Errorf("%s: %q does not compile: %v", tt.filter, got, err)
		}
	}
}

// What LDAP cannot express is a 400 invalidFilter naming it.
func TestFilterTranslationErrors(t *testing.T) {
	ol, _ := schema.Preset("openldap")
	tests := []struct {
		filter string
		want   string // in the message
	}{
		{`nosuch eq "x"`, `no attribute "nosuch"`},
		{`name eq "x"`, `name is complex`},
		{`userName.x eq "x"`, `no sub-attributes`},
		{`name.nosuch eq "x"`, `no sub-attribute "nosuch"`},
		{`password eq "x"`, `never returned`},
		{`urn:example:nosuch:attr eq "x"`, `no schema urn:example:nosuch`},
		{`emails[primary eq true]`, `primary`},
		{`emails[display eq "x"]`, `not stored`},
		{`emails[nosuch eq "x"]`, `no sub-attribute "nosuch"`},
		{`emails[value sw "a" and value ew "z"]`, `two conditions of one value`},
		{`emails[not (value eq "a")]`, `negate`},
		{`emails[type eq "work" and value ne "a"]`, `differs`},
		{`userName[value eq "x"]`, `multi-valued complex`},
		{`active gt true`, `eq or ne`},
		{`active eq "maybe"`, `eq or ne`},
		{`meta.location eq "x"`, `meta.location`},
		{`meta eq "x"`, `meta is complex`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value co "x"`, `eq or ne`},
		{`meta.lastModified gt "yesterday"`, `xsd:dateTime`},
		{`userName gt null`, `null`},
	}
	for _, tt := range tests {
		_, err := translate(t, ol.Users, "User", tt.filter, nil)
		var fe *FilterError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidFilter) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want an invalid filter mentioning %q", tt.filter, err, tt.want)
		}
	}
}
