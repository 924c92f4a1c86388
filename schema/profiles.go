package schema

import (
	"fmt"
	"sort"
)

// Profile is the mapping preset for one kind of directory.
type Profile struct {
	Name   string
	Users  Resource
	Groups Resource

	// DNAttribute is the operational attribute holding an entry's own DN,
	// by which member DNs are resolved many at a time: entryDN on OpenLDAP
	// and 389, distinguishedName on Active Directory.
	DNAttribute string
}

// Profiles lists the names Preset accepts.
func Profiles() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var presets = map[string]func() Profile{
	"openldap": openLDAP,
}

// Preset returns the named profile.
func Preset(name string) (Profile, error) {
	f, ok := presets[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown directory profile %q (known: %v)", name, Profiles())
	}
	return f(), nil
}

func path(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err) // presets are constants; a bad one is a programming error caught by tests
	}
	return p
}

func maps(pairs ...string) []AttributeMap {
	out := make([]AttributeMap, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, AttributeMap{SCIM: path(pairs[i]), LDAP: pairs[i+1]})
	}
	return out
}

// openLDAP is the preset for OpenLDAP with the standard inetOrgPerson and
// groupOfNames object classes. Every attribute here exists in the schemas
// core, cosine and inetorgperson.
func openLDAP() Profile {
	return Profile{
		Name:        "openldap",
		DNAttribute: "entryDN",
		Users: Resource{
			Schema:        User(),
			Extensions:    []Schema{EnterpriseUser()},
			ObjectClasses: []string{"inetOrgPerson"},
			RDN:           "uid={userName}",
			ID:            "entryUUID",
			Attributes: maps(
				"userName", "uid",
				"name.formatted", "cn",
				"name.familyName", "sn",
				"name.givenName", "givenName",
				"displayName", "displayName",
				"title", "title",
				"preferredLanguage", "preferredLanguage",
				`emails[type eq "work"].value`, "mail",
				`phoneNumbers[type eq "work"].value`, "telephoneNumber",
				`phoneNumbers[type eq "mobile"].value`, "mobile",
				EnterpriseUserURN+":employeeNumber", "employeeNumber",
				EnterpriseUserURN+":organization", "o",
				EnterpriseUserURN+":department", "departmentNumber",
			),
			Derive: []Derivation{
				{LDAP: "cn", From: []Path{path("name.formatted"), path("displayName"), path("userName")}},
				{LDAP: "sn", From: []Path{path("name.familyName"), path("userName")}},
			},
		},
		Groups: Resource{
			Schema:        Group(),
			ObjectClasses: []string{"groupOfNames"},
			RDN:           "cn={displayName}",
			ID:            "entryUUID",
			Attributes:    maps("displayName", "cn"),
			Members:       "member",
		},
	}
}
