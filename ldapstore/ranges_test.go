package ldapstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/test/samba"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in     string
		want   valueRange
		ranged bool
		bad    bool
	}{
		{"member", valueRange{}, false, false},
		{"member;range=0-1499", valueRange{"member", 0, 1499}, true, false},
		{"member;Range=1500-*", valueRange{"member", 1500, -1}, true, false},
		{"userCertificate;binary", valueRange{}, false, false},
		{"member;range=5-2", valueRange{}, true, true},
		{"member;range=x-*", valueRange{}, true, true},
		{"member;range=0", valueRange{}, true, true},
	}
	for _, tt := range tests {
		got, ranged, err := parseRange(tt.in)
		if got != tt.want || ranged != tt.ranged || (err != nil) != tt.bad {
			t.Errorf("parseRange(%q) = %+v, %v, %v", tt.in, got, ranged, err)
		}
	}
}

// A directory that hands out values 1,500 at a time, as Active Directory
// does: slapd cannot be made to, so fetch is a fake here.
func TestCompleteRanges(t *testing.T) {
	const n, page = 4000, 1500
	all := make([]string, n)
	for i := range all {
		all[i] = fmt.Sprintf("CN=u%d,DC=example,DC=com", i)
	}
	slice := func(low int) *ldap.EntryAttribute {
		high := min(low+page, n) - 1
		name := fmt.Sprintf("member;range=%d-%d", low, high)
		if high == n-1 {
			name = fmt.Sprintf("member;range=%d-*", low)
		}
		vals := all[low : high+1]
		raw := make([][]byte, len(vals))
		for i, v := range vals {
			raw[i] = []byte(v)
		}
		return &ldap.EntryAttribute{Name: name, Values: vals, ByteValues: raw}
	}
	e := &ldap.Entry{DN: "CN=g,DC=example,DC=com", Attributes: []*ldap.EntryAttribute{{Name: "cn", Values: []string{"g"}}, slice(0)}}
	requests := 0
	err := completeRanges(e, func(desc string) (*ldap.Entry, error) {
		requests++
		var low int
		if _, err := fmt.Sscanf(desc, "member;range=%d-*", &low); err != nil {
			t.Fatalf("asked for %q", desc)
		}
		return &ldap.Entry{DN: e.DN, Attributes: []*ldap.EntryAttribute{slice(low)}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := e.GetAttributeValues("member")
	if len(got) != n || got[0] != all[0] || got[n-1] != all[n-1] || requests != 2 || e.GetAttributeValue("cn") != "g" {
		t.Errorf("%d values after %d requests", len(got), requests)
	}
	// A failing follow-up fails the read: never a silently short group.
	e = &ldap.Entry{DN: "CN=g", Attributes: []*ldap.EntryAttribute{slice(0)}}
	if err := completeRanges(e, func(string) (*ldap.Entry, error) { return nil, errors.New("down") }); err == nil {
		t.Error("a failed range read was ignored")
	}
}

// On a real Samba AD DC, a group's members come back whole however they
// are asked: as member (Samba has no 1,500-value cap), as
// member;range=0-* whole under that name, or in explicit ranges the
// reader follows to the end — every shape the reader must take, as Samba
// gives them.
func TestRangesOnSamba(t *testing.T) {
	s := samba.New(t, samba.Options{})
	var ldif strings.Builder
	var want []string
	for i := range 5 {
		dn := fmt.Sprintf("CN=r%d,%s", i, s.PeopleDN)
		fmt.Fprintf(&ldif, "dn: %s\nobjectClass: user\ncn: r%d\nsAMAccountName: r%d\n\n", dn, i, i)
		want = append(want, strings.ToLower(dn))
	}
	ldif.WriteString("dn: CN=big," + s.GroupsDN + "\nobjectClass: group\ncn: big\n")
	for _, dn := range want {
		ldif.WriteString("member: " + dn + "\n")
	}
	if err := s.AddLDIF(context.Background(), ldif.String()); err != nil {
		t.Fatal(err)
	}
	conn, err := openPool(t, poolConfig(s)).Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, asked := range []string{"member", "member;range=0-*", "member;range=0-1", "member;range=0-0"} {
		res, err := conn.Search(context.Background(), ldap.NewSearchRequest("CN=big,"+s.GroupsDN, ldap.ScopeBaseObject, 0, 0, 0, false,
			"(objectClass=*)", []string{asked}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("%s: %v %v", asked, res, err)
		}
		e := res.Entries[0]
		t.Logf("asked %s: Samba answered %v", asked, attrShapes(e))
		if err := ranged(context.Background(), conn, e); err != nil {
			t.Fatalf("%s: %v", asked, err)
		}
		var got []string
		for _, v := range e.GetAttributeValues("member") {
			got = append(got, strings.ToLower(v))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("asked %s: members %q, want %q (attributes %v)", asked, got, want, attrShapes(e))
		}
	}
}

// attrShapes are an entry's attribute names with their numbers of values.
func attrShapes(e *ldap.Entry) []string {
	var out []string
	for _, a := range e.Attributes {
		out = append(out, fmt.Sprintf("%s (%d)", a.Name, len(a.Values)))
	}
	return out
}
