// Package ldapstore keeps SCIM resources in an LDAP directory.
//
// It owns everything that speaks LDAP:
//
//   - the connection pool (pool.go, modelled on database/sql: a handle that
//     owns connections, limits them, checks their health and reports Stats)
//     and the operations with a context (conn.go, controls.go, errors.go);
//   - what the directory is: its root DSE and controls (rootdse.go), its
//     schema (dirschema.go), the store that loads both and shapes the
//     mapping to them, with what it reports to `scimgate check` (store.go,
//     limits.go, star.go, check.go), and configuration (config.go);
//   - the translation of SCIM resources to entries and back through a
//     schema.Resource mapping (entry.go; storable.go refuses what cannot be
//     kept; manager.go resolves manager references) and of SCIM filters to
//     LDAP filters (filter.go, jsonfilter.go);
//   - the resource operations: create, get, replace, patch, delete
//     (resources.go), the write itself — conditional on the version or on
//     the values it changes — (modify.go, frozen.go), group members (members.go,
//     ranges.go for Active Directory's ranged values, refcache.go);
//   - lists and searches: snapshots of the order of large results
//     (search.go, snapshots.go, scans.go) and the order index kept from the
//     directory's change stream (index.go, indexlist.go, stream.go; the
//     stream itself is package changes).
//
// It must not know about HTTP, echo or the SCIM library: it takes a context
// and plain values, and returns resources or errors that errors.Is can match
// against ErrNotFound, ErrExists, ErrInvalid, ErrPrecondition, ErrContention
// and ErrUnavailable; turning those into HTTP statuses is the gateway's work.
package ldapstore
