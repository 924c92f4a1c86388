package schema

import (
	"fmt"
	"strings"
)

// Limits is the "limits" section of the configuration: bounds on what a
// resource may hold, enforced on every write (create, PUT, PATCH, and
// each of them inside /Bulk) before any work.
//
//	limits:
//	  max_values: 1000   # values of one multi-valued attribute (emails, roles, ...); a group's members are not counted
type Limits struct {
	// MaxValues is the most values one multi-valued attribute of a
	// resource (emails, phoneNumbers, roles, entitlements, ...) may hold;
	// a write that would leave more gets 400 invalidValue naming the
	// attribute. A PATCH may still change an attribute that already holds
	// more, as long as it does not grow it. A group's members are not
	// bounded by it: groups of 100,000 members are legitimate (a request's
	// members are bounded by server.max_body_bytes instead).
	MaxValues int `yaml:"max_values"`
}

// DefaultLimits returns the defaults of the limits section. Entra ID and
// Active Directory hold far fewer values than this in any attribute.
func DefaultLimits() Limits { return Limits{MaxValues: 1000} }

// Validate reports a problem, naming its key.
func (l Limits) Validate() error {
	if l.MaxValues < 1 || l.MaxValues > 1_000_000 {
		return fmt.Errorf("limits.max_values: %d is not between 1 and 1000000", l.MaxValues)
	}
	return nil
}

// Counted reports whether the multi-valued attribute named of schema urn
// is bounded by MaxValues: every one but a group's members.
func Counted(urn, name string) bool {
	return !(strings.EqualFold(urn, GroupURN) && strings.EqualFold(name, "members"))
}
