package orderindex

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Builder loads many entries into a new index at once, several times
// faster than as many Puts: the entries are stored as they come, and each
// order is sorted once at the end (the orders in parallel). It is not safe
// for concurrent use; the index is not visible to anyone before Index.
type Builder struct {
	x *Index
}

// NewBuilder returns a builder of an index of entries with nkeys sort keys.
func NewBuilder(nkeys int) *Builder { return &Builder{x: New(nkeys)} }

// Add adds e. Of entries of the same key, the last one added stays, but
// that one whose version is smaller than the version of one before, when
// both are known (as with Index.Put).
func (b *Builder) Add(e Entry) {
	x := b.x
	if len(e.Sort) != x.st.nkeys {
		panic(fmt.Sprintf("orderindex: entry with %d sort keys in an index of %d", len(e.Sort), x.st.nkeys))
	}
	x.buf = encode(x.buf[:0], &e)
	x.st.add(x.buf)
}

// Index returns the index of the entries added; the builder must not be
// used after.
func (b *Builder) Index() *Index {
	x := b.x
	b.x = nil
	x.dedupe()
	x.compactIfDue()
	x.sortOrders()
	return x
}

// dedupe fills the hash table with the handles added, in the order they
// were, keeping one handle per key as Put would.
func (x *Index) dedupe() {
	x.tab.slots = make([]uint32, max(minSlots, int(x.st.nh)*10/7))
	for h := range x.st.nh {
		key := x.st.key(h)
		slot, found := x.tab.find(&x.st, key)
		if !found {
			x.tab.place(key, h)
			x.tab.n++
			continue
		}
		old := x.tab.handle(slot)
		vo, vn := blobVersion(x.st.blob(old)), blobVersion(x.st.blob(h))
		if vo != nil && vn != nil && bytes.Compare(vn, vo) < 0 {
			x.st.release(h)
			continue
		}
		x.tab.slots[slot] = h + 1
		x.st.release(old)
	}
}

// sortOrders sorts every order, as many at a time as there are processors.
func (x *Index) sortOrders() {
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(x.orders)) {
		wg.Go(func() {
			for o := range work {
				x.sortOrder(o)
			}
		})
	}
	for o := range x.orders {
		work <- o
	}
	close(work)
	wg.Wait()
}

// sortItem is a handle with the first 24 bytes of its place in an order.
type sortItem struct {
	prefix [3]uint64
	h      uint32
}

// sortOrder builds order o from scratch. Comparing prefixes first keeps
// the sort in a flat array; only equal prefixes read the entries.
func (x *Index) sortOrder(o int) {
	items := make([]sortItem, 0, x.tab.n)
	present := 0
	for h := range x.st.nh {
		if !x.st.isLive(h) {
			continue
		}
		f := x.st.fields(h, o)
		if !f.missing {
			present++
		}
		items = append(items, sortItem{prefix: prefixOf(o, &f), h: h})
	}
	slices.SortFunc(items, func(a, b sortItem) int {
		if c := comparePrefix(a.prefix, b.prefix); c != 0 {
			return c
		}
		fa, fb := x.st.fields(a.h, o), x.st.fields(b.h, o)
		return compare(o, &fa, &fb)
	})
	handles := make([]uint32, len(items))
	for i, it := range items {
		handles[i] = it.h
	}
	items = nil
	r := &x.orders[o]
	r.chunks, r.present = chunksOf(handles, x.sz.bulkChunk), present
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
