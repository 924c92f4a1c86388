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
// per entry: the blob's offset in the arena, its ref, is what the hash
// table and the orders hold, so that reading an entry is one cache miss,
// not two. A ref changes when its blob moves (a longer blob replacing it,
// a compaction), and every reference to it is then rewritten.

const (
	pageBits   = 16 // arena pages of 64 KiB; a larger blob has pages of its own
	pageSize   = 1 << pageBits
	arenaLimit = 1 << 32 // refs are uint32
)

// store keeps the blobs of entries.
type store struct {
	nkeys int
	pages [][]byte // the arena; a blob never crosses a page boundary
	tail  uint64   // where the next blob goes
	live  int      // bytes of live blobs
	dead  int      // bytes of blobs (or parts) no longer used
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

// at returns the arena from ref on.
func at(pages [][]byte, ref uint32) []byte {
	return pages[ref>>pageBits][ref&(pageSize-1):]
}

// blob returns the arena from the blob at ref on.
func (s *store) blob(ref uint32) []byte { return at(s.pages, ref) }

// touch reads the bytes of the blob at ref that comparisons read first, so
// that they are on their way to the cache.
func (s *store) touch(ref uint32) byte {
	b := at(s.pages, ref)
	return b[16] ^ b[min(len(b)-1, 16+63)]
}

// key returns the key of the blob at ref.
func (s *store) key(ref uint32) []byte { return s.blob(ref)[:16:16] }

// fields decodes what order o compares of the blob at ref.
func (s *store) fields(ref uint32, o int) fields { return fieldsOf(s.blob(ref), o) }

// fits reports whether n more bytes fit in the arena.
func (s *store) fits(n int) bool {
	return s.tail+uint64(max(n, pageSize)) <= arenaLimit
}

// alloc reserves n bytes of arena (which must fit).
func (s *store) alloc(n int) (uint32, []byte) {
	rel := int(s.tail & (pageSize - 1))
	if rel != 0 && rel+n > pageSize {
		s.tail += uint64(pageSize - rel) // to the next page
		rel = 0
	}
	if rel == 0 {
		pages := max(1, (n+pageSize-1)/pageSize)
		s.pages = append(s.pages, make([]byte, max(n, pageSize)))
		s.pages = append(s.pages, make([][]byte, pages-1)...) // slots a large blob spans
	}
	ref := uint32(s.tail)
	s.tail += uint64(n)
	if n > pageSize {
		s.tail = uint64(len(s.pages)) << pageBits
	}
	return ref, at(s.pages, ref)[:n:n]
}

// add stores a blob and returns its ref.
func (s *store) add(b []byte) uint32 {
	ref, dst := s.alloc(len(b))
	copy(dst, b)
	s.live += len(b)
	return ref
}

// release counts the blob at ref as dead.
func (s *store) release(ref uint32) {
	n := s.blobLen(s.blob(ref))
	s.live -= n
	s.dead += n
}

// overwrite writes b over the blob at ref, if it is no longer, and reports
// whether it did.
func (s *store) overwrite(ref uint32, b []byte) bool {
	old := s.blob(ref)
	n := s.blobLen(old)
	if len(b) > n {
		return false
	}
	copy(old, b)
	s.live -= n - len(b)
	s.dead += n - len(b)
	return true
}

// compactDue reports whether dead bytes exceed live ones (and a minimum,
// so that a small index is not copied again and again).
func (s *store) compactDue(minDead int) bool { return s.dead > s.live && s.dead >= minDead }

// moveFrom copies the blob at ref in the arena old into this one, leaves
// its new ref in place of its first 4 bytes there (for forward), and
// returns it.
func (s *store) moveFrom(old [][]byte, ref uint32) uint32 {
	b := at(old, ref)
	n := s.blobLen(b)
	nref, dst := s.alloc(n)
	copy(dst, b[:n])
	s.live += n
	binary.LittleEndian.PutUint32(b, nref)
	return nref
}

// forward returns the new ref of the blob at ref in the arena old, once
// moveFrom moved it.
func forward(old [][]byte, ref uint32) uint32 { return binary.LittleEndian.Uint32(at(old, ref)) }

// bytes is about what the store occupies.
func (s *store) bytes() int {
	n := cap(s.pages) * 24
	for _, p := range s.pages {
		n += cap(p)
	}
	return n
}

// entry decodes the blob at ref into an Entry of its own bytes.
func (s *store) entry(ref uint32) Entry {
	b := s.blob(ref)
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
