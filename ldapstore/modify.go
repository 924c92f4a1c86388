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
// since it was read.
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
	rdnAttr, rdnPath, _ := r.m.RDNAttribute()
	newName := valueAt(attrs, rdnPath)
	byID := rdnPath == (schema.Path{Attr: "id"}) // named by its id: never renamed
	if newName == "" && !byID {
		return "", &schema.PatchError{ScimType: "mutability", Msg: rdnPath.String() + " is required"}
	}
	assert, err := r.versionAssertion(version)
	if err != nil {
		return "", err
	}
	dn := e.DN
	parsed, err := ldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 {
		return "", classify("update "+r.kind, err)
	}
	oldName := ""
	for _, ava := range parsed.RDNs[0].Attributes {
		if strings.EqualFold(ava.Type, rdnAttr) {
			oldName = ava.Value
		}
	}
	if byID {
		newName = oldName
	}
	if !strings.EqualFold(oldName, newName) {
		id, _ := r.idOf(e)
		if err := r.checkUnique(ctx, conn, attrs, rdnPath, id); err != nil {
			return "", err
		}
		newRDN := rdn(rdnAttr, newName)
		if err := conn.ModifyDN(ctx, ldap.NewModifyDNWithControlsRequest(dn, newRDN, true, "", assert)); err != nil {
			if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
				return "", classify("rename "+r.kind, &ExistsError{Attr: rdnPath.String()})
			}
			return "", writeError("rename "+r.kind, err)
		}
		parent := *parsed
		parent.RDNs = parsed.RDNs[1:]
		dn = newRDN + "," + parent.String()
		// The rename made a new version; the modify asserts that one.
		renamed, err := conn.Search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{r.m.Version}, nil))
		if err != nil || len(renamed.Entries) != 1 {
			return "", classify("read renamed "+r.kind, err)
		}
		if assert, err = r.versionAssertion(renamed.Entries[0].GetEqualFoldAttributeValue(r.m.Version)); err != nil {
			return "", err
		}
		// The naming value is already in place, as the rename wrote it.
		current := append([]string{newName}, without(e.GetEqualFoldAttributeValues(rdnAttr), oldName)...)
		e = ldap.NewEntry(dn, entryValues(e, rdnAttr, current))
	}
	next.prepend(rdnAttr, newName)

	req := ldap.NewModifyRequest(dn, assert)
	classes := e.GetEqualFoldAttributeValues("objectClass")
	var undo []ldap.Change
	for _, attr := range r.managed(next) {
		old, want := e.GetEqualFoldRawAttributeValues(attr), next.get(attr)
		if sameValues(old, want) {
			continue
		}
		if len(want) == 0 {
			if len(old) > 0 {
				req.Delete(attr, nil)
				undo = append(undo, ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attr, Vals: strs(old)}})
			}
			continue
		}
		if aux := r.auxiliaryFor(classes, attr); aux != "" && !slices.ContainsFunc(classes, func(c string) bool { return strings.EqualFold(c, aux) }) {
			classes = append(classes, aux)
			req.Add("objectClass", []string{aux})
		}
		req.Replace(attr, want)
		undo = append(undo, ldap.Change{Operation: ldap.ReplaceAttribute, Modification: ldap.PartialAttribute{Type: attr, Vals: strs(old)}})
	}
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
		if err != nil && mc != nil && len(mc.del) > 0 && ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
			// A value to delete went away since the group was read (a
			// concurrent change took the placeholder or the member out):
			// read again and recompute.
			return "", errChanged
		}
		if err != nil {
			return "", writeError("update "+r.kind, err)
		}
	}
	if pw, ok := password(attrs); ok && r.m.Password != nil && r.m.Password.Kind == schema.PasswordExtended {
		if err := r.setPassword(ctx, conn, dn, pw, next); err != nil {
			// All or nothing: put back what the modify changed.
			if len(undo) > 0 {
				back := ldap.NewModifyRequest(dn, nil)
				back.Changes = undo
				if uerr := conn.Modify(context.WithoutCancel(ctx), back); uerr != nil {
					return "", errors.Join(err, classify("undo update "+r.kind, uerr))
				}
			}
			return "", err
		}
	}
	return dn, nil
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

// writeError classifies a failed write: an assertion that no longer holds
// means the entry changed since it was read.
func writeError(op string, err error) error {
	if ldap.IsErrorWithCode(err, ldap.LDAPResultAssertionFailed) {
		return errChanged
	}
	if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		return classify(op, &ExistsError{Attr: "userName"})
	}
	return classify(op, err)
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
