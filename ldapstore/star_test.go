package ldapstore

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/test/slapd"
)

// A whole resource is asked as "*" and the operational attributes by name
// only where the bind DN cannot read the users' userPassword; where it
// can, by name, and check says how to change that.
func TestStarAttributes(t *testing.T) {
	const user = "dn: uid=ada,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: ada\ncn: Ada\nsn: L\nuserPassword: secret-ada\n"
	tests := []struct {
		name string
		acls []string
		star bool
	}{
		{"the account reads userPassword", nil, false},
		{"userPassword hidden from it", []string{"access to attrs=userPassword by self write by anonymous auth by * none"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := slapd.New(t, slapd.Options{ServiceAccount: true, ACLs: tt.acls, LDIF: user})
			cfg := poolConfig(dir)
			cfg.BindDN, cfg.BindPassword = dir.ServiceDN, dir.ServicePassword
			st, err := NewStore(openPool(t, cfg), Options{Profile: preset(t, "openldap"),
				Users: UsersConfig{ResourceConfig: ResourceConfig{BaseDN: dir.PeopleDN}}, Groups: GroupsConfig{ResourceConfig: ResourceConfig{BaseDN: dir.GroupsDN}}})
			if err != nil {
				t.Fatal(err)
			}
			report, err := st.Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			u := users(t, st)
			if got := u.whole.attrs[0] == "*"; got != tt.star {
				t.Errorf("asks %v, want * %v", u.whole.attrs, tt.star)
			}
			said := slices.ContainsFunc(report.Limits, func(l string) bool { return strings.Contains(l, "can read the users' userPassword") })
			if said == tt.star {
				t.Errorf("check's limits %q", report.Limits)
			}
			if tt.star && !slices.Equal(u.whole.attrs, []string{"*", "entryUUID", "entryCSN", "createTimestamp", "modifyTimestamp", "memberOf"}) {
				t.Errorf("asks %q", u.whole.attrs)
			}
			// Either way, a user reads the same, without the password.
			p, err := u.List(context.Background(), Query{Filter: mustFilter(t, `userName eq "ada"`), StartIndex: 1, Count: 10})
			if err != nil || len(p.Resources) != 1 {
				t.Fatalf("ada: %v %v", p, err)
			}
			if a := p.Resources[0].Attributes; a["userName"] != "ada" || a["password"] != nil || a["name"] == nil {
				t.Errorf("ada: %v", a)
			}
		})
	}
}
