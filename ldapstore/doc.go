// Package ldapstore keeps SCIM resources in an LDAP directory.
//
// It owns everything that speaks LDAP: the connection pool (pool.go, modelled
// on database/sql: a handle that owns connections, limits them, checks their
// health and reports Stats), the operations with a context (conn.go), the
// translation of SCIM resources to entries and back through a schema.Resource
// mapping (entry.go), SCIM filters to LDAP filters (filter.go), and the
// resource operations themselves (resources.go): create, get, list, delete.
//
// It must not know about HTTP, echo or the SCIM library: it takes a context
// and plain values, and returns resources or errors that errors.Is can match
// against ErrNotFound, ErrExists, ErrInvalid, ErrPrecondition, ErrContention
// and ErrUnavailable; turning those into HTTP statuses is the gateway's work.
package ldapstore
