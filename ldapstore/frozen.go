package ldapstore

import (
	"context"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// Frozen attributes (Precondition.Frozen): what a caller acting for the
// user itself (/Me) may not change. The check compares what would be
// written to the directory with what the entry holds, so that sending a
// frozen attribute unchanged is no error, however it is spelt.

// frozenSet is Precondition.Frozen for look-ups: lower-cased names.
type frozenSet map[string]bool

func newFrozenSet(names []string) frozenSet {
	out := make(frozenSet, len(names))
	for _, n := range names {
		out[strings.ToLower(n)] = true
	}
	return out
}

// has reports whether the SCIM path p (its attribute, whatever the
// sub-attribute) is frozen; core is the URN of the core schema.
func (f frozenSet) has(p schema.Path, core string) string {
	if p.URN == "" || strings.EqualFold(p.URN, core) {
		if f[strings.ToLower(p.Attr)] {
			return p.Attr
		}
		return ""
	}
	switch {
	case f[strings.ToLower(p.URN)]:
		return p.URN
	case f[strings.ToLower(p.URN+":"+p.Attr)]:
		return p.URN + ":" + p.Attr
	}
	return ""
}

// keepFrozen copies into next, a replacement of a resource, the frozen
// attributes it does not hold, from current: a PUT that leaves one out
// keeps it rather than clearing it.
func keepFrozen(frozen []string, current, next map[string]any) {
	for _, name := range frozen {
		if strings.EqualFold(name, "password") {
			continue // never read, so never "kept": absent, it does not change
		}
		cur, nxt := current, next
		if schema.Get(current, name) == nil && strings.HasPrefix(strings.ToLower(name), "urn:") {
			// URN:attribute: one attribute of an extension.
			i := strings.LastIndex(name, ":")
			cur, _ = schema.Get(current, name[:i]).(map[string]any)
			if nxt, _ = schema.Get(next, name[:i]).(map[string]any); nxt == nil && cur != nil {
				nxt = map[string]any{}
				next[name[:i]] = nxt
			}
			name = name[i+1:]
		}
		if v := schema.Get(cur, name); v != nil && schema.Get(nxt, name) == nil {
			nxt[name] = v
		}
	}
}

// checkFrozen fails with a *FrozenError when writing attrs over the entry
// e (the resource current) would change a frozen attribute: a value of an
// LDAP attribute mapped from it, the naming value (a rename, even of
// case), "active" or a password.
func (r *Resources) checkFrozen(ctx context.Context, conn *Conn, e *ldap.Entry, current Resource, attrs map[string]any, frozen []string) error {
	if len(frozen) == 0 {
		return nil
	}
	f := newFrozenSet(frozen)
	core := r.m.Schema.ID
	if _, rdnPath, err := r.m.RDNAttribute(); err == nil {
		if name := f.has(rdnPath, core); name != "" && valueAt(attrs, rdnPath) != valueAt(current.Attributes, rdnPath) {
			return &FrozenError{Attr: name}
		}
	}
	if _, ok := password(attrs); ok && f["password"] {
		return &FrozenError{Attr: "password"}
	}
	next, err := r.toValues(ctx, conn, attrs, e)
	if err != nil {
		return err
	}
	changed := func(attr string) bool {
		return attr != "" && !sameValues(e.GetEqualFoldRawAttributeValues(attr), next.get(attr))
	}
	if a := r.m.Active; a != nil && f["active"] && (changed(a.Attribute) || changed(a.Also)) {
		return &FrozenError{Attr: "active"}
	}
	for _, am := range r.m.Attributes {
		if name := f.has(am.SCIM, core); name != "" && !am.ReadOnly && changed(am.LDAP) {
			return &FrozenError{Attr: name}
		}
	}
	return nil
}
