// Package ldap holds scimgate's optional LDAP schema (see README.md here)
// for programs that install it: the test harness and `scimgate dev`.
package ldap

import _ "embed"

// Schema is scimgate.schema, in OpenLDAP's slapd.conf format.
//
//go:embed scimgate.schema
var Schema string
