package orderindex

import "runtime"

// search is one search of the first place not before p in order o: once
// the chunk c is found, [i, k) are the places of it still possible.
type search struct {
	o       int
	p       fields
	c, i, k int
	h, off  uint32 // the handle in the middle of [i, k), and its blob's offset
}

// place returns the result of a search: its rank in the order.
func (x *Index) rank(s *search) int { return x.orders[s.o].prefix(s.c) + s.i }

// lowerBounds runs searches, each to the first place in its order not
// before its p: chunk c, place i (which may be the chunk's length: the end
// of it). Every entry a search reads is a cache miss in a large index, so
// the searches go in step: each step loads the middle entries of all of
// them before comparing any, and their misses overlap (an insert searches
// every order at once).
func (x *Index) lowerBounds(ss []search) {
	for n := range ss {
		x.findChunk(&ss[n])
	}
	for {
		more := false
		for n := range ss {
			if s := &ss[n]; s.i < s.k {
				s.h = x.orders[s.o].chunks[s.c][int(uint(s.i+s.k)>>1)]
				more = true
			}
		}
		if !more {
			return
		}
		for n := range ss {
			if s := &ss[n]; s.i < s.k {
				s.off = x.st.off(s.h)
			}
		}
		var touched byte
		for n := range ss {
			if s := &ss[n]; s.i < s.k {
				touched ^= x.st.touch(s.off)
			}
		}
		runtime.KeepAlive(touched) // the loads above are what they are for
		for n := range ss {
			if s := &ss[n]; s.i < s.k {
				f := fieldsOf(at(x.st.pages, s.off), s.o)
				if mid := int(uint(s.i+s.k) >> 1); compare(s.o, &f, &s.p) < 0 {
					s.i = mid + 1
				} else {
					s.k = mid
				}
			}
		}
	}
}

// findChunk sets s.c to the last chunk whose first entry is before s.p, by
// the fences, without reading entries but where a fence equals s.p's
// prefix; when there is none, the search is done at the start.
func (x *Index) findChunk(s *search) {
	r := &x.orders[s.o]
	pp := prefixOf(s.o, &s.p)
	lo, hi := 0, len(r.chunks) // the first chunk whose first entry is not before p
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		c := comparePrefix(r.fences[mid], pp)
		if c == 0 {
			c = x.cmp(s.o, r.chunks[mid][0], &s.p)
		}
		if c < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		s.c, s.i, s.k = 0, 0, 0
		return
	}
	s.c, s.i, s.k = lo-1, 1, len(r.chunks[lo-1]) // the chunk's first entry is before p
}

// searches returns x's searches of handle h's place in the orders where
// moved says (every order when moved is nil), run.
func (x *Index) searches(h uint32, moved []bool) []search {
	ss := x.ss[:0]
	for o := range x.orders {
		if moved == nil || moved[o] {
			ss = append(ss, search{o: o, p: x.st.fields(h, o)})
		}
	}
	x.lowerBounds(ss)
	x.ss = ss[:0]
	return ss
}

// insertAll puts handle h in its place in the orders where moved says
// (every order when moved is nil).
func (x *Index) insertAll(h uint32, moved []bool) {
	for _, s := range x.searches(h, moved) {
		x.insert(&s, h)
	}
	clear(x.ss[:cap(x.ss)]) // no pointers into the arena kept
}

// removeAll takes handle h out of the orders where moved says (every order
// when moved is nil).
func (x *Index) removeAll(h uint32, moved []bool) {
	for _, s := range x.searches(h, moved) {
		x.remove(&s, h)
	}
	clear(x.ss[:cap(x.ss)])
}

// insert puts handle h at the place s found in its order.
func (x *Index) insert(s *search, h uint32) {
	o, r := s.o, &x.orders[s.o]
	if !s.p.missing {
		r.present++
	}
	if len(r.chunks) == 0 {
		r.chunks = append(r.chunks, tight([]uint32{h}, x.sz.growStep))
		r.fences = append(r.fences, prefixOf(o, &s.p))
		r.rebuild()
		return
	}
	c, j := s.c, s.i
	r.chunks[c] = insertAt(r.chunks[c], j, h, x.sz.growStep)
	if j == 0 {
		r.fences[c] = prefixOf(o, &s.p)
	}
	if len(r.chunks[c]) > x.sz.maxChunk {
		r.split(c, x.sz.growStep)
		x.refence(o, c+1)
		return
	}
	r.add(c, 1)
}

// remove takes handle h out of its order at the place s found.
func (x *Index) remove(s *search, h uint32) {
	o, r := s.o, &x.orders[s.o]
	if !s.p.missing {
		r.present--
	}
	c, j := s.c, s.i
	if c < len(r.chunks) && j == len(r.chunks[c]) {
		c, j = c+1, 0
	}
	if c >= len(r.chunks) || r.chunks[c][j] != h {
		panic("orderindex: an entry is not in its place (index corrupt)")
	}
	r.chunks[c] = removeAt(r.chunks[c], j, x.sz.growStep)
	switch {
	case len(r.chunks) == 1 && len(r.chunks[0]) == 0:
		r.chunks, r.fences = nil, nil
		r.rebuild()
	case len(r.chunks) > 1 && len(r.chunks[c]) < x.sz.minChunk:
		a := r.merge(c, &x.sz)
		x.refence(o, a)
		x.refence(o, a+1)
	default:
		r.add(c, -1)
		if j == 0 {
			x.refence(o, c)
		}
	}
}

// refence sets the fence of chunk c of order o, if there is one.
func (x *Index) refence(o, c int) {
	r := &x.orders[o]
	if c < len(r.chunks) {
		f := x.st.fields(r.chunks[c][0], o)
		r.fences[c] = prefixOf(o, &f)
	}
}
