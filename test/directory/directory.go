// Package directory is what the integration tests need of a running
// directory server, whichever program it is: test/slapd (OpenLDAP),
// test/ds389 (389 Directory Server) and test/samba (Samba as an Active
// Directory domain controller) each embed an Info, so that a test written
// against Info runs on any of them.
//
// Info, the LDIF readers and the demo data live in internal/directory,
// which `scimgate dev` uses too; this package names them for the tests and
// adds what only tests need: the rule of CI (CheckStarted) and NewFor.
//
// It knows nothing of scimgate.
package directory

import "github.com/scimgate/scimgate/internal/directory"

type (
	// Info says where a running directory is and how to administer it.
	Info = directory.Info
	// Server is a running directory of any kind.
	Server = directory.Server
	// Dialect is how a directory program spells users and groups.
	Dialect = directory.Dialect
)

// The dialects of DemoLDIF.
const (
	InetOrgPerson   = directory.InetOrgPerson
	ActiveDirectory = directory.ActiveDirectory
)

// DemoLDIF returns demo data below i's people and groups units, in the
// directory's dialect (internal/directory.DemoLDIF).
func DemoLDIF(i *Info, d Dialect) string { return directory.DemoLDIF(i, d) }
