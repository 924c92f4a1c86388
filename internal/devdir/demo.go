package devdir

import "github.com/scimgate/scimgate/internal/directory"

// DemoUsers is the number of users in DemoLDIF.
const DemoUsers = directory.DemoUsers

// DemoLDIF returns demo data below the people and groups units of ds (any
// directory with inetOrgPerson: slapd, 389): DemoUsers inetOrgPerson users
// with names, emails, titles and phone numbers, and a handful of
// groupOfNames groups (directory.DemoLDIF).
func DemoLDIF(ds directory.Server) string {
	return directory.DemoLDIF(ds.Directory(), directory.InetOrgPerson)
}
