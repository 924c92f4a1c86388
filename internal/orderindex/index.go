// Package orderindex keeps a set of entries in several orders at once, so
// that the i-th entry of an order, and the rank of a place in it, are found
// in O(log n): the in-memory order index from which list pages of large
// directories are served (a page at any offset, an exact total, cursors,
// and ranges of a sort key), whatever their size.
//
// An entry is a 16-byte key (its identity), an id, an opaque version, and a
// fixed number of sort keys, each a byte string or missing. Order k sorts
// the entries with a value for sort key k first, by that value and then by
// id; then those without, by id. ByID sorts by id alone. Ids, values and
// versions compare as bytes: the package knows nothing of LDAP or SCIM, and
// what the bytes mean (normalised attribute values, entryUUIDs, change
// sequence numbers) is its caller's business.
//
// It is compact and invisible to the garbage collector: per entry, one
// blob of its bytes in an arena of 64 KiB pages, its offset in a []uint32,
// a handle in a hash table of uint32 and in each order's chunks of
// uint32. At a million entries of five short sort keys it takes about 115
// bytes an entry, and holds no Go pointer per entry.
package orderindex

import (
	"bytes"
	"fmt"
	"sync"
)

// ByID is the order of the entries by id alone.
const ByID = -1

// Entry is one entry of an index.
type Entry struct {
	// Key is the entry's identity (an entryUUID's 16 bytes).
	Key [16]byte
	// ID is the resource id; ids order as bytes. When it is the canonical
	// lower-case text of Key ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"), as
	// it mostly is, it costs no space.
	ID string
	// Version orders the states of an entry (bytes.Compare); empty is
	// unknown. See Index.Put.
	Version []byte
	// Sort holds the entry's sort keys, one per sort key of the index: nil
	// when the entry has no value for it (empty but not nil is a value).
	Sort [][]byte
}

// Index is a set of entries in several orders. It is safe for concurrent
// use: writes (Put, Delete) are exclusive, reads (Get, Len, Read) shared.
type Index struct {
	mu     sync.RWMutex
	st     store
	tab    table
	orders []order // orders[0] by id; orders[k+1] by sort key k
	sz     sizing
	buf    []byte   // the blob being written
	moved  []bool   // the orders a replaced entry moves in
	ss     []search // searches of an entry's places
}

// New returns an empty index of entries with nkeys sort keys each.
func New(nkeys int) *Index { return newSized(nkeys, defaultSizing) }

func newSized(nkeys int, sz sizing) *Index {
	if nkeys < 0 {
		panic(fmt.Sprintf("orderindex: %d sort keys", nkeys))
	}
	return &Index{
		st:     store{nkeys: nkeys},
		orders: make([]order, nkeys+1),
		sz:     sz,
		moved:  make([]bool, nkeys+1),
	}
}

// Put inserts e, or replaces the entry of the same key. It ignores e, and
// returns false, when both its version and the stored entry's are known
// (not empty) and e's is smaller: a change stream may deliver an old state
// after a newer one. An entry whose sort keys and id do not change keeps
// its place in every order. Put panics unless e has one Sort element per
// sort key of the index.
func (x *Index) Put(e Entry) bool {
	if len(e.Sort) != x.st.nkeys {
		panic(fmt.Sprintf("orderindex: entry with %d sort keys in an index of %d", len(e.Sort), x.st.nkeys))
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.buf = encode(x.buf[:0], &e)
	slot, found := x.tab.find(&x.st, e.Key[:])
	if !found {
		h := x.st.add(x.buf)
		x.tab.insert(&x.st, h)
		x.insertAll(h, nil)
		return true
	}
	return x.replace(x.tab.handle(slot))
}

// replace puts the blob in x.buf in the place of handle h's, moving h in
// the orders where its place changes.
func (x *Index) replace(h uint32) bool {
	old := x.st.blob(h)
	if vo, vn := blobVersion(old), blobVersion(x.buf); vo != nil && vn != nil && bytes.Compare(vn, vo) < 0 {
		return false
	}
	x.st.changed(old, x.buf, x.moved)
	x.removeAll(h, x.moved)
	x.st.set(h, x.buf)
	x.insertAll(h, x.moved)
	x.compactIfDue()
	return true
}

// Delete removes the entry of the given key, and reports whether there was
// one.
func (x *Index) Delete(key [16]byte) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	slot, found := x.tab.find(&x.st, key[:])
	if !found {
		return false
	}
	h := x.tab.handle(slot)
	x.removeAll(h, nil)
	x.tab.remove(&x.st, slot)
	x.st.release(h)
	x.compactIfDue()
	return true
}

func (x *Index) compactIfDue() {
	if x.st.compactDue(x.sz.minCompact) {
		x.st.compact()
	}
}

// Get returns the entry of the given key, its bytes copied.
func (x *Index) Get(key [16]byte) (Entry, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	slot, found := x.tab.find(&x.st, key[:])
	if !found {
		return Entry{}, false
	}
	return x.st.entry(x.tab.handle(slot)), true
}

// Len returns the number of entries.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.tab.n
}

// Read calls fn with a view of the index, under the read lock: every call
// on the view sees the same state, and writers wait until fn returns. fn
// must not keep the view, nor call the index's write methods (a deadlock).
func (x *Index) Read(fn func(v View)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	fn(View{x: x})
}

// Bytes returns about how many bytes of memory the index occupies.
func (x *Index) Bytes() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := x.st.bytes() + x.tab.bytes() + cap(x.buf)
	for i := range x.orders {
		n += x.orders[i].bytes()
	}
	return n
}

// cmp compares handle h to p in order o.
func (x *Index) cmp(o int, h uint32, p *fields) int {
	f := x.st.fields(h, o)
	return compare(o, &f, p)
}

// compare orders a and b in order o: by presence and value of the sort key
// (but in order 0), then by id, then by key (when both have one), so that
// no two entries are equal.
func compare(o int, a, b *fields) int {
	if o != 0 {
		if a.missing != b.missing {
			if a.missing {
				return 1
			}
			return -1
		}
		if c := bytes.Compare(a.sort, b.sort); c != 0 {
			return c
		}
	}
	if c := compareID(a, b); c != 0 || a.key == nil || b.key == nil {
		return c
	}
	return bytes.Compare(a.key, b.key)
}
