package ldapstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// write changes entry e (read at version) to hold attrs, in one modify that
// carries only the differences and asserts the version; a change of the
// naming value renames the entry first (a modify DN, also asserted). It
// returns the entry's DN afterwards, or errChanged if the entry changed
// since it was read. All or nothing: when the modify (or the password
// after it) fails, the rename is undone.
//
// mc, for groups, adds and deletes member values in the same modify, with
// the permissive-modify control (adding a member twice or deleting an
// absent one is no error). Then the version is asserted only when an
// attribute changes or mc.assert says so (If-Match): concurrent member
// changes never conflict.
func (r *Resources) write(ctx context.Context, conn *Conn, e *ldap.Entry, version string, attrs map[string]any, mc *memberChanges) (string, error) {
	r.store.groupRefs.forget(e.DN) // its name may change
	next, err := r.toValues(ctx, conn, attrs, e)
	if err != nil {
		return "", err
	}
	n, err := r.naming(e, attrs)
	if err != nil {
		return "", err
	}
	assert, err := r.versionAssertion(version)
	if err != nil {
		return "", err
	}
	renamed := !strings.EqualFold(n.old, n.new)
	if renamed {
		if e, assert, err = r.rename(ctx, conn, e, n, attrs, assert); err != nil {
			return "", err
		}
	}
	next.prepend(n.attr, n.new)
	if err := r.modify(ctx, conn, e, next, assert, mc, attrs); err != nil {
		if renamed {
			if uerr := r.undoRename(ctx, conn, e.DN, n); uerr != nil {
				return "", errors.Join(err, uerr)
			}
		}
		return "", err
	}
	return e.DN, nil
}

// rdnChange is an entry's naming (RDN) attribute with its value before and
// after a write, and the DN of its parent.
type rdnChange struct {
	attr     string
	path     schema.Path
	old, new string
	parent   string
	// hadNew: the naming attribute already held the new value besides
	// the old one (a multi-valued cn), which undoing a rename keeps.
	hadNew bool
}

// naming reads e's name and the one attrs give it: an entry named by its
// id keeps its name.
func (r *Resources) naming(e *ldap.Entry, attrs map[string]any) (rdnChange, error) {
	attr, path, _ := r.m.RDNAttribute()
	n := rdnChange{attr: attr, path: path, new: valueAt(attrs, path)}
	byID := path == (schema.Path{Attr: "id"}) // named by its id: never renamed
	if n.new == "" && !byID {
		return rdnChange{}, &schema.PatchError{ScimType: "mutability", Msg: path.String() + " is required"}
	}
	parsed, err := ldap.ParseDN(e.DN)
	if err != nil || len(parsed.RDNs) == 0 {
		return rdnChange{}, classify("update "+r.kind, err)
	}
	for _, ava := range parsed.RDNs[0].Attributes {
		if strings.EqualFold(ava.Type, attr) {
			n.old = ava.Value
		}
	}
	if byID {
		n.new = n.old
	}
	parent := *parsed
	parent.RDNs = parsed.RDNs[1:]
	n.parent = parent.String()
	n.hadNew = slices.ContainsFunc(e.GetEqualFoldAttributeValues(attr), func(v string) bool { return strings.EqualFold(v, n.new) })
	return n, nil
}

// rename gives e its new name with a modify DN that asserts its version,
// and returns the entry as renamed, with the assertion of the version the
// rename made, which the modify that follows asserts.
func (r *Resources) rename(ctx context.Context, conn *Conn, e *ldap.Entry, n rdnChange, attrs map[string]any, assert []ldap.Control) (*ldap.Entry, []ldap.Control, error) {
	id, _ := r.idOf(e)
	if err := r.checkUnique(ctx, conn, attrs, n.path, id); err != nil {
		return nil, nil, err
	}
	newRDN := rdn(n.attr, n.new)
	if err := conn.ModifyDN(ctx, ldap.NewModifyDNWithControlsRequest(e.DN, newRDN, true, "", assert)); err != nil {
		return nil, nil, r.refused("rename "+r.kind, err, n.new)
	}
	dn := newRDN + "," + n.parent
	renamed, err := conn.Search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{r.m.Version}, nil))
	if err == nil && len(renamed.Entries) != 1 {
		err = ErrNotFound
	}
	if err == nil {
		assert, err = r.versionAssertion(renamed.Entries[0].GetEqualFoldAttributeValue(r.m.Version))
	}
	if err != nil {
		err = classify("read renamed "+r.kind, err)
		if uerr := r.undoRename(ctx, conn, dn, n); uerr != nil {
			return nil, nil, errors.Join(err, uerr)
		}
		return nil, nil, err
	}
	// The naming value is already in place, as the rename wrote it.
	current := append([]string{n.new}, without(e.GetEqualFoldAttributeValues(n.attr), n.old)...)
	return ldap.NewEntry(dn, entryValues(e, n.attr, current)), assert, nil
}

// undoRename gives the entry at dn its old name back, after a write that
// renamed it failed; the directory's referential integrity follows it back
// as it followed the rename. It runs even when the request's context has
// ended: the entry must not keep half a change.
func (r *Resources) undoRename(ctx context.Context, conn *Conn, dn string, n rdnChange) error {
	r.store.groupRefs.forget(dn)
	req := ldap.NewModifyDNRequest(dn, rdn(n.attr, n.old), !n.hadNew, "")
	if err := conn.ModifyDN(context.WithoutCancel(ctx), req); err != nil {
		return classify("undo the rename of "+r.kind+" "+dn, err)
	}
	return nil
}

// modify writes the differences between e and next in one modify request
// asserting the version (assert), with mc's member changes, then the
// password attrs may hold; a refused password puts back what the modify
// changed.
func (r *Resources) modify(ctx context.Context, conn *Conn, e *ldap.Entry, next values, assert []ldap.Control, mc *memberChanges, attrs map[string]any) error {
	req, undo := r.changes(e, next, assert)
	if mc != nil {
		if len(req.Changes) == 0 && !mc.assert {
			req.Controls = nil // only members change: nothing to conflict with
		}
		mc.apply(req, r.m.Members)
	}
	if len(req.Changes) > 0 {
		err := conn.Modify(ctx, req)
		if err != nil && mc != nil && r.m.MemberPlaceholder != "" && len(mc.del) > 0 &&
			ldap.IsErrorWithCode(err, ldap.LDAPResultObjectClassViolation) {
			// The deletions would empty a group that must have a member.
			req.Add(r.m.Members, []string{r.m.MemberPlaceholder})
			err = conn.Modify(ctx, req)
		}
		if err != nil && r.valueMissing(err) && (mc != nil && len(mc.del) > 0 || hasDeletions(req)) {
			// A value to delete went away since the entry was read (a
			// concurrent change took the placeholder or the member out, or
			// changed an attribute this write makes conditional on its
			// values): read again and recompute.
			return errChanged
		}
		if err != nil && mc != nil && len(mc.add) > 0 && r.valueExists(err) {
			// A member added meanwhile (the directory has no permissive
			// modify for members): read again and recompute.
			return errChanged
		}
		if err != nil {
			return r.refused("update "+r.kind, err, "")
		}
	}
	pw, ok := password(attrs)
	if !ok || r.m.Password == nil || r.m.Password.Kind != schema.PasswordExtended {
		return nil
	}
	if err := r.setPassword(ctx, conn, e.DN, pw, next); err != nil {
		// All or nothing: put back what the modify changed.
		if len(undo) > 0 {
			back := ldap.NewModifyRequest(e.DN, nil)
			back.Changes = undo
			if uerr := conn.Modify(context.WithoutCancel(ctx), back); uerr != nil {
				return errors.Join(err, classify("undo update "+r.kind, uerr))
			}
		}
		return err
	}
	return nil
}

// changes is the modify request that makes e hold next, asserting the
// version, and the changes that would undo it.
//
// Where the directory has no assertion control (389 DS, Active
// Directory), each attribute that changes is instead conditional on its
// own values: the values read are deleted by value and the new ones added,
// in the one modify, so that if another writer changed the attribute in
// between, the deletion fails (noSuchAttribute) and nothing is written:
// the entry is read again (errChanged). Attributes without an equality
// rule cannot be deleted by value and are replaced.
func (r *Resources) changes(e *ldap.Entry, next values, assert []ldap.Control) (*ldap.ModifyRequest, []ldap.Change) {
	req := ldap.NewModifyRequest(e.DN, assert)
	classes := e.GetEqualFoldAttributeValues("objectClass")
	byValue := !r.st.dse.Supports(Feature{OID: OIDAssertion})
	var undo []ldap.Change
	for _, attr := range r.managed(next) {
		old, want := e.GetEqualFoldRawAttributeValues(attr), next.get(attr)
		if sameValues(old, want) {
			continue
		}
		undo = append(undo, ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attr, Vals: strs(old)}})
		conditional := byValue && len(old) > 0 && r.comparable(attr)
		switch {
		case len(want) == 0 && len(old) == 0:
			undo = undo[:len(undo)-1]
		case len(want) == 0 && conditional:
			req.Delete(attr, strs(old))
		case len(want) == 0:
			req.Delete(attr, nil)
		default:
			if aux := r.auxiliaryFor(classes, attr); aux != "" && !slices.ContainsFunc(classes, func(c string) bool { return strings.EqualFold(c, aux) }) {
				classes = append(classes, aux)
				req.Add("objectClass", []string{aux})
			}
			if conditional {
				req.Delete(attr, strs(old))
				req.Add(attr, want)
			} else {
				req.Replace(attr, want)
			}
		}
	}
	return req, undo
}

// valueMissing reports whether err says a value to delete is not there:
// 16, or 53 from Active Directory for member values.
func (r *Resources) valueMissing(err error) bool {
	return ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) ||
		r.st.dse.IsActiveDirectory() && ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform)
}

// hasDeletions reports whether req deletes values by value.
func hasDeletions(req *ldap.ModifyRequest) bool {
	return slices.ContainsFunc(req.Changes, func(c ldap.Change) bool {
		return c.Operation == ldap.DeleteAttribute && len(c.Modification.Vals) > 0
	})
}

// comparable reports whether the directory can delete values of attr by
// value: whether it has an equality rule for it.
func (r *Resources) comparable(attr string) bool {
	if r.st == nil || r.st.ds == nil {
		return false
	}
	base, _, _ := strings.Cut(attr, ";")
	at, ok := r.st.ds.Attribute(base)
	return ok && at.Equality != ""
}

// managed lists the LDAP attributes a write may change: those the mapping
// writes, and a password attribute when one is being set. Others on the
// entry are never touched.
func (r *Resources) managed(next values) []string {
	out := r.m.WrittenAttributes()
	if p := r.m.Password; p != nil && p.Attribute != "" && len(next.get(p.Attribute)) > 0 {
		out = append(out, p.Attribute)
	}
	return out
}

// setPassword sets a password with the Password Modify extended operation
// (RFC 3062), so that the directory hashes it under its own policy. A
// password reset also clears a ppolicy lock, so an inactive user's lock
// (in want) is put back.
func (r *Resources) setPassword(ctx context.Context, conn *Conn, dn, pw string, want values) error {
	err := conn.do(ctx, "passwordmodify", func() error {
		_, err := conn.c.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", pw))
		return err
	})
	if ldap.IsErrorAnyOf(err, ldap.LDAPResultConstraintViolation, ldap.LDAPResultUnwillingToPerform) {
		// The server's own words stay in the log (the error wraps them).
		return fmt.Errorf("%w: %w", &InvalidError{Msg: "The directory refused the password: it does not meet the password policy."}, err)
	}
	if err != nil {
		return classify("set password", err)
	}
	if a := r.m.Active; a != nil && a.Kind == schema.ActiveLock {
		if lock := want.get(a.Attribute); len(lock) > 0 {
			relock := ldap.NewModifyRequest(dn, nil)
			relock.Replace(a.Attribute, lock)
			return classify("lock "+r.kind, conn.Modify(ctx, relock))
		}
	}
	return nil
}

// longName is the length in bytes above which a naming value may be more
// than a directory can index as a DN: OpenLDAP's mdb holds about 240.
const longName = 200

// refused classifies a failed write of values: an add or a modify DN that
// gives the entry the naming value name, or a modify (name ""). An
// assertion that no longer holds means the entry changed since it was
// read (errChanged); a value the directory refuses is an ErrInvalid that
// names its SCIM attribute where the directory's diagnostic names the LDAP
// attribute.
//
// Result 80 (other) says nothing of its cause. OpenLDAP's mdb answers it,
// with no diagnostic, for a naming value too long for its DN index; it
// answers it too when its database is full or failing ("txn_commit
// failed", "entry store failed", or nothing). So a value is blamed only
// when all of these hold: the write gives the entry a name (add or
// modify DN), that name is longer than longName bytes (a name within
// max_name_length characters that is not ASCII), and the diagnostic is
// empty or names the DN index. Every other result 80 is the server's
// failure, answered 500 and logged as an error: a 400 would send the
// client to change a value that is not the cause. The one case left
// ambiguous — a database that fills up at the instant it indexes a long
// name — is answered 400 for that request, and the next write shows the
// failure.
func (r *Resources) refused(op string, err error, name string) error {
	var le *ldap.Error
	errors.As(err, &le)
	_, rdnPath, _ := r.m.RDNAttribute()
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultAssertionFailed):
		return errChanged
	case ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists):
		return classify(op, &ExistsError{Attr: r.takenIn(le, rdnPath.String())})
	case ldap.IsErrorWithCode(err, ldap.LDAPResultOther) && len(name) > longName &&
		(le.Err == nil || le.Err.Error() == "" || strings.Contains(le.Err.Error(), "DN index")):
		return fmt.Errorf("%s: %w: %w", op, invalidf("The directory refused %s: at %d bytes it is too long for the directory to store.", rdnPath, len(name)), err)
	}
	err = classify(op, err)
	var ie *InvalidError
	if errors.Is(err, ErrInvalid) && !errors.As(err, &ie) && le != nil && le.Err != nil {
		if why, ok := r.passwordRefused(le.Err.Error()); ok {
			return fmt.Errorf("%w: %w", invalidf("The directory's password policy refused the password: %s", why), err)
		}
		if attr := r.attributeIn(le.Err.Error()); attr != "" {
			return fmt.Errorf("%w: %w", invalidf("The directory refused the value of %s.", attr), err)
		}
	}
	return err
}

// takenIn names what an entryAlreadyExists result says is taken: a derived
// attribute its diagnostic names (Active Directory: "samAccountName 'dave'
// already in use", derived from userName: two userNames alike before the
// @), else the naming attribute rdn.
func (r *Resources) takenIn(le *ldap.Error, rdn string) string {
	if le == nil || le.Err == nil {
		return rdn
	}
	for _, w := range diagnosticWords(le.Err.Error()) {
		for _, d := range r.m.Derive {
			if strings.EqualFold(d.LDAP, w) {
				from := strings.NewReplacer("{", "", "}", "").Replace(strings.Join(d.From, " "))
				return fmt.Sprintf("%s (derived from %s)", d.LDAP, from)
			}
		}
	}
	return rdn
}

// passwordRefused reports whether a directory's diagnostic refuses a
// password (Active Directory's 0000052D, or one naming the password
// attribute), and why, as the directory put it without its error code.
func (r *Resources) passwordRefused(diagnostic string) (string, bool) {
	pw := r.m.Password
	if pw == nil {
		return "", false
	}
	named := pw.Attribute != "" && slices.ContainsFunc(diagnosticWords(diagnostic), func(w string) bool { return strings.EqualFold(w, pw.Attribute) })
	if !strings.Contains(diagnostic, "0000052D") && !named {
		return "", false
	}
	_, why, found := strings.Cut(diagnostic, " - ")
	if !found {
		why = diagnostic
	}
	return strings.TrimSpace(why), true
}

// diagnosticWords splits a directory's diagnostic into the words an
// attribute name could be.
func diagnosticWords(diagnostic string) []string {
	return strings.FieldsFunc(diagnostic, func(c rune) bool {
		return !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
	})
}

// attributeIn returns the SCIM attribute whose LDAP attribute a directory's
// diagnostic names ("userCertificate;binary: value #0 invalid per syntax",
// "object class 'inetOrgPerson' requires attribute 'sn'"), or "".
func (r *Resources) attributeIn(diagnostic string) string {
	for _, w := range diagnosticWords(diagnostic) {
		for _, m := range r.m.Attributes {
			if base, _, _ := strings.Cut(m.LDAP, ";"); strings.EqualFold(base, w) {
				return schema.Path{URN: m.SCIM.URN, Attr: m.SCIM.Attr, Sub: m.SCIM.Sub}.String()
			}
		}
	}
	return ""
}

// sameValues compares LDAP values in order: the first is the primary one.
func sameValues(old [][]byte, want []string) bool {
	if len(old) != len(want) {
		return false
	}
	for i := range old {
		if string(old[i]) != want[i] {
			return false
		}
	}
	return true
}

func strs(b [][]byte) []string {
	out := make([]string, len(b))
	for i, v := range b {
		out[i] = string(v)
	}
	return out
}

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if !strings.EqualFold(x, s) {
			out = append(out, x)
		}
	}
	return out
}

// entryValues copies e's values with attr's replaced.
func entryValues(e *ldap.Entry, attr string, vals []string) map[string][]string {
	out := map[string][]string{}
	for _, a := range e.Attributes {
		if !strings.EqualFold(a.Name, attr) {
			out[a.Name] = strs(a.ByteValues)
		}
	}
	out[attr] = vals
	return out
}
