// Package ldap holds scimgate's optional LDAP schema (see README.md here)
// for programs that install it: the test harness and `scimgate dev`.
package ldap

import _ "embed"

// Schema is scimgate.schema, in OpenLDAP's slapd.conf format.
//
//go:embed scimgate.schema
var Schema string

// Schema389DS is 99scimgate-389ds.ldif: the same schema as a modification
// of 389 Directory Server's cn=schema, as ldapmodify applies it.
//
//go:embed 99scimgate-389ds.ldif
var Schema389DS string
