package slapd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestServerWithDemoDataAndTLS(t *testing.T) {
	s := New(t, Options{TLS: true})
	if err := s.AddLDIF(context.Background(), DemoLDIF(s)); err != nil {
		t.Fatal(err)
	}
	c, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(s.PeopleDN, ldap.ScopeSingleLevel, 0, 0, 0, false,
		"(objectClass=inetOrgPerson)", []string{"entryUUID", "memberOf"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != DemoUsers {
		t.Fatalf("%d users, want %d", len(res.Entries), DemoUsers)
	}
	if res.Entries[0].GetAttributeValue("entryUUID") == "" || len(res.Entries[0].GetAttributeValues("memberOf")) == 0 {
		t.Errorf("first user lacks entryUUID or memberOf: %v", res.Entries[0].Attributes)
	}

	// The generated CA verifies the ldaps:// listener.
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tc, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := tc.Bind(s.RootDN, s.Password); err != nil {
		t.Fatal(err)
	}
}
