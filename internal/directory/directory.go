// Package directory is what one needs of a running directory server,
// whichever program it is: where it is and how to administer it (Info), an
// LDIF reader to load entries (AddLDIF), and demo data (DemoLDIF). It is
// used by `scimgate dev` through internal/devdir, and by the test
// harnesses through test/directory: test/slapd (OpenLDAP), test/ds389 (389
// Directory Server) and test/samba (Samba as an Active Directory domain
// controller) each embed an Info, so that a test written against Info runs
// on any of them.
//
// It knows nothing of scimgate.
package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Info says where a running directory is and how to administer it.
type Info struct {
	// URL is what a client dials: ldap:// or, where the directory requires
	// TLS for what scimgate does (Samba: simple binds, unicodePwd),
	// ldaps://.
	URL string
	// CAFile is the PEM certificate of the CA that signed the server's
	// certificate, which names the URL's host ("" without TLS).
	CAFile string

	Suffix   string // the naming context
	RootDN   string // an administrator: slapd's rootdn, 389's Directory Manager, AD's Administrator
	Password string // RootDN's
	PeopleDN string // the unit of the test users
	GroupsDN string // the unit of the test groups
	// ServiceDN and ServicePassword are the account a deployment would
	// bind scimgate as, where the test asked for one.
	ServiceDN       string
	ServicePassword string
}

// Server is a running directory of any kind.
type Server interface {
	Directory() *Info
}

// Directory returns i: a type embedding an Info is a Server.
func (i *Info) Directory() *Info { return i }

// TLSConfig verifies the server's certificate with CAFile; nil without
// one.
func (i *Info) TLSConfig() (*tls.Config, error) {
	if i.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(i.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no certificate in " + i.CAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Dial returns a connection to URL bound as RootDN.
func (i *Info) Dial() (*ldap.Conn, error) { return i.DialAs(i.RootDN, i.Password) }

// DialAs returns a connection to URL bound as dn with password.
func (i *Info) DialAs(dn, password string) (*ldap.Conn, error) {
	cfg, err := i.TLSConfig()
	if err != nil {
		return nil, err
	}
	var opts []ldap.DialOpt
	if cfg != nil && strings.HasPrefix(i.URL, "ldaps://") {
		opts = append(opts, ldap.DialWithTLSConfig(cfg))
	}
	c, err := ldap.DialURL(i.URL, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.Bind(dn, password); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// AddLDIF adds the entries of an LDIF text (see ParseLDIF) as RootDN, in
// order.
func (i *Info) AddLDIF(ctx context.Context, text string) error {
	entries, err := ParseLDIF(text)
	if err != nil || len(entries) == 0 {
		return err
	}
	c, err := i.Dial()
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	defer c.Close()
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		req := ldap.NewAddRequest(e.DN, nil)
		for _, a := range e.Attributes {
			req.Attribute(a.Name, a.Values)
		}
		if err := c.Add(req); err != nil {
			return fmt.Errorf("directory: add %s: %w", e.DN, err)
		}
	}
	return nil
}

// BindAccount is the account scimgate binds as: the service account, or
// RootDN without one.
func (i *Info) BindAccount() (dn, password string) {
	if i.ServiceDN != "" {
		return i.ServiceDN, i.ServicePassword
	}
	return i.RootDN, i.Password
}

// GatewayEnv is the environment that points scimgate at the directory:
// the URL (and CA), the account, the people and groups units.
func (i *Info) GatewayEnv() []string {
	dn, pw := i.BindAccount()
	env := []string{
		"SCIMGATE_LDAP_URLS=" + i.URL,
		"SCIMGATE_LDAP_BIND_DN=" + dn,
		"SCIMGATE_LDAP_BIND_PASSWORD=" + pw,
		"SCIMGATE_USERS_BASE_DN=" + i.PeopleDN,
		"SCIMGATE_GROUPS_BASE_DN=" + i.GroupsDN,
	}
	if i.CAFile != "" && strings.HasPrefix(i.URL, "ldaps://") {
		env = append(env, "SCIMGATE_LDAP_CA_FILE="+i.CAFile)
	}
	return env
}
