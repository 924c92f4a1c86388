package ldapstore

import (
	"testing"
	"time"
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
