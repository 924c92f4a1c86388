package ldapstore

import (
	"context"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// Manager references (the Enterprise User's manager.value). The directory
// keeps a manager as the DN of the user it names. Clients name it in other
// ways than by its SCIM id — Okta with an HR employee number, Microsoft's
// examples with a userName — so a value is looked up by the attributes of
// users.manager.resolve in turn. A value that names no user yet is kept as
// given (users.manager.unresolved: keep, in scimManager), read back as it
// was given, and turned into the DN when the user it names is created.

// managerValues sets, in out, the LDAP values of the reference value of
// the DN-valued mapping attr: the DN of the user it names, or the value
// kept as given.
func (r *Resources) managerValues(ctx context.Context, conn *Conn, attr, value string, out values) error {
	users, err := r.store.Users(ctx)
	if err != nil {
		return err
	}
	dn, err := users.findManager(ctx, conn, r.manager.Resolve, value)
	if err != nil {
		return err
	}
	switch {
	case dn != "":
		out.add(attr, dn)
	case r.manager.Unresolved == ManagerDrop:
	case r.manager.Unresolved == ManagerKeep && r.m.KeptReferences != "":
		out.set(r.m.KeptReferences, []string{value})
	case r.manager.Unresolved == ManagerKeep:
		return invalidf("manager.value: no user has %q as %s, and this directory cannot keep it until one does "+
			"(install scimgate's schema for scimManager, or set users.manager.unresolved)", value, strings.Join(r.manager.Resolve, ", "))
	default:
		return invalidf("manager.value: no user has %q as %s (users.manager.unresolved: reject)", value, strings.Join(r.manager.Resolve, ", "))
	}
	return nil
}

// findManager returns the DN of the user that value names by the first of
// the attributes resolve lists, "" when none does.
func (r *Resources) findManager(ctx context.Context, conn *Conn, resolve []string, value string) (string, error) {
	for _, name := range resolve {
		p, err := schema.ParsePath(name)
		if err != nil {
			continue
		}
		attr := r.m.ID
		if strings.EqualFold(p.Attr, "id") && p.URN == "" && r.idFilter(value) == "" {
			continue // cannot be an id here
		}
		if !strings.EqualFold(p.Attr, "id") || p.URN != "" {
			ms := r.m.Lookup(p.URN, p.Attr, p.Sub)
			if len(ms) == 0 || ms[0].Codec == schema.CodecJSON {
				continue
			}
			attr = ms[0].LDAP
		}
		found, err := r.lookup(ctx, conn, attr, []string{value}, []string{"1.1"})
		if err != nil {
			return "", err
		}
		for _, e := range found {
			return e.DN, nil
		}
	}
	return "", nil
}

// readKeptReference reads, where the entry has no manager DN, the value
// kept as given, and reports whether there was one.
func (r *Resources) readKeptReference(e *ldap.Entry, attrs map[string]any) bool {
	if r.m.KeptReferences == "" {
		return false
	}
	v := e.GetEqualFoldAttributeValue(r.m.KeptReferences)
	if v == "" {
		return false
	}
	for _, am := range r.m.Attributes {
		if am.Codec != schema.CodecDN || len(e.GetEqualFoldAttributeValues(am.LDAP)) > 0 {
			continue
		}
		container := r.containerFor(attrs, am.SCIM.URN)
		obj, _ := container[am.SCIM.Attr].(map[string]any)
		if obj == nil {
			obj = map[string]any{}
			container[am.SCIM.Attr] = obj
		}
		obj[am.SCIM.Sub] = v
		return true
	}
	return false
}

// resolveKept turns the references kept as given that name the user e
// (just created) into its DN, in the entries that keep them. It is best
// effort: an entry it misses keeps the value, and resolves on its next
// write.
func (r *Resources) resolveKept(ctx context.Context, conn *Conn, e *ldap.Entry) {
	attr := r.m.KeptReferences
	if attr == "" {
		return
	}
	var names []string
	for _, name := range r.manager.Resolve {
		if v := r.referenceName(e, name); v != "" {
			names = append(names, "("+attr+"="+ldap.EscapeFilter(v)+")")
		}
	}
	if len(names) == 0 {
		return
	}
	res, err := conn.Search(ctx, ldap.NewSearchRequest(r.baseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&"+r.class+"(|"+strings.Join(names, "")+"))", []string{"1.1"}, nil))
	if err != nil {
		return
	}
	for _, waiting := range res.Entries {
		for _, am := range r.m.Attributes {
			if am.Codec == schema.CodecDN {
				req := ldap.NewModifyRequest(waiting.DN, nil)
				req.Replace(am.LDAP, []string{e.DN})
				req.Delete(attr, nil)
				conn.Modify(ctx, req)
				break
			}
		}
	}
}

// referenceName is the value of the users' attribute name (a SCIM path) in
// e, by which a kept reference may name it.
func (r *Resources) referenceName(e *ldap.Entry, name string) string {
	p, err := schema.ParsePath(name)
	if err != nil {
		return ""
	}
	if strings.EqualFold(p.Attr, "id") && p.URN == "" {
		id, _ := r.idOf(e)
		return id
	}
	for _, am := range r.m.Lookup(p.URN, p.Attr, p.Sub) {
		if am.Codec != schema.CodecJSON {
			return e.GetEqualFoldAttributeValue(am.LDAP)
		}
	}
	return ""
}
