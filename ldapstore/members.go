package ldapstore

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// Group membership writes. A change of members is never a rewrite of the
// member list: it adds and deletes exactly the values that change, in the
// one modify that also carries the group's other changes, so that a group
// of 100,000 members costs what a group of one does, and concurrent
// changes of different members never undo each other.

// memberChanges are the member values (DNs) one modify adds and deletes.
type memberChanges struct {
	add, del []string
	// assert: the write must hold the version (If-Match) even when only
	// members change.
	assert bool
}

// apply adds the changes to req, with the permissive-modify control.
func (mc *memberChanges) apply(req *ldap.ModifyRequest, attr string) {
	if len(mc.add) == 0 && len(mc.del) == 0 {
		return
	}
	if len(mc.add) > 0 {
		req.Add(attr, mc.add)
	}
	if len(mc.del) > 0 {
		req.Delete(attr, mc.del)
	}
	req.Controls = append(req.Controls, ldap.NewControlString(OIDPermissiveModify, false, ""))
}

func unknownMembers(ids []string) error {
	return invalidf("members: no user or group has the id %s", strings.Join(ids, ", "))
}

// createMembers returns the member values of a new group from the ids in
// attrs (the placeholder alone when there are none and one is needed), and
// the ids they were looked up from.
func (r *Resources) createMembers(ctx context.Context, conn *Conn, attrs map[string]any) ([]string, map[string]string, error) {
	ids, err := schema.MemberIDs(attrs["members"])
	if err != nil {
		return nil, nil, err
	}
	dns, missing, err := r.memberValues(ctx, conn, ids)
	if err != nil {
		return nil, nil, err
	}
	if len(missing) > 0 {
		return nil, nil, unknownMembers(missing)
	}
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if k := r.valueKey(dns[id]); !seen[k] {
			seen[k] = true
			out = append(out, dns[id])
		}
	}
	if len(out) == 0 && r.m.MemberPlaceholder != "" {
		out = []string{r.m.MemberPlaceholder}
	}
	return out, dns, nil
}

// withoutMembers is the projection that reads a group without its
// members: what a write needs, whatever the size of the group.
func withoutMembers() schema.Projection {
	p, _ := schema.ParseProjection(nil, []string{"members"})
	return p
}

// updateGroup is update for groups: the members change as mops says, by
// additions and deletions of values; the other attributes as next says
// (nil: unchanged). The member list is read only when the members are
// replaced as a whole. It returns the group read back, or with only its id
// and version when quiet.
func (r *Resources) updateGroup(ctx context.Context, id string, pre Precondition, mops schema.MemberOps,
	next func(Resource) (map[string]any, error), quiet bool) (Resource, error) {
	conn, err := r.store.pool.Conn(ctx)
	if err != nil {
		return Resource{}, err
	}
	defer conn.Release()
	rd := r.reading(withoutMembers())
	attrs := append(slices.Clone(rd.attrs), "objectClass")
	if mops.Replace {
		attrs = append(attrs, r.m.Members)
	}
	dns, err := r.opsValues(ctx, conn, mops)
	if err != nil {
		return Resource{}, err
	}
	// Deleting a value that is not there fails (slapd's permissive modify
	// covers only adding one that is): which of the values a removal may
	// delete are members is read with the group, through the matched
	// values control, which returns just those member values.
	candidates := r.deletionCandidates(mops, dns)
	var controls []ldap.Control
	matched := len(candidates) > 0 && r.st.dse.Supports(Feature{OID: OIDMatchedValues})
	if matched {
		if attrs, controls, err = r.matchedMembers(attrs, candidates); err != nil {
			return Resource{}, err
		}
	}
	var currentID string
	var written *memberChanges
	dn, err := r.retry(ctx, pre, func() (string, error) {
		e, err := r.find(ctx, conn, id, attrs, controls...)
		if err != nil {
			return "", err
		}
		read, err := r.read(ctx, conn, []*ldap.Entry{e}, rd)
		if err != nil {
			return "", err
		}
		current := read[0]
		currentID = current.ID
		if !pre.Holds(current.Version) {
			return "", classify("update "+r.kind, ErrPrecondition)
		}
		want := current.Attributes
		if next != nil {
			if want, err = next(current); err != nil {
				return "", err
			}
			if err := r.CheckStorable(want); err != nil {
				return "", err
			}
			if err := r.checkNameChange(current, want); err != nil {
				return "", err
			}
		}
		mc := r.memberChanges(e, mops, dns)
		mc.assert = pre.Set()
		if len(candidates) > 0 {
			if mc.del, err = r.present(ctx, conn, e, mc.del, matched); err != nil {
				return "", err
			}
		}
		if !r.st.dse.PermissiveMembers() && !mops.Replace {
			// Adding a member that is there would fail: add only the others.
			if mc.add, err = r.absent(ctx, conn, e.DN, mc.add); err != nil {
				return "", err
			}
		}
		written = mc
		return r.write(ctx, conn, e, current.Version, want, mc)
	})
	if err != nil {
		return Resource{}, err
	}
	if err := r.settleMembers(ctx, conn, dn, written.add, written.del, dns); err != nil {
		return Resource{}, err
	}
	if quiet {
		version, err := r.reread(ctx, conn, dn)
		return Resource{ID: currentID, Version: version}, err
	}
	e, err := r.readDN(ctx, conn, dn)
	if err != nil {
		return Resource{}, err
	}
	r.indexWrote(e)
	return r.resource(ctx, conn, e)
}

// opsValues resolves the member ids of mops to member values; ids added
// that name no possible member are a 400 naming them, ids removed may be
// gone.
func (r *Resources) opsValues(ctx context.Context, conn *Conn, mops schema.MemberOps) (map[string]string, error) {
	added := append(slices.Clone(mops.Add), mops.ReplaceWith...)
	dns, _, err := r.memberValues(ctx, conn, append(slices.Clone(added), mops.Remove...))
	if err != nil {
		return nil, err
	}
	var unknown []string
	for _, id := range added {
		if dns[id] == "" {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, unknownMembers(unknown)
	}
	return dns, nil
}

// matchedMembers is the reading of a group's attrs with, of its members,
// only the candidates: the attributes to ask and the matched values
// control.
func (r *Resources) matchedMembers(attrs, candidates []string) ([]string, []ldap.Control, error) {
	filters := make([]string, 0, len(attrs)+len(candidates))
	for _, a := range attrs {
		filters = append(filters, "("+a+"=*)")
	}
	for _, dn := range candidates {
		filters = append(filters, "("+r.m.Members+"="+ldap.EscapeFilter(dn)+")")
	}
	mv, err := newMatchedValues(filters)
	if err != nil {
		return nil, nil, err
	}
	return append(slices.Clone(attrs), r.m.Members), []ldap.Control{mv}, nil
}

// settleMembers follows a write of a group's member values, added and
// removed: the added members that no longer exist are taken out again
// (keepAdded; ids maps the ids of the write to their values), and the
// others' gateway-kept memberOf is written.
func (r *Resources) settleMembers(ctx context.Context, conn *Conn, groupDN string, added, removed []string, ids map[string]string) error {
	kept, err := r.keepAdded(ctx, conn, groupDN, added, ids)
	if err != nil {
		return err
	}
	return r.syncMemberOf(ctx, conn, groupDN, kept, removed)
}

// keepAddedRounds bounds how often keepAdded follows members renamed while
// they were added.
const keepAddedRounds = 3

// keepAdded makes sure that the member values a write just added to the
// group still name entries, and returns those that do. A member deleted
// (or renamed) after its id was looked up and before the write would
// otherwise stay behind as a value naming nothing: the directory's
// referential integrity ran before the value was there, and a new entry
// created later under the same name would inherit the membership. One
// search (per lookupBatch values) finds the entries; a value that names
// none is deleted from the group, and where its id still names an entry
// (renamed) that entry's value is added in its stead and checked in turn.
// Afterwards the group is as if the member's deletion had come just after
// the write. ids maps the ids of the write to their values.
func (r *Resources) keepAdded(ctx context.Context, conn *Conn, groupDN string, added []string, ids map[string]string) ([]string, error) {
	idOf := make(map[string]string, len(ids))
	for id, v := range ids {
		idOf[r.valueKey(v)] = id
	}
	var kept []string
	pending := slices.DeleteFunc(slices.Clone(added), func(v string) bool { return idOf[r.valueKey(v)] == "" }) // the placeholder
	for round := 0; len(pending) > 0; round++ {
		found, err := r.membersOf(ctx, conn, pending, false)
		if err != nil {
			return nil, err
		}
		var gone, goneIDs []string
		for _, v := range pending {
			if _, ok := found[r.valueKey(v)]; ok {
				kept = append(kept, v)
			} else {
				gone, goneIDs = append(gone, v), append(goneIDs, idOf[r.valueKey(v)])
			}
		}
		pending = nil
		if len(gone) > 0 && round < keepAddedRounds {
			moved, _, err := r.memberValues(ctx, conn, goneIDs)
			if err != nil {
				return nil, err
			}
			for id, v := range moved {
				if i := slices.IndexFunc(gone, func(g string) bool { return r.valueKey(g) == r.valueKey(v) }); i >= 0 {
					gone = slices.Delete(gone, i, i+1) // found by its id after all: it stays
					kept = append(kept, v)
					continue
				}
				idOf[r.valueKey(v)] = id
				pending = append(pending, v)
			}
		}
		if err := r.swapValues(ctx, conn, groupDN, gone, pending); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// swapValues adds the member values add to the group and deletes del, one
// value a modify: what keepAdded mends is rare. A group already gone, a
// value already gone, is no error.
func (r *Resources) swapValues(ctx context.Context, conn *Conn, groupDN string, del, add []string) error {
	batch := [][]string{add} // permissively, at once
	if !r.st.dse.PermissiveMembers() {
		batch = nil // one a modify, a value already there being no error
		for _, v := range add {
			batch = append(batch, []string{v})
		}
	}
	for _, values := range batch {
		if len(values) == 0 {
			continue
		}
		req := ldap.NewModifyRequest(groupDN, []ldap.Control{ldap.NewControlString(OIDPermissiveModify, false, "")})
		req.Add(r.m.Members, values)
		if err := conn.Modify(ctx, req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) && !r.valueExists(err) {
			return classify("add members to "+groupDN, err)
		}
	}
	for _, v := range del {
		if err := r.deleteValue(ctx, conn, groupDN, v); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// valueExists reports whether err says a value added is already there:
// 20, or 68 from Active Directory for member values.
func (r *Resources) valueExists(err error) bool {
	return ldap.IsErrorWithCode(err, ldap.LDAPResultAttributeOrValueExists) ||
		r.st.dse.IsActiveDirectory() && ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists)
}

// deleteValue deletes one member value from a group, putting the
// placeholder in where it was the last (and one is needed); a value that
// is not there is no error.
func (r *Resources) deleteValue(ctx context.Context, conn *Conn, groupDN, value string) error {
	req := ldap.NewModifyRequest(groupDN, nil)
	req.Delete(r.m.Members, []string{value})
	err := conn.Modify(ctx, req)
	if err != nil && r.m.MemberPlaceholder != "" && ldap.IsErrorWithCode(err, ldap.LDAPResultObjectClassViolation) {
		req.Add(r.m.Members, []string{r.m.MemberPlaceholder}) // its last member
		err = conn.Modify(ctx, req)
	}
	if err != nil && !r.valueMissing(err) {
		return classify("remove "+value+" from "+groupDN, err)
	}
	r.store.groupRefs.forget(groupDN)
	return nil
}

// memberChanges turns member operations into the values to add and
// delete: for a replace, the difference with the current members of e.
func (r *Resources) memberChanges(e *ldap.Entry, mops schema.MemberOps, dns map[string]string) *memberChanges {
	mc := &memberChanges{}
	placeholder := r.m.MemberPlaceholder
	if mops.Replace {
		current := map[string]string{}
		for _, v := range e.GetEqualFoldAttributeValues(r.m.Members) {
			current[r.valueKey(v)] = v
		}
		wanted := map[string]bool{}
		for _, id := range mops.ReplaceWith {
			k := r.valueKey(dns[id])
			if !wanted[k] {
				wanted[k] = true
				if _, has := current[k]; !has {
					mc.add = append(mc.add, dns[id])
				}
			}
		}
		if placeholder != "" && len(wanted) == 0 {
			wanted[dnKey(placeholder)] = true
			if _, has := current[dnKey(placeholder)]; !has {
				mc.add = append(mc.add, placeholder)
			}
		}
		for k, dn := range current {
			if !wanted[k] {
				mc.del = append(mc.del, dn)
			}
		}
		slices.Sort(mc.del)
		return mc
	}
	for _, id := range mops.Add {
		mc.add = append(mc.add, dns[id])
	}
	for _, id := range mops.Remove {
		if dn := dns[id]; dn != "" {
			mc.del = append(mc.del, dn)
		}
	}
	if placeholder != "" && len(mc.add) > 0 {
		mc.del = append(mc.del, placeholder) // if it is there (present), and if it is gone by the modify, write reads again
	}
	return mc
}

// deletionCandidates are the values a non-replacing change may delete:
// the members removed, and the placeholder when members are added.
func (r *Resources) deletionCandidates(mops schema.MemberOps, dns map[string]string) []string {
	if mops.Replace {
		return nil
	}
	var out []string
	for _, id := range mops.Remove {
		if dn := dns[id]; dn != "" {
			out = append(out, dn)
		}
	}
	if len(mops.Add) > 0 && r.m.MemberPlaceholder != "" {
		out = append(out, r.m.MemberPlaceholder)
	}
	return out
}

// present keeps of the member values dels those that the group e has: as
// the matched values control returned them, or, where the directory lacks
// that control, by comparing each.
func (r *Resources) present(ctx context.Context, conn *Conn, e *ldap.Entry, dels []string, matched bool) ([]string, error) {
	var out []string
	if matched {
		has := map[string]bool{}
		for _, v := range e.GetEqualFoldAttributeValues(r.m.Members) {
			has[r.valueKey(v)] = true
		}
		for _, dn := range dels {
			if has[r.valueKey(dn)] {
				out = append(out, dn)
			}
		}
		return out, nil
	}
	for _, dn := range dels {
		ok, err := conn.Compare(ctx, e.DN, r.m.Members, dn)
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
			return nil, classify("compare member", err)
		}
		if ok {
			out = append(out, dn)
		}
	}
	return out, nil
}

// absent returns the member values of adds that the group at dn does not
// hold, one compare a value: where the directory has no permissive modify
// for members (389 DS, Active Directory), adding one that is there fails.
func (r *Resources) absent(ctx context.Context, conn *Conn, dn string, adds []string) ([]string, error) {
	var out []string
	for _, v := range adds {
		ok, err := conn.Compare(ctx, dn, r.m.Members, v)
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
			return nil, classify("compare member", err)
		}
		if !ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// MemberList is a group's members as their DNs, resolved a batch at a time
// (lookupBatch DNs, one search), so that a response can be written as it is
// read: memory holds the DNs and one batch, not every member resolved.
type MemberList struct {
	r       *Resources
	dns     []string
	display bool
	next    int
}

// Len is the number of member values (members since deleted included).
func (m *MemberList) Len() int { return len(m.dns) }

// Next resolves the next batch of members, leaving out those that no
// longer exist; it returns nil when there are no more.
func (m *MemberList) Next(ctx context.Context) ([]Member, error) {
	for m.next < len(m.dns) {
		batch := m.dns[m.next:min(m.next+lookupBatch, len(m.dns))]
		m.next += len(batch)
		conn, err := m.r.store.pool.Conn(ctx)
		if err != nil {
			return nil, err
		}
		found, err := m.r.membersOf(ctx, conn, batch, m.display)
		conn.Release()
		if err != nil {
			return nil, err
		}
		out := make([]Member, 0, len(batch))
		for _, v := range batch {
			if mem, ok := found[m.r.valueKey(v)]; ok {
				out = append(out, mem)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	return nil, nil
}

// GetStreamed returns the group with the given id without its members and,
// when the projection wants them, the members to read batch by batch.
func (r *Resources) GetStreamed(ctx context.Context, id string, p schema.Projection) (Resource, *MemberList, error) {
	conn, err := r.store.pool.Conn(ctx)
	if err != nil {
		return Resource{}, nil, err
	}
	defer conn.Release()
	rd := r.reading(p)
	e, err := r.find(ctx, conn, id, rd.attrs)
	if err != nil {
		return Resource{}, nil, err
	}
	wantMembers := rd.members
	rd.members = false
	read, err := r.read(ctx, conn, []*ldap.Entry{e}, rd)
	if err != nil {
		return Resource{}, nil, err
	}
	if !wantMembers {
		return read[0], nil, nil
	}
	dns := e.GetEqualFoldAttributeValues(r.m.Members)
	if ph := r.m.MemberPlaceholder; ph != "" {
		dns = slices.DeleteFunc(dns, func(dn string) bool { return r.valueKey(dn) == r.valueKey(ph) })
	}
	if len(dns) == 0 {
		return read[0], nil, nil // no members: unassigned, not an empty list
	}
	return read[0], &MemberList{r: r, dns: dns, display: rd.memberDisplay}, nil
}

// valueKey normalises a member value for comparison: a DN as dnKey, an
// attribute value (posixGroup's uid) lower-cased.
func (r *Resources) valueKey(v string) string {
	if r.m.MemberValue == "" {
		return dnKey(v)
	}
	return strings.ToLower(v)
}

// memberValues turns member ids into the values the group's member
// attribute holds: the DNs of users or groups, or the users' MemberValue
// attribute. It returns, sorted, the ids that name no possible member.
func (r *Resources) memberValues(ctx context.Context, conn *Conn, ids []string) (map[string]string, []string, error) {
	if len(ids) == 0 {
		return map[string]string{}, nil, nil
	}
	if r.m.MemberValue == "" {
		return idsToDNs(ctx, conn, ids, r.st.users, r.st.groups)
	}
	users := r.st.users
	entries, err := users.lookup(ctx, conn, users.m.ID, ids, []string{r.m.MemberValue})
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]string, len(ids))
	var missing []string
	for _, id := range ids {
		v := ""
		if e, ok := entries[strings.ToLower(id)]; ok {
			v = e.GetEqualFoldAttributeValue(r.m.MemberValue)
		}
		if v == "" {
			missing = append(missing, id)
			continue
		}
		out[id] = v
	}
	slices.Sort(missing)
	return out, missing, nil
}

// membersOf turns member values into members, keyed by valueKey: DNs
// resolved among users and groups, or users looked up by MemberValue.
func (r *Resources) membersOf(ctx context.Context, conn *Conn, values []string, display bool) (refs, error) {
	if r.m.MemberValue == "" {
		return r.store.resolve(ctx, conn, values, nil, display)
	}
	if len(values) == 0 {
		return nil, nil
	}
	users := r.st.users
	attrs := []string{users.m.ID}
	if display {
		attrs = append(attrs, users.displayAttributes()...)
	}
	entries, err := users.lookup(ctx, conn, r.m.MemberValue, values, attrs)
	if err != nil {
		return nil, err
	}
	out := make(refs, len(entries))
	for key, e := range entries {
		id, err := users.idOf(e)
		if err != nil {
			continue
		}
		m := Member{ID: id, Type: users.kind, DN: e.DN}
		if display {
			m.Display = users.displayOf(e)
		}
		out[key] = m
	}
	return out, nil
}

// removeMember takes the deleted entry e out of every group it was in, one
// modify per group, where the directory does not (RemoveDeletedMembers).
func (r *Resources) removeMember(ctx context.Context, conn *Conn, e *ldap.Entry) error {
	value := e.DN
	if r.m.MemberValue != "" {
		if value = e.GetEqualFoldAttributeValue(r.m.MemberValue); value == "" {
			return nil
		}
	}
	var dns []string
	err := conn.pagedSearch(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&"+r.class+"("+r.m.Members+"="+ldap.EscapeFilter(value)+"))", []string{"1.1"}, nil), scanPageSize, func(g *ldap.Entry) error {
		dns = append(dns, g.DN)
		return nil
	})
	if err != nil {
		return classify("find the groups of "+e.DN+" (it is deleted)", err)
	}
	for _, dn := range dns {
		if err := r.deleteValue(ctx, conn, dn, value); err != nil {
			return err
		}
	}
	return nil
}

// syncMemberOf keeps the members' MaintainMemberOf attribute in step with
// a group's members where the gateway, not the directory, keeps it: one
// modify per member changed, adding (permissively) or deleting the group's
// DN, nothing read first. Only users have it: a group that is a member is
// left alone. A member that is gone, or that no longer lists the group, is
// no error. An error leaves the group written: the client's
// retry of the same request completes the members' side.
func (r *Resources) syncMemberOf(ctx context.Context, conn *Conn, groupDN string, added, removed []string) error {
	attr := r.m.MaintainMemberOf
	if attr == "" {
		return nil
	}
	users := r.st.users.base
	change := func(dn string, add bool) error {
		if r.m.MemberPlaceholder != "" && dnKey(dn) == dnKey(r.m.MemberPlaceholder) {
			return nil
		}
		if parsed, err := ldap.ParseDN(dn); err != nil || !users.AncestorOfFold(parsed) {
			return nil // users have memberOf; a group member (a nested group) has none
		}
		req := ldap.NewModifyRequest(dn, nil)
		if add {
			req.Add(attr, []string{groupDN})
			req.Controls = append(req.Controls, ldap.NewControlString(OIDPermissiveModify, false, ""))
		} else {
			req.Delete(attr, []string{groupDN})
		}
		err := conn.Modify(ctx, req)
		if err == nil || ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchObject, ldap.LDAPResultNoSuchAttribute, ldap.LDAPResultAttributeOrValueExists) {
			return nil
		}
		return classify("update "+attr+" of "+dn, err)
	}
	for _, dn := range added {
		if err := change(dn, true); err != nil {
			return err
		}
	}
	for _, dn := range removed {
		if err := change(dn, false); err != nil {
			return err
		}
	}
	return nil
}
