package schema

import (
	"context"
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
	// MaxValues is the most values a multi-valued attribute may be left
	// with (Limits.MaxValues); 0: no bound.
	MaxValues int
}

// Patch applies ops, in order, to a copy of resource (attributes keyed by
// their canonical names, extension attributes in a map under the
// extension's URN) and returns the copy. Either every operation applies or
// an error says which did not. It implements RFC 7644 section 3.5.2, and
// creates the element of a multi-valued attribute that a [type eq "..."]
// selector names when it is absent, as Microsoft Entra ID expects of
// add and replace.
//
// It checks ctx before each operation, and stops with ctx's error once ctx
// has ended. It refuses to leave a multi-valued attribute with more than
// s.MaxValues values, unless the attribute held as many before and has not
// grown (a group's members are not counted, see Counted). Its work grows
// with the number of operations plus the values they touch, not with their
// product: see patcher.
func Patch(ctx context.Context, s Schemas, resource map[string]any, ops []Operation) (map[string]any, error) {
	res := deepCopy(resource).(map[string]any)
	p := &patcher{Schemas: s, indexes: map[indexKey]*valueIndex{}, primary: map[attrKey]int{}}
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("patch: stopped before operation %d of %d: %w", i+1, len(ops), err)
		}
		if err := p.apply(res, op); err != nil {
			if pe, ok := err.(*PatchError); ok && len(ops) > 1 {
				pe.Msg = fmt.Sprintf("operation %d (%s): %s", i+1, op.Op, pe.Msg)
			}
			return nil, err
		}
	}
	prune(res)
	if err := p.checkRequired(res); err != nil {
		return nil, err
	}
	if err := s.checkCounts(resource, res); err != nil {
		return nil, err
	}
	return res, nil
}

// checkCounts refuses a result holding more than MaxValues values in a
// counted multi-valued attribute, unless the attribute held as many before
// and has not grown.
func (s Schemas) checkCounts(before, after map[string]any) error {
	if s.MaxValues <= 0 {
		return nil
	}
	for _, sc := range append([]Schema{s.Core}, s.Extensions...) {
		b, a := before, after
		if sc.ID != s.Core.ID {
			b, a = obj(before[sc.ID]), obj(after[sc.ID])
		}
		for _, at := range sc.Attributes {
			if !at.MultiValued || !Counted(sc.ID, at.Name) {
				continue
			}
			if n := len(list(a[at.Name])); n > s.MaxValues && n > len(list(b[at.Name])) {
				return patchErr("invalidValue", "%s would hold %d values; limits.max_values is %d", at.Name, n, s.MaxValues)
			}
		}
	}
	return nil
}

// checkRequired refuses a result that holds an extension without a
// required attribute an operation removed: such an attribute goes with
// the whole extension (an extension that is not required may be absent,
// RFC 7643 section 3.3), never alone.
func (p *patcher) checkRequired(res map[string]any) error {
	for _, k := range p.required {
		if ext, ok := res[k.urn].(map[string]any); ok && ext[k.name] == nil {
			return patchErr("mutability", "%s:%s is required while the extension holds other attributes: remove the whole extension (path %s), or give it a value", k.urn, k.name, k.urn)
		}
	}
	return nil
}

// patcher applies the operations of one PATCH. So that n operations on an
// attribute of m values cost about n+m, not n×m, it keeps per attribute
// indexes of values for value filters (valueIndex) and the position of the
// primary value (fixPrimary). Both rely on elements keeping their
// positions while it runs: a removed element leaves nil in its place, which
// prune drops at the end; an operation that replaces a whole list forgets
// what was kept of it.
type patcher struct {
	Schemas
	indexes map[indexKey]*valueIndex
	// primary is the position of an attribute's one primary element (-1:
	// none), once fixPrimary has looked at the whole attribute.
	primary map[attrKey]int
	// required are the required attributes of extensions that operations
	// removed: allowed only when the whole extension goes (checkRequired).
	required []attrKey
}

// attrKey names an attribute: its schema's URN and its name.
type attrKey struct{ urn, name string }

// indexKey names the index of an attribute's values of sub-attribute sub.
type indexKey struct {
	attrKey
	sub string
}

func (p *patcher) apply(res map[string]any, op Operation) error {
	verb := strings.ToLower(op.Op)
	if verb != "add" && verb != "remove" && verb != "replace" {
		return patchErr("invalidValue", "op %q is not add, remove or replace", op.Op)
	}
	if op.Path != nil {
		return p.applyPath(res, verb, *op.Path, op.Value)
	}
	if verb == "remove" {
		return patchErr("noTarget", "remove needs a path")
	}
	obj, ok := op.Value.(map[string]any)
	if !ok {
		return patchErr("invalidValue", "without a path, the value must be an object of attributes")
	}
	for k, v := range obj {
		if ext, ok := p.Extension(k); ok {
			eobj, ok := v.(map[string]any)
			if !ok {
				return patchErr("invalidValue", "%s: the value of an extension must be an object", k)
			}
			for ek, ev := range eobj {
				path, err := filter.ParsePath([]byte(ext.ID + ":" + ek))
				if err != nil {
					return patchErr("invalidPath", "%s:%s: %v", ext.ID, ek, err)
				}
				if err := p.applyPath(res, verb, path, ev); err != nil {
					return err
				}
			}
			continue
		}
		if strings.EqualFold(k, "schemas") {
			continue
		}
		path, err := filter.ParsePath([]byte(k))
		if err != nil {
			return patchErr("invalidPath", "%q: %v", k, err)
		}
		if err := p.applyPath(res, verb, path, v); err != nil {
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

// target resolves the attribute a path names, the map that holds it and
// the URN of its schema.
func (s Schemas) target(res map[string]any, ap filter.AttributePath, create bool) (map[string]any, string, Attribute, error) {
	sc := s.Core
	container := res
	if uri := ap.URI(); uri != "" && !strings.EqualFold(uri, s.Core.ID) {
		ext, ok := s.Extension(uri)
		if !ok {
			return nil, "", Attribute{}, patchErr("invalidPath", "%s: unknown schema", uri)
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
			return nil, "", Attribute{}, patchErr("mutability", "%s is read-only", ap.AttributeName)
		}
		return nil, "", Attribute{}, patchErr("invalidPath", "%q is not an attribute of %s", ap.AttributeName, sc.Name)
	}
	return container, sc.ID, a, nil
}

func (p *patcher) applyPath(res map[string]any, verb string, path filter.Path, value any) error {
	container, urn, a, err := p.target(res, path.AttributePath, verb != "remove")
	if err != nil {
		return err
	}
	key := attrKey{urn, a.Name}
	subName := path.AttributePath.SubAttributeName()
	if path.SubAttribute != nil {
		subName = *path.SubAttribute
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

	if path.ValueExpression != nil {
		if !a.MultiValued || a.Type != Complex {
			return patchErr("invalidPath", "%s is not a multi-valued complex attribute: it cannot take a value filter", a.Name)
		}
		return p.applyFiltered(container, key, a, sub, verb, path.ValueExpression, value)
	}
	if sub != nil {
		return p.applySub(container, key, a, *sub, verb, value)
	}
	return p.applyWhole(container, key, a, verb, value)
}

// applyWhole writes a whole attribute.
func (p *patcher) applyWhole(container map[string]any, key attrKey, a Attribute, verb string, value any) error {
	var touched []int // the elements added: one marked primary takes the mark
	switch verb {
	case "remove":
		if a.Required && key.urn == p.Core.ID {
			return patchErr("mutability", "%s is required and cannot be removed", a.Name)
		}
		if a.Required {
			p.required = append(p.required, key)
		}
		if a.MultiValued && value != nil {
			// Remove the listed values only (Entra ID removes members so).
			return removeValues(container, a, value)
		}
		delete(container, a.Name)
		p.forget(key)
	case "add":
		v, err := canonical(a, value, true)
		if err != nil {
			return err
		}
		switch {
		case a.MultiValued:
			had := list(container[a.Name])
			n := len(had)
			container[a.Name] = appendDistinct(had, v.([]any))
			for i := n; i < len(list(container[a.Name])); i++ {
				touched = append(touched, i)
			}
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
		p.forget(key)
	}
	p.fixPrimary(container, key, a, touched)
	return nil
}

// forget drops what the patcher keeps of an attribute whose list was
// replaced.
func (p *patcher) forget(key attrKey) {
	for ik := range p.indexes {
		if ik.attrKey == key {
			delete(p.indexes, ik)
		}
	}
	delete(p.primary, key)
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
func (p *patcher) applySub(container map[string]any, key attrKey, a, sub Attribute, verb string, value any) error {
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
		delete(p.indexes, indexKey{key, sub.Name}) // every element's value changed
		p.fixPrimary(container, key, a, nil)
		return nil
	}
	o := obj(container[a.Name])
	set(o)
	container[a.Name] = o
	return nil
}

// applyFiltered acts on the elements of a multi-valued attribute that a
// value filter selects.
func (p *patcher) applyFiltered(container map[string]any, key attrKey, a Attribute, sub *Attribute, verb string, expr filter.Expression, value any) error {
	elems := list(container[a.Name])
	matched, err := p.match(key, a, elems, expr)
	if err != nil {
		return err
	}
	if len(matched) == 0 {
		t, isType := typeSelector(expr)
		if verb == "remove" || !isType {
			return patchErr("noTarget", "no value of %s matches the filter", a.Name)
		}
		elems = append(elems, map[string]any{"type": t})
		matched = []int{len(elems) - 1}
	}
	if err := writeMatched(elems, matched, a, sub, verb, value); err != nil {
		return err
	}
	container[a.Name] = elems
	p.reindex(key, elems, matched)
	p.fixPrimary(container, key, a, matched)
	return nil
}

// writeMatched applies verb to the elements at the positions matched:
// removes them (nil in their place, see patcher), removes or sets their
// sub-attribute sub, or merges value into them.
func writeMatched(elems []any, matched []int, a Attribute, sub *Attribute, verb string, value any) error {
	switch {
	case verb == "remove" && sub == nil:
		for _, i := range matched {
			elems[i] = nil
		}
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
	return nil
}

// match returns the positions, ascending, of the elements that a value
// filter selects: among the candidates an index proposes, or all.
func (p *patcher) match(key attrKey, a Attribute, elems []any, expr filter.Expression) ([]int, error) {
	candidates, indexed := p.candidates(key, a, elems, expr)
	var matched []int
	check := func(i int) error {
		o, ok := elems[i].(map[string]any)
		if !ok {
			return nil
		}
		m, err := Matches(a, o, expr)
		if err != nil {
			return patchErr("invalidPath", "%s: %v", a.Name, err)
		}
		if m {
			matched = append(matched, i)
		}
		return nil
	}
	if indexed {
		for _, i := range candidates {
			if err := check(i); err != nil {
				return nil, err
			}
		}
		return matched, nil
	}
	for i := range elems {
		if err := check(i); err != nil {
			return nil, err
		}
	}
	return matched, nil
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
// the given ones (compared by their "value" when they have one), leaving
// nil in their place (see patcher).
func removeValues(container map[string]any, a Attribute, value any) error {
	v, err := canonical(a, value, true)
	if err != nil {
		return err
	}
	drop := newValueSet(v.([]any))
	elems := list(container[a.Name])
	for i, el := range elems {
		if el != nil && drop.has(el) {
			elems[i] = nil
		}
	}
	container[a.Name] = elems
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

// fixPrimary keeps at most one element marked primary (RFC 7643 section
// 2.4): the last of the touched ones (positions, ascending) that is, else
// the one that was, else, when touched is nil, the first. It looks at the
// whole attribute when touched is nil or the first time; after that at the
// touched elements and the one primary only.
func (p *patcher) fixPrimary(container map[string]any, key attrKey, a Attribute, touched []int) {
	if !a.MultiValued || a.Type != Complex {
		return
	}
	elems := list(container[a.Name])
	was, known := p.primary[key]
	if !known || touched == nil {
		p.primary[key] = keepOnePrimary(elems, touched)
		return
	}
	keep := -1
	if was >= 0 && isPrimary(elems[was]) {
		keep = was
	}
	for _, i := range touched {
		if isPrimary(elems[i]) {
			keep = i
		}
	}
	for _, i := range append(touched, was) {
		if i >= 0 && i != keep {
			unsetPrimary(elems[i])
		}
	}
	p.primary[key] = keep
}

// keepOnePrimary unmarks every primary element but one (the last touched
// one that is primary, else the first), and returns its position or -1.
func keepOnePrimary(elems []any, touched []int) int {
	keep, t := -1, 0
	for i, el := range elems {
		for t < len(touched) && touched[t] < i {
			t++
		}
		if isPrimary(el) && (keep < 0 || t < len(touched) && touched[t] == i) {
			keep = i
		}
	}
	for i, el := range elems {
		if i != keep {
			unsetPrimary(el)
		}
	}
	return keep
}

func isPrimary(el any) bool {
	o, ok := el.(map[string]any)
	return ok && o["primary"] == true
}

// unsetPrimary sets false the primary flag of an element that had it
// (RFC 7644 section 3.5.2: the others' primary is set to false).
func unsetPrimary(el any) {
	if o, ok := el.(map[string]any); ok && o["primary"] == true {
		o["primary"] = false
	}
}

func appendDistinct(have, add []any) []any {
	seen := newValueSet(have)
	for _, el := range add {
		if !seen.has(el) {
			have = append(have, el)
			seen.add(el)
		}
	}
	return have
}

// valueSet holds elements of a multi-valued attribute to tell whether it
// holds one equal to another: complex elements with a "value" compare by
// it, case-sensitively; others compare deeply. String values are kept in a
// map, so that a set of m elements answers n questions in n+m steps.
type valueSet struct {
	strs  map[string]bool
	other []any
}

func newValueSet(elems []any) *valueSet {
	s := &valueSet{strs: make(map[string]bool, len(elems))}
	for _, el := range elems {
		s.add(el)
	}
	return s
}

func (s *valueSet) add(el any) {
	if v, ok := valueOf(el).(string); ok {
		s.strs[v] = true
	} else {
		s.other = append(s.other, el)
	}
}

func (s *valueSet) has(el any) bool {
	if v, ok := valueOf(el).(string); ok {
		return s.strs[v]
	}
	return containsElement(s.other, el)
}

// containsElement reports whether list holds el (see valueSet).
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
				if el == nil {
					continue // a removed element (see patcher)
				}
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
