package orderindex

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
)

// Builder loads many entries into a new index at once, many times faster
// than as many Puts: the entries are stored as they come, and each order
// is sorted once at the end (the orders in parallel). It is not safe for
// concurrent use; the index is not visible to anyone before Index.
type Builder struct {
	x    *Index
	refs []uint32 // the blobs added, in order
}

// NewBuilder returns a builder of an index of entries with nkeys sort keys.
func NewBuilder(nkeys int) *Builder { return &Builder{x: New(nkeys)} }

// Add adds e. Of entries of one key, the one that stays is the one that
// Puts in the same order would leave. It panics as Put does.
func (b *Builder) Add(e Entry) {
	x := b.x
	x.encode(&e)
	if !x.st.fits(len(x.buf)) {
		panic("orderindex: arena full (4 GiB)")
	}
	b.refs = append(b.refs, x.st.add(x.buf))
}

// Len is how many entries were added (those of one key counted each time).
func (b *Builder) Len() int { return len(b.refs) }

// Index returns the index of the entries added; the builder must not be
// used after.
func (b *Builder) Index() *Index {
	x, refs := b.x, b.refs
	b.x, b.refs = nil, nil
	x.dedupe(refs)
	x.sortOrders(x.liveRefs(refs))
	x.compactIfDue()
	return x
}

// dedupe fills the hash table with the blobs added, in the order they
// were, keeping one per key as Put would.
func (x *Index) dedupe(refs []uint32) {
	x.tab.slots = make([]uint32, max(minSlots, len(refs)*10/7))
	for _, ref := range refs {
		key := x.st.key(ref)
		slot, found := x.tab.find(&x.st, key)
		if !found {
			x.tab.place(key, ref)
			x.tab.n++
			continue
		}
		old := x.tab.ref(slot)
		vo, vn := blobVersion(x.st.blob(old)), blobVersion(x.st.blob(ref))
		if vo != nil && vn != nil && bytes.Compare(vn, vo) < 0 {
			x.st.release(ref)
			continue
		}
		x.tab.set(slot, ref)
		x.st.release(old)
	}
}

// liveRefs returns the refs in the table, in the order of the arena (to
// read it in order), in the memory of refs.
func (x *Index) liveRefs(refs []uint32) []uint32 {
	refs = refs[:0]
	for _, v := range x.tab.slots {
		if v != 0 {
			refs = append(refs, v-1)
		}
	}
	slices.Sort(refs)
	return refs
}

// sortOrders sorts the live refs into every order, one after the other in
// one buffer: a load's peak of memory matters more than its seconds (at a
// million entries the buffer is 32 MiB, the sorts about a second each).
func (x *Index) sortOrders(live []uint32) {
	items := make([]sortItem, len(live))
	for o := range x.orders {
		x.sortOrder(o, live, items)
	}
}

// sortItem is a ref with the first 24 bytes of its place in an order.
type sortItem struct {
	prefix [3]uint64
	ref    uint32
}

// sortOrder builds order o of the live refs from scratch. Comparing
// prefixes first keeps the sort in a flat array; only equal prefixes read
// the entries.
func (x *Index) sortOrder(o int, live []uint32, items []sortItem) {
	present := 0
	for i, ref := range live {
		f := x.st.fields(ref, o)
		if !f.missing {
			present++
		}
		items[i] = sortItem{prefix: prefixOf(o, &f), ref: ref}
	}
	slices.SortFunc(items, func(a, b sortItem) int {
		if c := comparePrefix(a.prefix, b.prefix); c != 0 {
			return c
		}
		fa, fb := x.st.fields(a.ref, o), x.st.fields(b.ref, o)
		return compare(o, &fa, &fb)
	})
	refs := make([]uint32, len(items))
	for i, it := range items {
		refs[i] = it.ref
	}
	r := &x.orders[o]
	r.chunks, r.present = chunksOf(refs, x.sz.bulkChunk), present
	r.fences = make([][3]uint64, len(r.chunks))
	for c := range r.chunks {
		x.refence(o, c)
	}
	r.rebuild()
}

// comparePrefix compares two prefixes.
func comparePrefix(a, b [3]uint64) int {
	switch {
	case a[0] != b[0]:
		return cmp.Compare(a[0], b[0])
	case a[1] != b[1]:
		return cmp.Compare(a[1], b[1])
	}
	return cmp.Compare(a[2], b[2])
}

// prefixOf returns the first 24 bytes of an encoding of f's place in order
// o that orders as compare does: a byte for missing, the sort key (its 0
// bytes escaped as 0 1) ended by 0 0, then the id; zeros after. Prefixes
// that differ order as the entries do.
func prefixOf(o int, f *fields) [3]uint64 {
	const n = 24
	var buf [n + 40]byte // room for what is written past n before stopping
	w := buf[:0]
	if o != 0 {
		if f.missing {
			w = append(w, 1)
		} else {
			w = append(w, 0)
			for _, c := range f.sort {
				if len(w) >= n {
					break
				}
				if c == 0 {
					w = append(w, 0, 1)
				} else {
					w = append(w, c)
				}
			}
			w = append(w, 0, 0)
		}
	}
	if len(w) < n {
		id := f.id
		if f.uuid != nil {
			var text [36]byte
			id = formatUUID(&text, f.uuid)
		}
		w = append(w, id[:min(len(id), n-len(w))]...)
	}
	var p [3]uint64
	for i := range p {
		p[i] = binary.BigEndian.Uint64(buf[8*i:])
	}
	return p
}
