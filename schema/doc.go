// Package schema holds scimgate's model of SCIM: the resource schemas of
// RFC 7643 (User, Group, the Enterprise User extension) as plain data, and the
// declarative mapping that says which LDAP attribute stores which SCIM
// attribute, with a preset per directory profile.
//
// It is pure data and pure functions. It must not know about LDAP connections
// or controls (that is package ldapstore) nor about HTTP, echo or the SCIM
// library (that is package gateway): attribute names of LDAP appear here only
// as strings in a mapping.
package schema
