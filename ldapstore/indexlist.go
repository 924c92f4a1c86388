package ldapstore

import (
	"strings"

	"github.com/scim2/filter-parser/v2"
	"github.com/scimgate/scimgate/internal/orderindex"
	"github.com/scimgate/scimgate/schema"
)

// Lists from the order index (index.go): a query without a filter, or with
// one comparison on a key the index orders by (userName eq/sw/pr,
// meta.lastModified gt ...), in an order the index keeps, is answered from
// memory: its total is the size of a range, its page the entries at some
// ranks. Only the page's entries are read from the directory, by id and
// restricted by the filter again. Anything else takes a snapshot.

// defaultOrder is the order of a query that names none: a filter of one
// comparison on a key the index orders by (userName sw "x") orders its
// results by that key, so that the index answers it from a range, at any
// size, in the same order a snapshot gives; any other query is ordered by
// id.
func defaultOrder(f filter.Expression) string {
	e, ok := f.(*filter.AttributeExpression)
	if !ok {
		return ""
	}
	name := e.AttributePath.AttributeName
	if e.AttributePath.SubAttribute != nil {
		name += "." + *e.AttributePath.SubAttribute
	}
	for _, k := range indexedSortKeys {
		if strings.EqualFold(k, name) {
			return k
		}
	}
	return ""
}

// ordering is the order of a query's results: a snapshot, or a range of
// the index.
type ordering interface {
	len() int
	// at returns result i, ascending or descending.
	at(i int, descending bool) item
	// seek returns the index of the first result not before it,
	// ascending.
	seek(it item) int
}

// selection is what a page takes from an ordering.
type selection struct {
	total      int
	ids        []string
	next, prev *Position
}

// selectPage takes the page q asks from o: its ids, the total and, for
// cursors, the positions around it.
func selectPage(o ordering, q Query) selection {
	n := o.len()
	start, end := bounds(o, q)
	sel := selection{total: n}
	if q.Count == 0 {
		return sel
	}
	if q.Cursor {
		if end < n && end > start {
			sel.next = o.at(end-1, q.Descending).position()
		}
		if start > 0 && start < n {
			p := o.at(start, q.Descending).position()
			p.Backward = true
			sel.prev = p
		}
	}
	sel.ids = make([]string, 0, end-start)
	for i := start; i < end; i++ {
		sel.ids = append(sel.ids, o.at(i, q.Descending).id)
	}
	return sel
}

// bounds returns the range of indexes (for at) that a query's page covers.
func bounds(o ordering, q Query) (start, end int) {
	n := o.len()
	count := max(q.Count, 0)
	switch {
	case !q.Cursor:
		start = min(q.StartIndex-1, n)
		return start, min(start+count, n)
	case q.After == nil:
		return 0, min(count, n)
	}
	at := item{key: q.After.Key, missing: q.After.Missing, id: q.After.ID}
	// The first index whose item is after at (upper) or not before it
	// (lower), in ascending order.
	lower := o.seek(at)
	upper := lower
	if upper < n && compareItems(o.at(upper, false), at) == 0 {
		upper++
	}
	if q.Descending {
		// In the reversed view, "after" is what ascends before at.
		lower, upper = n-upper, n-lower
	}
	if q.After.Backward {
		end = lower
		return max(end-count, 0), end
	}
	return upper, min(upper+count, n)
}

// indexRange is the results [lo, hi) of an order of the index.
type indexRange struct {
	v      orderindex.View
	order  int
	lo, hi int
}

func (x indexRange) len() int { return x.hi - x.lo }

func (x indexRange) at(i int, descending bool) item {
	j := x.lo + i
	if descending {
		j = x.hi - 1 - i
	}
	_, id := x.v.At(x.order, j)
	if x.order == orderindex.ByID {
		return item{id: id}
	}
	key, missing := x.v.SortKey(x.order, j)
	return item{key: string(key), missing: missing, id: id}
}

func (x indexRange) seek(it item) int {
	j := x.v.Seek(x.order, []byte(it.key), it.missing, it.id)
	return min(max(j, x.lo), x.hi) - x.lo
}

// fromIndex selects the page of pl from the order index, when it is ready
// and can answer the query; ok is false otherwise.
func (r *Resources) fromIndex(pl listPlan) (sel selection, ok bool) {
	x := r.index.Load()
	if x == nil || pl.q.Unassigned || len(pl.post) > 0 {
		return sel, false
	}
	idx := x.ready.Load()
	if idx == nil {
		return sel, false
	}
	order, ok := x.order(pl.sk)
	if !ok {
		return sel, false
	}
	cond, ok := x.condition(pl.q.Filter)
	if !ok {
		return sel, false
	}
	idx.Read(func(v orderindex.View) {
		var o ordering = indexRange{v: v, order: order, hi: v.Len()}
		if cond != nil {
			o, ok = cond.apply(v, order, pl.sk, r.store.search.MaxCandidates)
		}
		if ok {
			sel = selectPage(o, pl.q)
		}
	})
	return sel, ok
}

// condition is a filter the index answers: a range of one of its orders.
type condition struct {
	order  int
	op     filter.CompareOperator
	key    []byte // normalised as the order's keys are
	prefix bool   // sw
}

// condition returns the index's reading of a filter: nil for none; ok is
// false when the index cannot answer it.
func (x *liveIndex) condition(f filter.Expression) (*condition, bool) {
	if f == nil {
		return nil, true
	}
	e, isAttr := f.(*filter.AttributeExpression)
	if !isAttr || e.AttributePath.SubAttribute == nil && e.AttributePath.AttributeName == "" {
		return nil, false
	}
	p := e.AttributePath
	if p.URIPrefix != nil && !strings.EqualFold(*p.URIPrefix, x.r.m.Schema.ID) {
		return nil, false
	}
	name := p.AttributeName
	if p.SubAttribute != nil {
		name += "." + *p.SubAttribute
	}
	op := filter.CompareOperator(strings.ToLower(string(e.Operator)))
	for k, sk := range x.keys {
		if !strings.EqualFold(sk.name, name) {
			continue
		}
		c := &condition{order: k, op: op}
		if op == filter.PR {
			return c, true
		}
		return c.value(sk, e.CompareValue, strings.HasPrefix(sk.name, "meta."))
	}
	return nil, false
}

// value sets the condition's key from a filter's value, for the operators
// the index answers: eq, sw and pr on text; eq, gt, ge, lt, le on times.
func (c *condition) value(sk sortKey, v any, isTime bool) (*condition, bool) {
	s, isString := v.(string)
	if !isString {
		return nil, false
	}
	switch {
	case isTime && (c.op == filter.EQ || c.op == filter.GT || c.op == filter.GE || c.op == filter.LT || c.op == filter.LE):
		raw, err := schema.CodecDateTime.Encode(s)
		if err != nil {
			return nil, false
		}
		c.key = []byte(sk.normalize(raw))
	case !isTime && (c.op == filter.EQ || c.op == filter.SW):
		c.key, c.prefix = []byte(sk.normalize(s)), c.op == filter.SW
	default:
		return nil, false
	}
	return c, true
}

// apply returns the results of the condition in the order asked: a range
// of the condition's order, sorted again (at most max) when the order
// asked is another.
func (c *condition) apply(v orderindex.View, order int, sk sortKey, maxResults int) (ordering, bool) {
	lo, hi := c.span(v)
	rng := indexRange{v: v, order: c.order, lo: lo, hi: hi}
	if order == c.order {
		return rng, true
	}
	if hi-lo > maxResults {
		return nil, false // a scan refuses it, with the advice to narrow it
	}
	snap := &snapshot{}
	for j := lo; j < hi; j++ {
		key, id := v.At(c.order, j)
		it := item{id: id}
		if order != orderindex.ByID {
			e, _ := v.Get(key)
			it.missing = e.Sort[order] == nil
			it.key = string(e.Sort[order])
		}
		snap.add(it)
	}
	snap.sort()
	return snap, true
}

// span is the ranks [lo, hi) of the condition's order that satisfy it.
func (c *condition) span(v orderindex.View) (lo, hi int) {
	present := v.Present(c.order)
	after := func(k []byte) int { return v.SeekKey(c.order, append(k[:len(k):len(k)], 0)) } // the first key > k
	switch c.op {
	case filter.PR:
		return 0, present
	case filter.EQ:
		return v.SeekKey(c.order, c.key), after(c.key)
	case filter.SW:
		return v.SeekKey(c.order, c.key), prefixEnd(v, c.order, c.key, present)
	case filter.GT:
		return after(c.key), present
	case filter.GE:
		return v.SeekKey(c.order, c.key), present
	case filter.LT:
		return 0, v.SeekKey(c.order, c.key)
	case filter.LE:
		return 0, after(c.key)
	}
	return 0, 0
}

// prefixEnd is the rank of the first key that does not start with prefix.
func prefixEnd(v orderindex.View, order int, prefix []byte, present int) int {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return v.SeekKey(order, end[:i+1])
		}
	}
	return present // every key of 0xff bytes only starts with it
}
