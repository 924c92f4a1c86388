package ldapstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Controls and extended operations scimgate can use, by OID.
const (
	OIDPagedResults     = "1.2.840.113556.1.4.319"
	OIDServerSideSort   = "1.2.840.113556.1.4.473"
	OIDVLV              = "2.16.840.1.113730.3.4.9"
	OIDAssertion        = "1.3.6.1.1.12"
	OIDPermissiveModify = "1.2.840.113556.1.4.1413"
	OIDPreRead          = "1.3.6.1.1.13.1"
	OIDPostRead         = "1.3.6.1.1.13.2"
	OIDPasswordModify   = "1.3.6.1.4.1.4203.1.11.1"
	OIDMatchedValues    = "1.2.826.0.1.3344810.2.3"
	OIDContentSync      = "1.3.6.1.4.1.4203.1.9.1.1" // RFC 4533: the change stream
)

// Feature is a control or extended operation that check reports on.
type Feature struct {
	Name     string
	OID      string
	Extended bool // an extended operation rather than a control
}

// Features lists what `scimgate check` reports, in display order.
var Features = []Feature{
	{Name: "paged results", OID: OIDPagedResults},
	{Name: "server-side sort", OID: OIDServerSideSort},
	{Name: "virtual list view", OID: OIDVLV},
	{Name: "assertion", OID: OIDAssertion},
	{Name: "permissive modify", OID: OIDPermissiveModify},
	{Name: "matched values", OID: OIDMatchedValues},
	{Name: "password modify", OID: OIDPasswordModify, Extended: true},
	{Name: "content sync (change stream)", OID: OIDContentSync},
}

// RootDSE is what a directory says of itself (RFC 4512 section 5.1).
type RootDSE struct {
	VendorName          string
	VendorVersion       string
	NamingContexts      []string
	SupportedControls   []string
	SupportedExtensions []string
	// SupportedCapabilities is Active Directory's list (and Samba's).
	SupportedCapabilities []string
	SubschemaSubentry     string
	// USN: the directory numbers its changes, as 389's USN plugin does
	// (lastusn;<backend> in the root DSE, entryusn on each entry).
	USN bool

	openLDAPClass bool
}

// Supports reports whether the server lists f.
func (d *RootDSE) Supports(f Feature) bool {
	list := d.SupportedControls
	if f.Extended {
		list = d.SupportedExtensions
	}
	for _, oid := range list {
		if oid == f.OID {
			return true
		}
	}
	return false
}

// IsOpenLDAP guesses from the root DSE whether the server is OpenLDAP,
// which lists no vendorName but a structural object class of its own.
func (d *RootDSE) IsOpenLDAP() bool {
	return strings.Contains(strings.ToLower(d.VendorName), "openldap") || d.openLDAPClass
}

// OIDActiveDirectory is the capability Active Directory (and Samba as an
// AD domain controller) lists in supportedCapabilities.
const OIDActiveDirectory = "1.2.840.113556.1.4.800"

// IsActiveDirectory reports whether the server says it is Active
// Directory (Samba's AD DC says so too).
func (d *RootDSE) IsActiveDirectory() bool {
	return slices.Contains(d.SupportedCapabilities, OIDActiveDirectory)
}

// Is389 reports whether the server says it is 389 Directory Server (or
// Red Hat Directory Server, which names the same vendor).
func (d *RootDSE) Is389() bool { return d.VendorName == "389 Project" }

// MatchesBySyntax reports whether the server matches values of an
// attribute type that names no matching rule by its syntax's rules, as
// Active Directory (which names none) and 389 (nsUniqueId, nsAccountLock,
// entryusn) do.
func (d *RootDSE) MatchesBySyntax() bool { return d.IsActiveDirectory() || d.Is389() }

// PermissiveMembers reports whether adding a member value that is there,
// or deleting one that is not, is no error: the permissive modify control
// is listed and applies to member values (Active Directory lists it but
// not for linked attributes such as member: 68 and 53).
func (d *RootDSE) PermissiveMembers() bool {
	return d.Supports(Feature{OID: OIDPermissiveModify}) && !d.IsActiveDirectory()
}

// ReadRootDSE reads the root DSE.
func (c *Conn) ReadRootDSE(ctx context.Context) (*RootDSE, error) {
	res, err := c.Search(ctx, ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"*", "+"}, nil))
	if err != nil {
		return nil, classify("read root DSE", err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("read root DSE: %d entries", len(res.Entries))
	}
	e := res.Entries[0]
	usn := false
	for _, a := range e.Attributes {
		usn = usn || strings.HasPrefix(strings.ToLower(a.Name), "lastusn")
	}
	return &RootDSE{
		USN:                   usn,
		VendorName:            e.GetEqualFoldAttributeValue("vendorName"),
		VendorVersion:         e.GetEqualFoldAttributeValue("vendorVersion"),
		NamingContexts:        e.GetEqualFoldAttributeValues("namingContexts"),
		SupportedControls:     e.GetEqualFoldAttributeValues("supportedControl"),
		SupportedExtensions:   e.GetEqualFoldAttributeValues("supportedExtension"),
		SupportedCapabilities: e.GetEqualFoldAttributeValues("supportedCapabilities"),
		SubschemaSubentry:     e.GetEqualFoldAttributeValue("subschemaSubentry"),
		openLDAPClass:         strings.EqualFold(e.GetEqualFoldAttributeValue("structuralObjectClass"), "OpenLDAProotDSE"),
	}, nil
}
