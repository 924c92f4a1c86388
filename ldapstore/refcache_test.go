package ldapstore

import (
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func TestRefCache(t *testing.T) {
	c := newRefCache(time.Minute, 3)
	c.put(refs{dnKey("cn=A,ou=g"): {ID: "a"}, dnKey("cn=B,ou=g"): {ID: "b"}})
	found, missing := c.get([]string{"CN=a, ou=G", "cn=C,ou=g"})
	if found[dnKey("cn=a,ou=g")].ID != "a" || len(missing) != 1 || missing[0] != "cn=C,ou=g" {
		t.Errorf("get = %v, missing %v", found, missing)
	}
	c.forget("cn=a,ou=g")
	if _, missing := c.get([]string{"cn=A,ou=g"}); len(missing) != 1 {
		t.Error("a forgotten DN is still known")
	}
	c.put(refs{"x": {}, "y": {}}) // over max: starts afresh
	if len(c.entries) > 3 {
		t.Errorf("%d entries over a maximum of 3", len(c.entries))
	}
	old := newRefCache(-time.Second, 10)
	old.put(refs{dnKey("cn=A,ou=g"): {ID: "a"}})
	if _, missing := old.get([]string{"cn=A,ou=g"}); len(missing) != 1 {
		t.Error("an expired entry was returned")
	}
}

// The fast path of dnKey gives what parsing gives.
func TestDNKey(t *testing.T) {
	for _, dn := range []string{
		"cn=Team One,ou=groups,dc=example,dc=org", "CN=A,OU=G", "uid=a.b-c_d@x,ou=people,dc=x", "cn=a=b,dc=x",
		"cn=x, ou=y", "cn = x,ou=y", "cn=a+sn=b,dc=x", `cn=a\,b,dc=x`, "cn=zoë,dc=x", "cn=#1,dc=x", " cn=x", "cn=x ",
	} {
		parsed, err := ldap.ParseDN(dn)
		want := strings.ToLower(dn)
		if err == nil {
			want = strings.ToLower(parsed.String())
		}
		if got := dnKey(dn); got != want {
			t.Errorf("dnKey(%q) = %q, want %q", dn, got, want)
		}
	}
}
