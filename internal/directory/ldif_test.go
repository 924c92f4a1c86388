package directory

import (
	"reflect"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestParseLDIF(t *testing.T) {
	got, err := ParseLDIF("# comment\ndn: uid=a,dc=x\nobjectClass: top\nobjectClass: person\ncn: long\n  name\nsn:: w6k=\n\ndn: uid=b,dc=x\ncn: b\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{DN: "uid=a,dc=x", Attributes: []Attribute{{"objectClass", []string{"top", "person"}}, {"cn", []string{"long name"}}, {"sn", []string{"é"}}}},
		{DN: "uid=b,dc=x", Attributes: []Attribute{{"cn", []string{"b"}}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseLDIF = %+v\nwant %+v", got, want)
	}
	if _, err := ParseLDIF("cn: no dn\n"); err == nil {
		t.Error("a record without dn parsed")
	}
}

func TestParseChanges(t *testing.T) {
	got, err := ParseChanges("# comment\ndn: cn=a,dc=x\nchangetype: modify\nreplace: on\non: yes\n-\nadd: attr\nattr: 1\nattr:: w6k=\n-\ndelete: old\n\ndn: cn=b,dc=x\nchangetype: modify\nadd: v\nv: long\n  value\n")
	if err != nil {
		t.Fatal(err)
	}
	a := ldap.NewModifyRequest("cn=a,dc=x", nil)
	a.Replace("on", []string{"yes"})
	a.Add("attr", []string{"1", "é"})
	a.Delete("old", nil)
	b := ldap.NewModifyRequest("cn=b,dc=x", nil)
	b.Add("v", []string{"long value"})
	if want := []*ldap.ModifyRequest{a, b}; !reflect.DeepEqual(got, want) {
		t.Errorf("ParseChanges = %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"cn: no dn\n", "dn: cn=a\nchangetype: add\n", "dn: cn=a\nmodify: x\n", "dn: cn=a\nadd: x\ny: 1\n"} {
		if _, err := ParseChanges(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
