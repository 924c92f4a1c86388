// Package orderindex keeps a set of entries in several orders at once, so
// that the i-th entry of an order, and the rank of a place in it, are found
// in O(log n): the in-memory order index from which list pages of large
// directories are served (a page at any offset, an exact total, cursors,
// and ranges of a sort key), whatever their size.
//
// An entry is a 16-byte key (its identity), an id, an opaque version, and a
// fixed number of sort keys, each a byte string or missing. Order k sorts
// the entries with a value for sort key k first, by that value and then by
// id; then those without, by id. ByID sorts by id alone. (Entries of equal
// ids, which callers should not have, are ordered by key.) Ids, values and
// versions compare as bytes: the package knows nothing of LDAP or SCIM, and
// what the bytes mean (normalised attribute values, entryUUIDs, change
// sequence numbers) is its caller's business.
//
// It is compact and invisible to the garbage collector: per entry, one
// blob of its bytes in an arena of 64 KiB pages, and its offset in the
// arena in a hash table of uint32 and in each order's sorted chunks of
// uint32, with a Fenwick tree over the chunks' lengths per order. No Go
// pointer per entry. At a million entries of five short sort keys (a
// userName, a displayName, a familyName, two timestamps) it takes about
// 113 bytes an entry; the arena holds at most 4 GiB of entries' bytes
// (some 50 million such entries).
//
// Costs: Put and Delete take O(log n + B) per order (B, the chunk size, is
// at most 512), At O(log(n/B)), Seek and SeekKey O(log n), Len and Present
// O(1). Each entry a search compares is a cache miss in a large index, and
// the searches of a Put in every order go in step so that their misses
// overlap; still, loading many entries is several times faster with a
// Builder, which sorts each order once.
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
	// touched sinks the reads that only bring memory to the cache ahead
	// of its use (written under the write lock only).
	touched byte
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
	x.mu.Lock()
	defer x.mu.Unlock()
	x.encode(&e)
	if !x.st.fits(len(x.buf)) {
		x.compact()
		if !x.st.fits(len(x.buf)) {
			panic("orderindex: arena full (4 GiB)")
		}
	}
	slot, found := x.tab.find(&x.st, e.Key[:])
	if !found {
		ref := x.st.add(x.buf)
		x.tab.insert(&x.st, ref)
		x.insertAll(ref, nil)
		return true
	}
	return x.replace(slot)
}

// encode encodes e into x.buf, or panics unless e has one Sort element per
// sort key.
func (x *Index) encode(e *Entry) {
	if len(e.Sort) != x.st.nkeys {
		panic(fmt.Sprintf("orderindex: entry with %d sort keys in an index of %d", len(e.Sort), x.st.nkeys))
	}
	x.buf = encode(x.buf[:0], e)
}

// replace puts the blob in x.buf in the place of the entry in table slot
// slot, moving it in the orders where its place changes.
func (x *Index) replace(slot int) bool {
	ref := x.tab.ref(slot)
	old := x.st.blob(ref)
	if vo, vn := blobVersion(old), blobVersion(x.buf); vo != nil && vn != nil && bytes.Compare(vn, vo) < 0 {
		return false
	}
	x.st.changed(old, x.buf, x.moved)
	x.removeAll(ref, x.moved)
	if !x.st.overwrite(ref, x.buf) {
		to := x.st.add(x.buf)
		x.relinkAll(ref, to, x.moved)
		x.tab.set(slot, to)
		x.st.release(ref)
		ref = to
	}
	x.insertAll(ref, x.moved)
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
	ref := x.tab.ref(slot)
	x.removeAll(ref, nil)
	x.tab.remove(&x.st, slot)
	x.st.release(ref)
	x.compactIfDue()
	return true
}

func (x *Index) compactIfDue() {
	if x.st.compactDue(x.sz.minCompact) {
		x.compact()
	}
}

// compact copies the live blobs into a new arena, and rewrites every ref
// (the orders' places and fences do not change). Its cost, proportional to
// the live entries, is paid for by the dead bytes that made it due. The
// blobs are copied in id order, so that pages of ByID lists read the arena
// in order.
func (x *Index) compact() {
	old := x.st.pages
	x.st.pages, x.st.tail, x.st.live, x.st.dead = nil, 0, 0, 0
	for _, ch := range x.orders[0].chunks {
		for i, ref := range ch {
			x.prefetch(old, ch, i)
			ch[i] = x.st.moveFrom(old, ref)
		}
	}
	for i, v := range x.tab.slots {
		if v != 0 {
			x.tab.set(i, forward(old, v-1))
		}
	}
	for o := 1; o < len(x.orders); o++ {
		for _, ch := range x.orders[o].chunks {
			for i, ref := range ch {
				x.prefetch(old, ch, i)
				ch[i] = forward(old, ref)
			}
		}
	}
}

// prefetch reads the blob refs[i+prefetchDistance] in the arena old, so
// that a few cache misses are on their way at once.
func (x *Index) prefetch(old [][]byte, refs []uint32, i int) {
	if i+prefetchDistance < len(refs) {
		x.touched ^= at(old, refs[i+prefetchDistance])[0]
	}
}

// prefetchDistance is how far ahead compact reads.
const prefetchDistance = 8

// Get returns the entry of the given key, its bytes copied.
func (x *Index) Get(key [16]byte) (Entry, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return View{x: x}.Get(key)
}

// Len returns the number of entries.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.tab.n
}

// Read calls fn with a view of the index, under the read lock: every call
// on the view sees the same state, and writers wait until fn returns. fn
// must not keep the view, nor call any method of the index: not only Put
// and Delete, but Get, Len, Bytes and Read too, which lock again and would
// deadlock once a writer waits (the view has Get and Len).
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

// cmp compares the entry at ref to p in order o.
func (x *Index) cmp(o int, ref uint32, p *fields) int {
	f := x.st.fields(ref, o)
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
