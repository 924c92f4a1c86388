package orderindex

import "fmt"

// View reads an index under its read lock: it is valid only inside the
// function given to Index.Read. An order is a sort key's number (0 to
// nkeys-1) or ByID; ranks are 0-based. Like slices, its methods panic on
// an order or a rank out of range.
type View struct{ x *Index }

// ord returns the internal number of an order.
func (v View) ord(order int) int {
	if order < ByID || order >= v.x.st.nkeys {
		panic(fmt.Sprintf("orderindex: order %d of an index of %d sort keys", order, v.x.st.nkeys))
	}
	return order + 1
}

// Len returns the number of entries.
func (v View) Len() int { return v.x.tab.n }

// Get returns the entry of the given key, its bytes copied.
func (v View) Get(key [16]byte) (Entry, bool) {
	slot, found := v.x.tab.find(&v.x.st, key[:])
	if !found {
		return Entry{}, false
	}
	return v.x.st.entry(v.x.tab.ref(slot)), true
}

// ref returns the entry of rank i in order o.
func (v View) ref(o, i int) uint32 {
	if i < 0 || i >= v.x.tab.n {
		panic(fmt.Sprintf("orderindex: rank %d of %d entries", i, v.x.tab.n))
	}
	r := &v.x.orders[o]
	c, j := r.locate(i)
	return r.chunks[c][j]
}

// At returns the key and id of the entry of rank i in the order.
func (v View) At(order, i int) (key [16]byte, id string) {
	f := v.x.st.fields(v.ref(v.ord(order), i), 0)
	copy(key[:], f.key)
	return key, idString(&f)
}

// SortKey returns the sort key of the entry of rank i in the order (a copy,
// nil when missing): with its id, the position a cursor names. In ByID it
// is always nil and not missing.
func (v View) SortKey(order, i int) (sort []byte, missing bool) {
	o := v.ord(order)
	f := v.x.st.fields(v.ref(o, i), o)
	switch {
	case o == 0:
		return nil, false
	case f.missing:
		return nil, true
	}
	return append([]byte{}, f.sort...), false
}

// Seek returns the rank of the first entry not before the position (sort,
// missing, id) in the order: an entry at that position included. In ByID,
// sort and missing are ignored.
func (v View) Seek(order int, sort []byte, missing bool, id string) int {
	o := v.ord(order)
	p := fields{missing: missing && o != 0, sort: sort}
	if missing {
		p.sort = nil
	}
	u, canonical := parseUUID(id)
	if canonical {
		p.uuid = u[:]
	} else {
		p.id = []byte(id)
	}
	ss := [1]search{{o: o, p: p}}
	v.x.lowerBounds(ss[:])
	return v.x.rank(&ss[0])
}

// SeekKey returns the rank of the first entry whose sort key in the order
// is present and not less than sort (Present when there is none): the
// start of a range of values. In ByID the id is the sort key.
func (v View) SeekKey(order int, sort []byte) int {
	if order == ByID {
		return v.Seek(ByID, nil, false, string(sort))
	}
	return v.Seek(order, sort, false, "")
}

// Present returns how many entries have a value for the order's sort key:
// they are the ranks below it. In ByID, every entry.
func (v View) Present(order int) int {
	if o := v.ord(order); o != 0 {
		return v.x.orders[o].present
	}
	return v.x.tab.n
}
