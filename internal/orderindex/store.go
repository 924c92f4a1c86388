package orderindex

import (
	"bytes"
	"encoding/binary"
)

// An entry is stored as one blob in the arena:
//
//	key (16 bytes) | id | version | sort key 0 | … | sort key nkeys-1
//
// each field after the key as a uvarint n then n-1 bytes, n = 0 meaning
// absent: an absent id is the canonical text of the key, an absent version
// is unknown (empty), an absent sort key is missing. Nothing else is kept
// per entry but the blob's offset, by handle: a small integer that stays
// the entry's while it lives, and is what the orders and the hash table
// hold.

const (
	pageBits   = 16 // arena pages of 64 KiB; a larger blob has pages of its own
	pageSize   = 1 << pageBits
	arenaLimit = 1 << 32 // offsets are uint32

	handlePageBits = 14 // blob offsets by handle, in pages of 16 Ki handles
	handlePageSize = 1 << handlePageBits

	freeOff = ^uint32(0) // the offset of a released handle: no blob starts there
)

// store keeps the blobs of entries and their offsets by handle.
type store struct {
	nkeys int
	pages [][]byte // the arena; a blob never crosses a page boundary
	tail  uint64   // where the next blob goes
	live  int      // bytes of live blobs
	dead  int      // bytes of blobs (or parts) no longer used
	offs  [][]uint32
	nh    uint32   // handles ever given out
	free  []uint32 // released handles, given out again first
}

// fields is an entry (or a place being searched for) as orders compare it.
type fields struct {
	key     []byte // 16 bytes; nil in a probe, which then sorts before equal entries
	uuid    []byte // the id as 16 bytes when it is canonical text; else nil
	id      []byte // the id's text when it is not canonical
	missing bool
	sort    []byte
}

// appendField appends one field: absent (nil, when present is false) or
// its bytes.
func appendField(b, v []byte, present bool) []byte {
	if !present {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

// nextField returns the field at b[pos:], whether it is present, and where
// the next field starts.
func nextField(b []byte, pos int) (v []byte, present bool, end int) {
	if b[pos] == 0 {
		return nil, false, pos + 1
	}
	n, w := binary.Uvarint(b[pos:])
	pos += w
	end = pos + int(n) - 1
	return b[pos:end:end], true, end
}

// encode appends the blob of e.
func encode(b []byte, e *Entry) []byte {
	b = append(b, e.Key[:]...)
	if isCanonical(&e.Key, e.ID) {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(e.ID))+1)
		b = append(b, e.ID...)
	}
	b = appendField(b, e.Version, len(e.Version) > 0)
	for _, s := range e.Sort {
		b = appendField(b, s, s != nil)
	}
	return b
}

// blobLen returns the length of the blob at the start of b.
func (s *store) blobLen(b []byte) int {
	pos := 16
	for range 2 + s.nkeys {
		_, _, pos = nextField(b, pos)
	}
	return pos
}

// blobVersion returns a blob's version, nil when unknown.
func blobVersion(b []byte) []byte {
	_, _, pos := nextField(b, 16)
	v, _, _ := nextField(b, pos)
	return v
}

// fieldsOf decodes what order o compares of blob b (o = 0: the id alone;
// o = k+1: sort key k then the id).
func fieldsOf(b []byte, o int) fields {
	f := fields{key: b[:16:16]}
	id, present, pos := nextField(b, 16)
	if present {
		f.id = id
	} else {
		f.uuid = f.key
	}
	if o == 0 {
		return f
	}
	_, _, pos = nextField(b, pos) // the version
	for range o - 1 {
		_, _, pos = nextField(b, pos)
	}
	v, present, _ := nextField(b, pos)
	f.sort, f.missing = v, !present
	return f
}

// changed sets moved[o] to whether blobs a and b (of the same key) have a
// different place in order o: a different id moves an entry in every
// order, a different sort key k in order k+1.
func (s *store) changed(a, b []byte, moved []bool) {
	ida, oka, pa := nextField(a, 16)
	idb, okb, pb := nextField(b, 16)
	idChanged := oka != okb || !bytes.Equal(ida, idb)
	moved[0] = idChanged
	_, _, pa = nextField(a, pa)
	_, _, pb = nextField(b, pb)
	for k := range s.nkeys {
		var va, vb []byte
		var oka, okb bool
		va, oka, pa = nextField(a, pa)
		vb, okb, pb = nextField(b, pb)
		moved[k+1] = idChanged || oka != okb || !bytes.Equal(va, vb)
	}
}

// at returns the arena from offset off on.
func at(pages [][]byte, off uint32) []byte {
	return pages[off>>pageBits][off&(pageSize-1):]
}

func (s *store) off(h uint32) uint32 { return s.offs[h>>handlePageBits][h&(handlePageSize-1)] }

func (s *store) setOff(h, off uint32) { s.offs[h>>handlePageBits][h&(handlePageSize-1)] = off }

// blob returns the arena from the blob of handle h on.
func (s *store) blob(h uint32) []byte { return at(s.pages, s.off(h)) }

// touch reads the bytes of the blob at off that comparisons read first, so
// that they are on their way to the cache.
func (s *store) touch(off uint32) byte {
	b := at(s.pages, off)
	return b[16] ^ b[min(len(b)-1, 16+63)]
}

// key returns the key of handle h.
func (s *store) key(h uint32) []byte { return s.blob(h)[:16:16] }

// fields decodes what order o compares of handle h.
func (s *store) fields(h uint32, o int) fields { return fieldsOf(s.blob(h), o) }

// alloc reserves n bytes of arena, compacting it first when it is full.
func (s *store) alloc(n int) (uint32, []byte) {
	rel := int(s.tail & (pageSize - 1))
	if rel != 0 && rel+n > pageSize {
		s.tail += uint64(pageSize - rel) // to the next page
		rel = 0
	}
	pages := max(1, (n+pageSize-1)/pageSize)
	if s.tail+uint64(pages*pageSize) > arenaLimit {
		if s.dead == 0 {
			panic("orderindex: arena full (4 GiB)")
		}
		s.compact()
		return s.alloc(n)
	}
	if rel == 0 {
		s.pages = append(s.pages, make([]byte, max(n, pageSize)))
		s.pages = append(s.pages, make([][]byte, pages-1)...) // slots a large blob spans
	}
	off := uint32(s.tail)
	s.tail += uint64(n)
	if pages > 1 {
		s.tail = uint64(len(s.pages)) << pageBits
	}
	return off, at(s.pages, off)[:n:n]
}

// add stores a new blob and returns its handle.
func (s *store) add(b []byte) uint32 {
	off, dst := s.alloc(len(b))
	copy(dst, b)
	s.live += len(b)
	if n := len(s.free); n > 0 {
		h := s.free[n-1]
		s.free = s.free[:n-1]
		s.setOff(h, off)
		return h
	}
	if s.nh == freeOff {
		panic("orderindex: too many entries")
	}
	h := s.nh
	if h&(handlePageSize-1) == 0 {
		s.offs = append(s.offs, make([]uint32, handlePageSize))
	}
	s.nh++
	s.setOff(h, off)
	return h
}

// set replaces the blob of handle h: in place when the new one is no
// longer, else at the end of the arena.
func (s *store) set(h uint32, b []byte) {
	old := s.blob(h)
	n := s.blobLen(old)
	if len(b) <= n {
		copy(old, b)
		s.live -= n - len(b)
		s.dead += n - len(b)
		return
	}
	off, dst := s.alloc(len(b)) // may compact: old is not used after this
	copy(dst, b)
	s.setOff(h, off)
	s.live += len(b) - n
	s.dead += n
}

// release frees handle h and its blob.
func (s *store) release(h uint32) {
	n := s.blobLen(s.blob(h))
	s.live -= n
	s.dead += n
	s.setOff(h, freeOff)
	s.free = append(s.free, h)
}

// compactDue reports whether dead bytes exceed live ones (and a minimum,
// so that a small index is not copied again and again).
func (s *store) compactDue(minDead int) bool { return s.dead > s.live && s.dead >= minDead }

// compact copies the live blobs into a new arena, in handle order. Its
// cost, proportional to the live bytes, is paid for by the dead bytes
// that made it due.
func (s *store) compact() {
	old := s.pages
	s.pages, s.tail, s.dead = nil, 0, 0
	for h := range s.nh {
		off := s.off(h)
		if off == freeOff {
			continue
		}
		b := at(old, off)
		n := s.blobLen(b)
		off, dst := s.alloc(n)
		copy(dst, b[:n])
		s.setOff(h, off)
	}
}

// bytes is about what the store occupies.
func (s *store) bytes() int {
	n := cap(s.pages)*24 + cap(s.offs)*24 + cap(s.free)*4
	for _, p := range s.pages {
		n += cap(p)
	}
	for _, p := range s.offs {
		n += cap(p) * 4
	}
	return n
}

// live reports whether handle h holds an entry.
func (s *store) isLive(h uint32) bool { return s.off(h) != freeOff }

// entry decodes the blob of handle h into an Entry of its own bytes.
func (s *store) entry(h uint32) Entry {
	b := s.blob(h)
	e := Entry{Sort: make([][]byte, s.nkeys)}
	copy(e.Key[:], b)
	f := fieldsOf(b, 0)
	e.ID = idString(&f)
	v, _, pos := nextField(b, 16)
	v, _, pos = nextField(b, pos)
	e.Version = bytes.Clone(v)
	for k := range e.Sort {
		var present bool
		v, present, pos = nextField(b, pos)
		if present {
			e.Sort[k] = append([]byte{}, v...)
		}
	}
	return e
}

// idString returns the id of f as a string.
func idString(f *fields) string {
	if f.uuid != nil {
		var buf [36]byte
		return string(formatUUID(&buf, f.uuid))
	}
	return string(f.id)
}
