package ldapstore

import (
	"context"

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
