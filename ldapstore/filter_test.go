package ldapstore

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/scim2/filter-parser/v2"

	"github.com/scimgate/scimgate/schema"
)

// Comparisons of id go through the id's codec, as look-ups by id do.
func TestIDFilter(t *testing.T) {
	// The octets AD stores for this GUID (the codec's known vector).
	guid := "(objectGUID=" + ldap.EscapeFilter("\xd4\x2e\x5b\xdd\x8f\x7e\xab\x4c\x8c\xa8\xb4\x1e\x46\xb1\xd3\xc6") + ")"
	ad, _ := schema.Preset("activedirectory")
	ol, _ := schema.Preset("openldap")
	tests := []struct {
		m      schema.Resource
		filter string
		want   string
	}{
		{ad.Users, `id eq "dd5b2ed4-7e8f-4cab-8ca8-b41e46b1d3c6"`, guid},
		{ad.Users, `id ne "dd5b2ed4-7e8f-4cab-8ca8-b41e46b1d3c6"`, "(!" + guid + ")"},
		{ad.Users, `id eq "not-a-guid"`, `(!(objectClass=*))`},
		{ol.Users, `id eq "3d0a3ec0-7b16-1041-8968-fbed12f3a63e"`, `(entryUUID=3d0a3ec0-7b16-1041-8968-fbed12f3a63e)`},
		{ol.Users, `id eq "*"`, `(!(objectClass=*))`},
	}
	for _, tt := range tests {
		expr, err := filter.ParseFilter([]byte(tt.filter))
		if err != nil {
			t.Fatal(err)
		}
		r := &Resources{m: tt.m}
		got, err := r.ldapFilter(expr)
		if err != nil || got != tt.want {
			t.Errorf("%s (%s) = %q, %v; want %q", tt.filter, tt.m.ID, got, err, tt.want)
		}
		if _, err := ldap.CompileFilter(got); err != nil {
			t.Errorf("%q does not compile: %v", got, err)
		}
	}
}
