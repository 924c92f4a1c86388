package directory

import (
	"reflect"
	"testing"
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
