package ldapstore

import (
	"context"
	"fmt"

	"github.com/go-ldap/ldap/v3"
)

// Exists reports whether an entry with the given DN exists.
func (c *Conn) Exists(ctx context.Context, dn string) (bool, error) {
	_, err := c.Search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"1.1"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return false, nil
	}
	if err != nil {
		return false, classify("read "+dn, err)
	}
	return true, nil
}

// CheckSchema lists every attribute type and object class that the store's
// mappings use and the directory does not define, one error each, naming
// the SCIM attribute that needs it.
func (s *Store) CheckSchema(ds *DirectorySchema) []error {
	var problems []error
	for _, r := range []struct {
		section string
		res     *Resources
	}{{"users", s.Users}, {"groups", s.Groups}} {
		m := r.res.m
		missing := func(what, name, usedFor string) {
			problems = append(problems, fmt.Errorf("%s mapping: %s: the directory has no %s %q", r.section, usedFor, what, name))
		}
		for _, oc := range m.ObjectClasses {
			if !ds.HasObjectClass(oc) {
				missing("object class", oc, "new entries")
			}
		}
		if !ds.HasAttribute(m.ID) {
			missing("attribute type", m.ID, "id")
		}
		for _, am := range m.Attributes {
			if !ds.HasAttribute(am.LDAP) {
				missing("attribute type", am.LDAP, am.SCIM.String())
			}
		}
		for _, d := range m.Derive {
			if !ds.HasAttribute(d.LDAP) {
				missing("attribute type", d.LDAP, "derived value")
			}
		}
		if m.Members != "" && !ds.HasAttribute(m.Members) {
			missing("attribute type", m.Members, "members")
		}
	}
	if s.dnAttribute != "" && !ds.HasAttribute(s.dnAttribute) {
		problems = append(problems, fmt.Errorf("directory profile: member look-ups by DN need attribute type %q, which the directory lacks", s.dnAttribute))
	}
	return problems
}
