package schema

import (
	"slices"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// valueIndex finds the elements of a multi-valued complex attribute whose
// sub-attribute equals a string, for value filters such as
// emails[value eq "x"]: built on first use within a PATCH, extended as
// elements are appended and as elements are written. It proposes
// candidates, which match checks with Matches: an entry made stale by a
// later write costs a check, never a wrong match.
type valueIndex struct {
	sub Attribute
	n   int              // elements indexed: the first n
	at  map[string][]int // key of a value → positions that hold it
	// broken: an element holds a value that is not a string, which only a
	// scan reports as Matches does.
	broken bool
}

// candidates returns, when an index can serve expr, the positions that may
// match it, ascending; indexed is false when every element must be
// checked.
func (p *patcher) candidates(key attrKey, a Attribute, elems []any, expr filter.Expression) (positions []int, indexed bool) {
	sa, lit, ok := indexable(a, expr)
	if !ok {
		return nil, false
	}
	ik := indexKey{key, sa.Name}
	x := p.indexes[ik]
	if x == nil {
		x = &valueIndex{sub: sa, at: map[string][]int{}}
		p.indexes[ik] = x
	}
	if !x.extend(elems) {
		return nil, false
	}
	return x.lookup(lit), true
}

// indexable recognises a value filter that an index can serve, sub eq "x"
// on a sub-attribute compared as a string, and returns the sub-attribute
// and x.
func indexable(a Attribute, e filter.Expression) (Attribute, string, bool) {
	ae, ok := e.(*filter.AttributeExpression)
	if !ok || ae.AttributePath.SubAttribute != nil || !strings.EqualFold(string(ae.Operator), string(filter.EQ)) {
		return Attribute{}, "", false
	}
	lit, isString := ae.CompareValue.(string)
	sa, found := a.SubAttribute(ae.AttributePath.AttributeName)
	if !isString || !found {
		return Attribute{}, "", false
	}
	switch sa.Type {
	case Boolean, Integer, Decimal, Complex:
		return Attribute{}, "", false
	}
	return sa, lit, true
}

// reindex records in the attribute's indexes the values that the elements
// at positions now hold.
func (p *patcher) reindex(key attrKey, elems []any, positions []int) {
	for ik, x := range p.indexes {
		if ik.attrKey != key {
			continue
		}
		for _, i := range positions {
			if i < x.n {
				x.add(i, elems[i])
			}
		}
	}
}

// keyOf is a value as compareValue compares it.
func (x *valueIndex) keyOf(v string) string {
	if x.sub.CaseExact {
		return v
	}
	return strings.ToLower(v)
}

// extend indexes the elements appended since the last call, and reports
// whether the index can serve.
func (x *valueIndex) extend(elems []any) bool {
	for ; x.n < len(elems) && !x.broken; x.n++ {
		x.add(x.n, elems[x.n])
	}
	return !x.broken
}

func (x *valueIndex) add(i int, el any) {
	o, ok := el.(map[string]any)
	if !ok {
		return
	}
	switch v := Get(o, x.sub.Name).(type) {
	case nil:
	case string:
		k := x.keyOf(v)
		x.at[k] = append(x.at[k], i)
	default:
		x.broken = true
	}
}

// lookup returns the positions that may hold lit, ascending, each once.
func (x *valueIndex) lookup(lit string) []int {
	if u, err := unquoteJSON(lit); err == nil {
		lit = u
	}
	k := x.keyOf(lit)
	c := x.at[k]
	slices.Sort(c)
	c = slices.Compact(c)
	x.at[k] = c
	return c
}
