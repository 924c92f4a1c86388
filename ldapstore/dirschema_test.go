package ldapstore

import (
	"context"
	"reflect"
	"testing"

	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/slapd"
)

func TestParseSchema(t *testing.T) {
	s, err := ParseSchema([]string{
		"( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
		"( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'RFC4519: common name(s) for which the entity is known by' SUP name )",
		"( 1.3.6.1.1.16.4 NAME 'entryUUID' DESC 'UUID of the entry' EQUALITY UUIDMatch ORDERING UUIDOrderingMatch SYNTAX 1.3.6.1.1.16.1 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
		"( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
		"( 1.2.840.113556.1.4.2 NAME 'objectGUID' SYNTAX '1.3.6.1.4.1.1466.115.121.1.40' SINGLE-VALUE )",
		"( 1.9.9 NAME 'extra' EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 X-ORIGIN ( 'a' 'b' ) )",
		"( 2.5.4.20 NAME 'telephoneNumber' EQUALITY telephoneNumberMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.50 )",
		"garbage",
	}, []string{
		"( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )",
		"( 2.5.6.6 NAME 'person' SUP top STRUCTURAL MUST ( sn $ cn ) MAY ( userPassword $ telephoneNumber ) )",
		"( 9.9 NAME 'account' SUP person STRUCTURAL MAY uid )",
		"( 9.10 NAME 'extraAux' SUP top AUXILIARY MAY ( extra ) )",
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, m := s.Counts(); n != 7 || m != 4 {
		t.Errorf("counts %d, %d", n, m)
	}
	cn, ok := s.Attribute("commonName")
	if !ok || cn.Name() != "cn" || cn.Equality != "caseIgnoreMatch" || cn.Syntax != "1.3.6.1.4.1.1466.115.121.1.15" || cn.CaseExact() {
		t.Errorf("cn = %+v", cn)
	}
	uuid, _ := s.Attribute("ENTRYUUID")
	if !uuid.SingleValue || !uuid.NoUserModify || uuid.Usage != "directoryOperation" || uuid.Ordering != "UUIDOrderingMatch" {
		t.Errorf("entryUUID = %+v", uuid)
	}
	if g, _ := s.Attribute("objectGUID"); !g.Binary() || !g.SingleValue {
		t.Errorf("objectGUID = %+v", g)
	}
	if x, _ := s.Attribute("extra"); !x.CaseExact() || x.Syntax == "" {
		t.Errorf("extra = %+v", x)
	}
	acct, _ := s.ObjectClass("account")
	if !reflect.DeepEqual(acct.Sup, []string{"person"}) || acct.Kind != "STRUCTURAL" || !reflect.DeepEqual(acct.May, []string{"uid"}) {
		t.Errorf("account = %+v", acct)
	}
	for _, tt := range []struct {
		classes []string
		attr    string
		want    bool
	}{
		{[]string{"account"}, "uid", true},
		{[]string{"account"}, "telephoneNumber", true}, // from person
		{[]string{"account"}, "commonName", true},
		{[]string{"account"}, "extra", false},
		{[]string{"account", "extraAux"}, "extra", true},
		{[]string{"account"}, "entryUUID", true}, // operational
		{[]string{"account"}, "nope", false},
	} {
		if got := s.Allows(tt.classes, tt.attr); got != tt.want {
			t.Errorf("Allows(%v, %s) = %v", tt.classes, tt.attr, got)
		}
	}
	// Active Directory's way: a content rule names user's system auxiliary
	// classes, whose attributes an entry holds without naming the class.
	s.addContentRules([]string{"( 9.9 NAME 'account' AUX extraAux )"})
	if !s.Allows([]string{"account"}, "extra") {
		t.Error("a content rule's auxiliary class does not allow its attributes")
	}
	if aux := s.AuxiliaryFor("extra", nil); aux != "extraAux" {
		t.Errorf("AuxiliaryFor(extra) = %q", aux)
	}
	if _, err := ParseSchema([]string{"nonsense"}, nil); err == nil {
		t.Error("a schema of nonsense parsed")
	}
}

func TestReadSchemaFromSlapd(t *testing.T) {
	s := slapd.New(t, slapd.Options{})
	p := openPool(t, poolConfig(s))
	c, err := p.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	dse, err := c.ReadRootDSE(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ds, err := c.ReadSchema(context.Background(), dse)
	if err != nil {
		t.Fatal(err)
	}
	if !ds.Allows([]string{"inetOrgPerson"}, "telephoneNumber") || !ds.Allows([]string{"inetOrgPerson"}, "mail") || ds.Allows([]string{"inetOrgPerson"}, "memberUid") {
		t.Error("inetOrgPerson's attributes are not what RFC 2798 says")
	}
	for _, name := range []string{"entryUUID", "entryCSN", "entryDN", "memberOf", "createTimestamp"} {
		if a, ok := ds.Attribute(name); !ok || !a.NoUserModify && name != "memberOf" {
			t.Errorf("%s: %+v %v", name, a, ok)
		}
	}
	if mail, _ := ds.Attribute("mail"); mail.CaseExact() {
		t.Errorf("mail is case-exact: %+v", mail)
	}
}

// Active Directory publishes attribute types without matching rules (its
// matching follows the syntax): inferRules gives them their syntax's, so
// that userName eq "…" on userPrincipalName is not refused. The
// descriptions are Samba's, as its subschema gives them.
func TestInferRulesFromSyntax(t *testing.T) {
	ds, err := ParseSchema([]string{
		"( 1.2.840.113556.1.4.656 NAME 'userPrincipalName' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' SINGLE-VALUE )",
		"( 1.2.840.113556.1.4.8 NAME 'userAccountControl' SYNTAX '1.3.6.1.4.1.1466.115.121.1.27' SINGLE-VALUE )",
		"( 2.5.4.31 NAME 'member' SYNTAX '1.3.6.1.4.1.1466.115.121.1.12' )",
		"( 1.2.840.113556.1.4.2 NAME 'objectGUID' SYNTAX '1.3.6.1.4.1.1466.115.121.1.40' SINGLE-VALUE NO-USER-MODIFICATION )",
		"( 1.2.840.113556.1.4.9999 NAME 'opaque' SYNTAX '1.2.840.113556.1.4.907' )",
	}, []string{"( 2.5.6.0 NAME 'top' ABSTRACT )"})
	if err != nil {
		t.Fatal(err)
	}
	ds.inferRules()
	for _, tt := range []struct {
		attr, equality, ordering, substr string
		exact                            bool
	}{
		{"userPrincipalName", "caseIgnoreMatch", "caseIgnoreOrderingMatch", "caseIgnoreSubstringsMatch", false},
		{"userAccountControl", "integerMatch", "integerOrderingMatch", "", false},
		{"member", "distinguishedNameMatch", "", "", false},
		{"objectGUID", "octetStringMatch", "octetStringOrderingMatch", "", true},
		{"opaque", "", "", "", true}, // a security descriptor: no rule
	} {
		a, _ := ds.Attribute(tt.attr)
		if a.Equality != tt.equality || a.Ordering != tt.ordering || a.Substr != tt.substr || a.CaseExact() != tt.exact {
			t.Errorf("%s: %q %q %q exact %v, want %q %q %q %v", tt.attr, a.Equality, a.Ordering, a.Substr, a.CaseExact(), tt.equality, tt.ordering, tt.substr, tt.exact)
		}
	}
}

// Versions come from the version attribute where the directory keeps it,
// else the modification time; 389's entryusn only with its USN plugin on
// (the root DSE's lastusn), which a real 389 cannot be asked to drop in a
// test without a restart: this is a unit test of the choice.
func TestVersionAttribute(t *testing.T) {
	ds, err := ParseSchema([]string{
		"( 2.16.840.1.113730.3.1.2096 NAME 'entryusn' SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
		"( 2.5.18.2 NAME 'modifyTimestamp' EQUALITY generalizedTimeMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE NO-USER-MODIFICATION USAGE directoryOperation )",
	}, []string{"( 2.5.6.0 NAME 'top' ABSTRACT MUST objectClass )"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		version string
		usn     bool
		want    string
		limited bool
	}{
		{"entryusn", true, "entryusn", false},
		{"entryusn", false, "modifyTimestamp", true},
		{"entryCSN", true, "modifyTimestamp", false}, // not in this schema
		{"modifyTimestamp", false, "modifyTimestamp", false},
	}
	for _, tt := range tests {
		st := &state{dse: &RootDSE{USN: tt.usn}, ds: ds}
		got := versionAttribute(st, "users", schema.Resource{Version: tt.version, Modified: "modifyTimestamp"})
		if got != tt.want || (len(st.report.Limits) > 0) != tt.limited {
			t.Errorf("version %s, USN %v: %s, limits %q", tt.version, tt.usn, got, st.report.Limits)
		}
	}
}
