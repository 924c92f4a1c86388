package schema

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// Operation is one PATCH operation of RFC 7644 section 3.5.2.
type Operation struct {
	Op    string       // add, remove or replace
	Path  *filter.Path // nil: the resource itself
	Value any
}

// PatchError is a PATCH that cannot apply; ScimType is the RFC 7644
// section 3.12 keyword: noTarget, mutability, invalidPath or invalidValue.
type PatchError struct {
	ScimType string
	Msg      string
}

func (e *PatchError) Error() string { return e.Msg }

func patchErr(scimType, format string, args ...any) error {
	return &PatchError{ScimType: scimType, Msg: fmt.Sprintf(format, args...)}
}

// Schemas are a resource type's core schema and its extensions, as
// advertised: a PATCH can reach only what they hold.
type Schemas struct {
	Core       Schema
	Extensions []Schema
}

// Patch applies ops, in order, to a copy of resource (attributes keyed by
// their canonical names, extension attributes in a map under the
// extension's URN) and returns the copy. Either every operation applies or
// an error says which did not. It implements RFC 7644 section 3.5.2, and
// creates the element of a multi-valued attribute that a [type eq "..."]
// selector names when it is absent, as Microsoft Entra ID expects of
// add and replace.
func Patch(s Schemas, resource map[string]any, ops []Operation) (map[string]any, error) {
	res := deepCopy(resource).(map[string]any)
	for i, op := range ops {
		if err := s.apply(res, op); err != nil {
			if pe, ok := err.(*PatchError); ok && len(ops) > 1 {
				pe.Msg = fmt.Sprintf("operation %d (%s): %s", i+1, op.Op, pe.Msg)
			}
			return nil, err
		}
	}
	prune(res)
	return res, nil
}

func (s Schemas) apply(res map[string]any, op Operation) error {
	verb := strings.ToLower(op.Op)
	if verb != "add" && verb != "remove" && verb != "replace" {
		return patchErr("invalidValue", "op %q is not add, remove or replace", op.Op)
	}
	if op.Path != nil {
		return s.applyPath(res, verb, *op.Path, op.Value)
	}
	if verb == "remove" {
		return patchErr("noTarget", "remove needs a path")
	}
	obj, ok := op.Value.(map[string]any)
	if !ok {
		return patchErr("invalidValue", "without a path, the value must be an object of attributes")
	}
	for k, v := range obj {
		if ext, ok := s.Extension(k); ok {
			eobj, ok := v.(map[string]any)
			if !ok {
				return patchErr("invalidValue", "%s: the value of an extension must be an object", k)
			}
			for ek, ev := range eobj {
				p, err := filter.ParsePath([]byte(ext.ID + ":" + ek))
				if err != nil {
					return patchErr("invalidPath", "%s:%s: %v", ext.ID, ek, err)
				}
				if err := s.applyPath(res, verb, p, ev); err != nil {
					return err
				}
			}
			continue
		}
		if strings.EqualFold(k, "schemas") {
			continue
		}
		p, err := filter.ParsePath([]byte(k))
		if err != nil {
			return patchErr("invalidPath", "%q: %v", k, err)
		}
		if err := s.applyPath(res, verb, p, v); err != nil {
			return err
		}
	}
	return nil
}

// Extension returns the extension schema whose URN is urn (compared
// case-insensitively).
func (s Schemas) Extension(urn string) (Schema, bool) {
	for _, e := range s.Extensions {
		if strings.EqualFold(e.ID, urn) {
			return e, true
		}
	}
	return Schema{}, false
}

// target resolves the attribute a path names and the map that holds it.
func (s Schemas) target(res map[string]any, ap filter.AttributePath, create bool) (map[string]any, Attribute, error) {
	sc := s.Core
	container := res
	if uri := ap.URI(); uri != "" && !strings.EqualFold(uri, s.Core.ID) {
		ext, ok := s.Extension(uri)
		if !ok {
			return nil, Attribute{}, patchErr("invalidPath", "%s: unknown schema", uri)
		}
		sc = ext
		c, _ := res[ext.ID].(map[string]any)
		if c == nil {
			c = map[string]any{}
			if create {
				res[ext.ID] = c
			}
		}
		container = c
	}
	a, ok := sc.Attribute(ap.AttributeName)
	if !ok {
		if sc.ID == s.Core.ID && (strings.EqualFold(ap.AttributeName, "id") || strings.EqualFold(ap.AttributeName, "meta")) {
			return nil, Attribute{}, patchErr("mutability", "%s is read-only", ap.AttributeName)
		}
		return nil, Attribute{}, patchErr("invalidPath", "%q is not an attribute of %s", ap.AttributeName, sc.Name)
	}
	return container, a, nil
}

func (s Schemas) applyPath(res map[string]any, verb string, p filter.Path, value any) error {
	container, a, err := s.target(res, p.AttributePath, verb != "remove")
	if err != nil {
		return err
	}
	subName := p.AttributePath.SubAttributeName()
	if p.SubAttribute != nil {
		subName = *p.SubAttribute
	}
	var sub *Attribute
	if subName != "" {
		sa, ok := a.SubAttribute(subName)
		if !ok {
			return patchErr("invalidPath", "%s has no sub-attribute %q", a.Name, subName)
		}
		sub = &sa
	}
	if err := checkMutability(verb, a, sub, container[a.Name] != nil); err != nil {
		return err
	}
	if verb != "remove" && value == nil {
		verb = "remove" // a null value unassigns (RFC 7643 section 2.5)
	}

	if p.ValueExpression != nil {
		if !a.MultiValued || a.Type != Complex {
			return patchErr("invalidPath", "%s is not a multi-valued complex attribute: it cannot take a value filter", a.Name)
		}
		return applyFiltered(container, a, sub, verb, p.ValueExpression, value)
	}
	if sub != nil {
		return applySub(container, a, *sub, verb, value)
	}
	switch verb {
	case "remove":
		if a.Required {
			return patchErr("mutability", "%s is required and cannot be removed", a.Name)
		}
		if a.MultiValued && value != nil {
			// Remove the listed values only (Entra ID removes members so).
			return removeValues(container, a, value)
		}
		delete(container, a.Name)
	case "add":
		v, err := canonical(a, value, true)
		if err != nil {
			return err
		}
		switch {
		case a.MultiValued:
			container[a.Name] = appendDistinct(list(container[a.Name]), v.([]any))
		case a.Type == Complex:
			container[a.Name] = merge(obj(container[a.Name]), v.(map[string]any))
		default:
			container[a.Name] = v
		}
	case "replace":
		v, err := canonical(a, value, true)
		if err != nil {
			return err
		}
		if a.Type == Complex && !a.MultiValued {
			// Sub-attributes not given are left as they are (3.5.2.3).
			v = merge(obj(container[a.Name]), v.(map[string]any))
		}
		container[a.Name] = v
	}
	fixPrimary(container, a, nil)
	return nil
}

// checkMutability refuses writes to read-only targets, and changes to
// immutable ones that already hold a value.
func checkMutability(verb string, a Attribute, sub *Attribute, present bool) error {
	for _, at := range []*Attribute{&a, sub} {
		if at == nil {
			continue
		}
		switch at.Mutability {
		case ReadOnly:
			return patchErr("mutability", "%s is read-only", a.Name+subSuffix(sub))
		case Immutable:
			if verb != "add" || present {
				return patchErr("mutability", "%s is immutable", a.Name+subSuffix(sub))
			}
		}
	}
	return nil
}

func subSuffix(sub *Attribute) string {
	if sub == nil {
		return ""
	}
	return "." + sub.Name
}

// applySub writes one sub-attribute: of a complex attribute, or of every
// element of a multi-valued one.
func applySub(container map[string]any, a, sub Attribute, verb string, value any) error {
	if verb == "remove" && sub.Required {
		return patchErr("mutability", "%s.%s is required and cannot be removed", a.Name, sub.Name)
	}
	var v any
	if verb != "remove" {
		var err error
		if v, err = canonical(sub, value, false); err != nil {
			return err
		}
	}
	set := func(o map[string]any) {
		if verb == "remove" {
			delete(o, sub.Name)
		} else {
			o[sub.Name] = v
		}
	}
	if a.MultiValued {
		elems := list(container[a.Name])
		if verb == "remove" && len(elems) == 0 {
			return nil
		}
		for _, el := range elems {
			if o, ok := el.(map[string]any); ok {
				set(o)
			}
		}
		container[a.Name] = elems
		fixPrimary(container, a, nil)
		return nil
	}
	o := obj(container[a.Name])
	set(o)
	container[a.Name] = o
	return nil
}

// applyFiltered acts on the elements of a multi-valued attribute that a
// value filter selects.
func applyFiltered(container map[string]any, a Attribute, sub *Attribute, verb string, expr filter.Expression, value any) error {
	elems := list(container[a.Name])
	var matched []int
	for i, el := range elems {
		o, ok := el.(map[string]any)
		if !ok {
			continue
		}
		m, err := Matches(a, o, expr)
		if err != nil {
			return patchErr("invalidPath", "%s: %v", a.Name, err)
		}
		if m {
			matched = append(matched, i)
		}
	}
	if len(matched) == 0 {
		t, isType := typeSelector(expr)
		if verb == "remove" || !isType {
			return patchErr("noTarget", "no value of %s matches the filter", a.Name)
		}
		elems = append(elems, map[string]any{"type": t})
		matched = []int{len(elems) - 1}
	}
	switch {
	case verb == "remove" && sub == nil:
		drop := map[int]bool{}
		for _, i := range matched {
			drop[i] = true
		}
		kept := elems[:0]
		for i, el := range elems {
			if !drop[i] {
				kept = append(kept, el)
			}
		}
		elems = kept
	case verb == "remove":
		if sub.Required {
			return patchErr("mutability", "%s.%s is required and cannot be removed", a.Name, sub.Name)
		}
		for _, i := range matched {
			delete(elems[i].(map[string]any), sub.Name)
		}
	case sub != nil:
		v, err := canonical(*sub, value, false)
		if err != nil {
			return err
		}
		for _, i := range matched {
			elems[i].(map[string]any)[sub.Name] = v
		}
	default:
		v, err := canonical(a, value, false)
		if err != nil {
			return err
		}
		vo, ok := v.(map[string]any)
		if !ok {
			return patchErr("invalidValue", "%s: the value must be an object", a.Name)
		}
		for _, i := range matched {
			elems[i] = merge(elems[i].(map[string]any), vo)
		}
	}
	container[a.Name] = elems
	touched := map[int]bool{}
	for _, i := range matched {
		touched[i] = true
	}
	fixPrimary(container, a, touched)
	return nil
}

// typeSelector recognises the filter [type eq "t"] and returns t.
func typeSelector(e filter.Expression) (string, bool) {
	ae, ok := e.(*filter.AttributeExpression)
	if !ok || !strings.EqualFold(ae.AttributePath.AttributeName, "type") || ae.AttributePath.SubAttribute != nil ||
		!strings.EqualFold(string(ae.Operator), string(filter.EQ)) {
		return "", false
	}
	t, ok := ae.CompareValue.(string)
	return t, ok && t != ""
}

// removeValues removes the elements of a multi-valued attribute equal to
// the given ones (compared by their "value" when they have one).
func removeValues(container map[string]any, a Attribute, value any) error {
	v, err := canonical(a, value, true)
	if err != nil {
		return err
	}
	elems := list(container[a.Name])
	kept := elems[:0]
	for _, el := range elems {
		if !containsElement(v.([]any), el) {
			kept = append(kept, el)
		}
	}
	container[a.Name] = kept
	return nil
}

// canonical checks a value against the attribute and returns it with
// canonical sub-attribute names; read-only sub-attributes given by the
// client (such as members.display) are dropped. forWhole says the value is
// for the whole attribute, so a multi-valued one takes a list (a single
// element is accepted as a list of one).
func canonical(a Attribute, v any, forWhole bool) (any, error) {
	if a.MultiValued && forWhole {
		items, ok := v.([]any)
		if !ok {
			items = []any{v}
		}
		out := make([]any, 0, len(items))
		for _, it := range items {
			c, err := canonicalOne(a, it)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	return canonicalOne(a, v)
}

func canonicalOne(a Attribute, v any) (any, error) {
	if a.Type != Complex {
		if _, isObj := v.(map[string]any); isObj {
			return nil, patchErr("invalidValue", "%s takes a %s, not an object", a.Name, a.Type)
		}
		if _, isList := v.([]any); isList {
			return nil, patchErr("invalidValue", "%s takes a single %s, not a list", a.Name, a.Type)
		}
		return v, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return nil, patchErr("invalidValue", "%s takes an object", a.Name)
	}
	out := map[string]any{}
	for k, val := range o {
		sa, ok := a.SubAttribute(k)
		if !ok || sa.Mutability == ReadOnly || val == nil {
			continue
		}
		c, err := canonicalOne(sa, val)
		if err != nil {
			return nil, err
		}
		out[sa.Name] = c
	}
	return out, nil
}

// fixPrimary keeps at most one element marked primary (RFC 7643 2.4): the
// one just written, if any, else the first.
func fixPrimary(container map[string]any, a Attribute, touched map[int]bool) {
	if !a.MultiValued || a.Type != Complex {
		return
	}
	elems := list(container[a.Name])
	keep := -1
	for i, el := range elems {
		if o, ok := el.(map[string]any); ok && o["primary"] == true && (keep < 0 || touched[i]) {
			keep = i
		}
	}
	for i, el := range elems {
		if o, ok := el.(map[string]any); ok && i != keep {
			delete(o, "primary")
		}
	}
}

func appendDistinct(have, add []any) []any {
	for _, el := range add {
		if !containsElement(have, el) {
			have = append(have, el)
		}
	}
	return have
}

// containsElement reports whether list holds el: complex elements with a
// "value" compare by it, case-sensitively; others compare deeply.
func containsElement(list []any, el any) bool {
	ev := valueOf(el)
	for _, x := range list {
		if ev != nil && reflect.DeepEqual(valueOf(x), ev) {
			return true
		}
		if ev == nil && reflect.DeepEqual(x, el) {
			return true
		}
	}
	return false
}

func valueOf(el any) any {
	if o, ok := el.(map[string]any); ok {
		return o["value"]
	}
	return el
}

func merge(dst, src map[string]any) map[string]any {
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func obj(v any) map[string]any {
	if o, ok := v.(map[string]any); ok {
		return o
	}
	return map[string]any{}
}

// prune drops empty objects and lists, which mean "unassigned".
func prune(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			prune(x)
			if len(x) == 0 {
				delete(m, k)
			}
		case []any:
			kept := x[:0]
			for _, el := range x {
				if o, ok := el.(map[string]any); ok {
					prune(o)
					if onlyLabels(o) {
						continue // an element with nothing but its type and primary is empty
					}
				}
				kept = append(kept, el)
			}
			if len(kept) == 0 {
				delete(m, k)
			} else {
				m[k] = kept
			}
		case nil:
			delete(m, k)
		}
	}
}

func onlyLabels(o map[string]any) bool {
	for k := range o {
		if k != "type" && k != "primary" {
			return false
		}
	}
	return true
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = deepCopy(val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = deepCopy(val)
		}
		return out
	case json.Number:
		return x
	}
	return v
}
