package ldapstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// What the directory makes weaker than it could be, found when the store
// loads and reported by `scimgate check` and at start (Report.Limits).

// weaknesses lists the directory's limits on what the gateway does.
func (s *Store) weaknesses(ctx context.Context, conn *Conn, st *state) []string {
	var out []string
	dse := st.dse
	if pw := st.users.m.Password; pw != nil && pw.Kind == schema.PasswordUnicodePwd && !s.pool.tls() {
		out = append(out, "passwords go to unicodePwd, which Active Directory accepts only over TLS: "+
			"use an ldaps:// URL or ldap.start_tls")
	}
	if n, limited := sizeLimit(ctx, conn, st.users); limited {
		out = append(out, fmt.Sprintf("the directory stops the bind DN's searches after %d entries: "+
			"lists and searches matching more users are refused (400 tooMany); lift its size limit (deploy/ldap/README.md)", n))
	}
	if dse.Is389() {
		out = append(out, ds389Limits(ctx, conn, s.pool.cfg.BindDN)...)
		if pw := st.users.m.Password; pw != nil && pw.Kind == schema.PasswordExtended && !s.pool.tls() {
			out = append(out, "389 Directory Server refuses the Password Modify operation in clear: passwords cannot be set "+
				"without an ldaps:// URL or ldap.start_tls")
		}
	}
	if dse.IsActiveDirectory() {
		out = append(out, "Active Directory: permissive modify does not cover member values (adding one that is there is 68), "+
			"so the values to add are compared first, one Compare each; and when AD itself takes a deleted user out of a group, "+
			"the group's uSNChanged, so its ETag, does not move (docs/directories.md)")
	}
	if s.search.Index != IndexOff && s.follower(st, st.users, nil) == nil {
		out = append(out, "the directory streams no changes (RFC 4533 content sync: OpenLDAP's syncprov overlay, "+
			"389's content sync plugin; Active Directory's DirSync): lists keep no order index and take snapshots, whose first page costs a pass over the matches "+
			"(seconds past a few hundred thousand); see docs/search.md")
	}
	if !dse.Supports(Feature{OID: OIDAssertion}) {
		out = append(out, "the directory lacks the assertion control: If-Match is checked when the entry is read and each write "+
			"is conditional on the values it changes, so a concurrent write of other attributes between the two is not detected "+
			"(docs/directories.md)")
	}
	return out
}

// sizeLimit reports whether the directory stops a paged search of the
// users before sizeProbe entries, as slapd's default limit of 500 does for
// every DN but the root DN, and after how many.
func sizeLimit(ctx context.Context, conn *Conn, users *Resources) (int, bool) {
	const sizeProbe = 1001
	n := 0
	errEnough := errors.New("enough")
	err := conn.pagedSearch(ctx, ldap.NewSearchRequest(users.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		users.class, []string{"1.1"}, nil), scanPageSize, func(*ldap.Entry) error {
		if n++; n >= sizeProbe {
			return errEnough
		}
		return nil
	})
	return n, ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || ldap.IsErrorWithCode(err, ldap.LDAPResultAdminLimitExceeded)
}

// ds389Limits are the per-account limits 389 Directory Server applies to
// the bind DN's searches (its server defaults: 2,000 entries returned,
// 5,000 looked through, and an index candidate list past 4,000 treated as
// unindexed), read from the bind DN's own entry, where an operator lifts
// them. The server defaults themselves sit in cn=config, which an
// ordinary account cannot read.
func ds389Limits(ctx context.Context, conn *Conn, bindDN string) []string {
	if bindDN == "" {
		return nil
	}
	lift := []struct{ attr, want, what string }{
		{"nsSizeLimit", "-1", "searches stop after 2,000 entries (400 tooMany)"},
		{"nsLookThroughLimit", "-1", "searches stop after looking through 5,000 entries"},
		{"nsPagedSizeLimit", "-1", "paged searches stop at the size limit"},
		{"nsIDListScanLimit", "1000000", "a filter matching more than 4,000 entries in an index is run unindexed"},
	}
	attrs := make([]string, len(lift))
	for i, l := range lift {
		attrs[i] = l.attr
	}
	res, err := conn.Search(ctx, ldap.NewSearchRequest(bindDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", attrs, nil))
	if err != nil || len(res.Entries) != 1 {
		return []string{fmt.Sprintf("389 Directory Server: cannot read the bind DN's limits (%s) on its entry %s: "+
			"make sure they are lifted (docs/directories.md)", strings.Join(attrs, ", "), bindDN)}
	}
	var missing []string
	for _, l := range lift {
		if v := res.Entries[0].GetEqualFoldAttributeValue(l.attr); v == "" || (l.want == "-1" && v != "-1") {
			missing = append(missing, fmt.Sprintf("%s: %s (%s)", l.attr, l.want, l.what))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return []string{"389 Directory Server limits the bind DN's searches: set on " + bindDN + " " + strings.Join(missing, "; ") +
		" (docs/directories.md)"}
}
