package ldapstore

import (
	"context"
	"fmt"
	"regexp"
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
	{Name: "password modify", OID: OIDPasswordModify, Extended: true},
}

// RootDSE is what a directory says of itself (RFC 4512 section 5.1).
type RootDSE struct {
	VendorName          string
	VendorVersion       string
	NamingContexts      []string
	SupportedControls   []string
	SupportedExtensions []string
	SubschemaSubentry   string

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
	return &RootDSE{
		VendorName:          e.GetEqualFoldAttributeValue("vendorName"),
		VendorVersion:       e.GetEqualFoldAttributeValue("vendorVersion"),
		NamingContexts:      e.GetEqualFoldAttributeValues("namingContexts"),
		SupportedControls:   e.GetEqualFoldAttributeValues("supportedControl"),
		SupportedExtensions: e.GetEqualFoldAttributeValues("supportedExtension"),
		SubschemaSubentry:   e.GetEqualFoldAttributeValue("subschemaSubentry"),
		openLDAPClass:       strings.EqualFold(e.GetEqualFoldAttributeValue("structuralObjectClass"), "OpenLDAProotDSE"),
	}, nil
}

// DirectorySchema is the set of attribute types and object classes a
// directory defines, by every one of their names, case-insensitively.
type DirectorySchema struct {
	attributeTypes map[string]bool
	objectClasses  map[string]bool
}

// HasAttribute reports whether the directory defines the attribute type.
func (s *DirectorySchema) HasAttribute(name string) bool {
	return s.attributeTypes[strings.ToLower(name)]
}

// HasObjectClass reports whether the directory defines the object class.
func (s *DirectorySchema) HasObjectClass(name string) bool {
	return s.objectClasses[strings.ToLower(name)]
}

// Counts returns how many attribute type and object class names are defined.
func (s *DirectorySchema) Counts() (attributeTypes, objectClasses int) {
	return len(s.attributeTypes), len(s.objectClasses)
}

// ReadSchema reads the subschema subentry named by the root DSE (RFC 4512
// section 4.2).
func (c *Conn) ReadSchema(ctx context.Context, dse *RootDSE) (*DirectorySchema, error) {
	dn := dse.SubschemaSubentry
	if dn == "" {
		dn = "cn=Subschema"
	}
	res, err := c.Search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=subschema)", []string{"attributeTypes", "objectClasses"}, nil))
	if err != nil {
		return nil, classify("read schema "+dn, err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("read schema %s: %d entries", dn, len(res.Entries))
	}
	e := res.Entries[0]
	return &DirectorySchema{
		attributeTypes: schemaNames(e.GetEqualFoldAttributeValues("attributeTypes")),
		objectClasses:  schemaNames(e.GetEqualFoldAttributeValues("objectClasses")),
	}, nil
}

// nameRE finds the NAME of an RFC 4512 definition: NAME 'cn' or
// NAME ( 'cn' 'commonName' ).
var nameRE = regexp.MustCompile(`\bNAME\s+(?:'([^']+)'|\(\s*((?:'[^']+'\s*)+)\))`)

func schemaNames(defs []string) map[string]bool {
	names := make(map[string]bool, len(defs))
	for _, d := range defs {
		m := nameRE.FindStringSubmatch(d)
		if m == nil {
			continue
		}
		if m[1] != "" {
			names[strings.ToLower(m[1])] = true
			continue
		}
		for _, n := range strings.Fields(m[2]) {
			names[strings.ToLower(strings.Trim(n, "'"))] = true
		}
	}
	return names
}
