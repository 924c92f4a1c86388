package schema

import (
	"slices"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// MemberOps are what PATCH operations do to a group's members, taken out
// of the operations so that a store can apply them as additions and
// deletions of values, never as a rewrite of the whole list. Ids are
// member ids, in the order first given.
type MemberOps struct {
	Add, Remove []string
	// Replace says the members become exactly ReplaceWith (a remove of
	// all members is a Replace with none).
	Replace     bool
	ReplaceWith []string
}

// Any reports whether the operations touch the members at all.
func (m MemberOps) Any() bool { return m.Replace || len(m.Add) > 0 || len(m.Remove) > 0 }

// SplitMembers takes the operations on "members" out of ops and returns
// them composed, in order, with the other operations. It understands every
// form clients send: add with path "members" and an array (or one object),
// remove with path "members" and an array (Entra ID), remove with
// members[value eq "id"] (Okta, and Entra ID with its flag; several joined
// by or), remove of "members" without a value (all of them), replace with
// path "members", and a path-less add or replace whose value holds
// "members".
func SplitMembers(core string, ops []Operation) (MemberOps, []Operation, error) {
	var m MemberOps
	var rest []Operation
	for _, op := range ops {
		verb := strings.ToLower(op.Op)
		if op.Path == nil {
			obj, ok := op.Value.(map[string]any)
			if !ok {
				rest = append(rest, op)
				continue
			}
			other := map[string]any{}
			for k, v := range obj {
				if !isMembers(core, k) {
					other[k] = v
					continue
				}
				ids, err := MemberIDs(v)
				if err != nil {
					return m, nil, err
				}
				if verb == "replace" {
					m.replace(ids)
				} else {
					m.add(ids)
				}
			}
			if len(other) > 0 || len(obj) == 0 {
				rest = append(rest, Operation{Op: op.Op, Value: other})
			}
			continue
		}
		ap := op.Path.AttributePath
		name := ap.AttributeName
		if ap.URIPrefix != nil {
			name = *ap.URIPrefix + ":" + name
		}
		if !isMembers(core, name) {
			rest = append(rest, op)
			continue
		}
		if ap.SubAttribute != nil || op.Path.SubAttribute != nil {
			return m, nil, patchErr("invalidPath", "%s: a member's sub-attributes cannot be changed; add or remove the member", op.Path)
		}
		if op.Path.ValueExpression != nil {
			if verb != "remove" {
				return m, nil, patchErr("invalidPath", "%s: select members by value only to remove them; add members with path \"members\"", op.Path)
			}
			ids, err := selectedIDs(op.Path.ValueExpression)
			if err != nil {
				return m, nil, err
			}
			m.remove(ids)
			continue
		}
		switch verb {
		case "add":
			ids, err := MemberIDs(op.Value)
			if err != nil {
				return m, nil, err
			}
			m.add(ids)
		case "replace":
			ids, err := MemberIDs(op.Value)
			if err != nil {
				return m, nil, err
			}
			m.replace(ids)
		case "remove":
			if op.Value == nil {
				m.replace(nil)
				continue
			}
			ids, err := MemberIDs(op.Value)
			if err != nil {
				return m, nil, err
			}
			m.remove(ids)
		default:
			return m, nil, patchErr("invalidSyntax", "unknown operation %q", op.Op)
		}
	}
	return m, rest, nil
}

// isMembers reports whether an attribute name is the core "members".
func isMembers(core, name string) bool {
	return strings.EqualFold(name, "members") || strings.EqualFold(name, core+":members")
}

func (m *MemberOps) add(ids []string) {
	for _, id := range ids {
		if m.Replace {
			if !slices.Contains(m.ReplaceWith, id) {
				m.ReplaceWith = append(m.ReplaceWith, id)
			}
			continue
		}
		m.Remove = slices.DeleteFunc(m.Remove, func(x string) bool { return x == id })
		if !slices.Contains(m.Add, id) {
			m.Add = append(m.Add, id)
		}
	}
}

func (m *MemberOps) remove(ids []string) {
	for _, id := range ids {
		if m.Replace {
			m.ReplaceWith = slices.DeleteFunc(m.ReplaceWith, func(x string) bool { return x == id })
			continue
		}
		m.Add = slices.DeleteFunc(m.Add, func(x string) bool { return x == id })
		if !slices.Contains(m.Remove, id) {
			m.Remove = append(m.Remove, id)
		}
	}
}

func (m *MemberOps) replace(ids []string) {
	m.Replace, m.Add, m.Remove = true, nil, nil
	m.ReplaceWith = nil
	for _, id := range ids {
		if !slices.Contains(m.ReplaceWith, id) {
			m.ReplaceWith = append(m.ReplaceWith, id)
		}
	}
}

// memberIDs reads the ids out of a members value: an array of
// {"value": id, ...}, or one such object.
func MemberIDs(v any) ([]string, error) {
	var elems []any
	switch v := v.(type) {
	case []any:
		elems = v
	case map[string]any:
		elems = []any{v}
	case nil:
		return nil, nil
	default:
		return nil, patchErr("invalidValue", "members: want an array of {\"value\": \"<id>\"}")
	}
	ids := make([]string, 0, len(elems))
	for _, el := range elems {
		obj, ok := el.(map[string]any)
		id, _ := Get(obj, "value").(string)
		if !ok || id == "" {
			return nil, patchErr("invalidValue", "members: every member needs a \"value\" with the member's id")
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// selectedIDs reads the ids a members[...] filter selects: value eq "id",
// or several joined by or.
func selectedIDs(e filter.Expression) ([]string, error) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		id, ok := e.CompareValue.(string)
		if strings.EqualFold(e.AttributePath.AttributeName, "value") && e.AttributePath.SubAttribute == nil &&
			strings.EqualFold(string(e.Operator), string(filter.EQ)) && ok {
			return []string{id}, nil
		}
	case *filter.LogicalExpression:
		if strings.EqualFold(string(e.Operator), string(filter.OR)) {
			l, err := selectedIDs(e.Left)
			if err != nil {
				return nil, err
			}
			r, err := selectedIDs(e.Right)
			return append(l, r...), err
		}
	}
	return nil, patchErr("invalidFilter", "members[...]: select members as members[value eq \"<id>\"] (several joined by or)")
}
