package ldapstore

import (
	"context"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Asking for "*": a whole resource's search names every LDAP attribute
// its mapping reads — 45 on the openldap preset — and go-ldap encodes each
// name as a BER element of its own, every request (a tenth of the
// gateway's CPU per look-up, measured: docs/benchmarks.md). "*" and the
// operational attributes by name ask the same of the directory in a few
// names. It is used where that cannot bring a secret the gateway has no
// use for: when the bind DN cannot read the users' userPassword (a
// directory that lets it would send every hash), and not on Active
// Directory, whose objects hold many attributes no mapping reads.

// starSafe reports whether "*" may stand for the user attributes: the
// directory is not Active Directory, and no user's userPassword is
// readable by the bind DN (one search for a user that has one, asking for
// it: a value back means it is readable). It also says why not, for check.
func starSafe(ctx context.Context, conn *Conn, dse *RootDSE, users *Resources) (bool, string) {
	if dse.IsActiveDirectory() {
		return false, ""
	}
	res, err := conn.Search(ctx, ldap.NewSearchRequest(users.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 1, 0, false,
		and(users.class, "(userPassword=*)"), []string{"userPassword"}, nil))
	if res != nil && len(res.Entries) > 0 && len(res.Entries[0].GetEqualFoldAttributeValues("userPassword")) > 0 {
		return false, "the bind DN can read the users' userPassword: searches name each attribute a resource needs " +
			"instead of asking for *, which costs the gateway CPU on every request; deny it read access to userPassword " +
			"(deploy/ldap/README.md)"
	}
	if err != nil && !ldap.IsErrorAnyOf(err, ldap.LDAPResultSizeLimitExceeded, ldap.LDAPResultNoSuchObject) {
		return false, ""
	}
	return true, ""
}

// starAttributes is attrs asked as "*" and the operational ones by name
// (those the directory's schema says are operational, and those it does
// not know).
func (r *Resources) starAttributes(attrs []string) []string {
	out := []string{"*"}
	for _, a := range attrs {
		base, _, _ := strings.Cut(a, ";")
		if at, ok := r.st.ds.Attribute(base); !ok || at.Usage != "" && !strings.EqualFold(at.Usage, "userApplications") {
			out = append(out, a)
		}
	}
	return out
}

// useStar has r read whole resources with "*" (see starSafe).
func (r *Resources) useStar() {
	r.attrs = r.starAttributes(r.m.LDAPAttributes())
	r.derive()
}
