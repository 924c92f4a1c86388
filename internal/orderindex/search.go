package orderindex

// search is one search of the first place not before p in order o: once
// the chunk c is found, [i, k) are the places of it still possible.
type search struct {
	o       int
	p       fields
	c, i, k int
	ref     uint32 // the entry in the middle of [i, k)
	sink    byte   // what reads only meant to bring memory to the cache read
}

// rank returns the result of a search as a rank in its order.
func (x *Index) rank(s *search) int { return x.orders[s.o].prefix(s.c) + s.i }

// lowerBounds runs searches, each to the first place in its order not
// before its p: chunk c, place i (which may be the chunk's length: the end
// of it). Every entry a search reads is a cache miss in a large index, so
// the searches go in step: each step loads the middle entries of all of
// them (and the places the next step may look at) before comparing any,
// and their misses overlap (an insert searches every order at once).
func (x *Index) lowerBounds(ss []search) {
	for n := range ss {
		x.findChunk(&ss[n])
	}
	for {
		more := false
		for n := range ss {
			if s := &ss[n]; s.i < s.k {
				ch := x.orders[s.o].chunks[s.c]
				mid := int(uint(s.i+s.k) >> 1)
				s.ref = ch[mid]
				s.sink ^= byte(ch[int(uint(s.i+mid)>>1)]) // the next middle, either way
				if next := int(uint(mid+1+s.k) >> 1); next < s.k {
					s.sink ^= byte(ch[next])
				}
				more = true
			}
		}
		if !more {
			return
		}
		for n := range ss {
			if s := &ss[n]; s.i < s.k {
				s.sink ^= x.st.touch(s.ref)
			}
		}
		for n := range ss {
			if s := &ss[n]; s.i < s.k {
				f := x.st.fields(s.ref, s.o)
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

// searchAll runs the searches of the place of the entry at ref in the
// orders where in[o] is want (every order when in is nil), and returns
// them (in x.ss, for the caller's use until the next search).
func (x *Index) searchAll(ref uint32, in []bool, want bool) []search {
	ss := x.ss[:0]
	for o := range x.orders {
		if in == nil || in[o] == want {
			ss = append(ss, search{o: o, p: x.st.fields(ref, o)})
		}
	}
	x.lowerBounds(ss)
	x.ss = ss
	return ss
}

// forgetSearches drops what searches point to in the arena.
func (x *Index) forgetSearches() { clear(x.ss[:cap(x.ss)]) }

// insertAll puts the entry at ref in its place in the orders where moved
// says (every order when moved is nil).
func (x *Index) insertAll(ref uint32, moved []bool) {
	for n := range x.searchAll(ref, moved, true) {
		x.insert(&x.ss[n], ref)
	}
	x.forgetSearches()
}

// removeAll takes the entry at ref out of the orders where moved says
// (every order when moved is nil).
func (x *Index) removeAll(ref uint32, moved []bool) {
	for n := range x.searchAll(ref, moved, true) {
		x.remove(&x.ss[n], ref)
	}
	x.forgetSearches()
}

// relinkAll replaces ref by to in the orders where moved is false: the
// blob moved, not its place.
func (x *Index) relinkAll(ref, to uint32, moved []bool) {
	for n := range x.searchAll(ref, moved, false) {
		s := &x.ss[n]
		c, j := x.found(s, ref)
		x.orders[s.o].chunks[c][j] = to
	}
	x.forgetSearches()
}

// found returns the place of ref that search s found.
func (x *Index) found(s *search, ref uint32) (c, j int) {
	r := &x.orders[s.o]
	c, j = s.c, s.i
	if c < len(r.chunks) && j == len(r.chunks[c]) {
		c, j = c+1, 0
	}
	if c >= len(r.chunks) || r.chunks[c][j] != ref {
		panic("orderindex: an entry is not in its place (index corrupt)")
	}
	return c, j
}

// insert puts the entry at ref at the place s found in its order.
func (x *Index) insert(s *search, ref uint32) {
	o, r := s.o, &x.orders[s.o]
	if !s.p.missing {
		r.present++
	}
	if len(r.chunks) == 0 {
		r.chunks = append(r.chunks, tight([]uint32{ref}, x.sz.growStep))
		r.fences = append(r.fences, prefixOf(o, &s.p))
		r.rebuild()
		return
	}
	c, j := s.c, s.i
	r.chunks[c] = insertAt(r.chunks[c], j, ref, x.sz.growStep)
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

// remove takes the entry at ref out of its order at the place s found.
func (x *Index) remove(s *search, ref uint32) {
	o, r := s.o, &x.orders[s.o]
	if !s.p.missing {
		r.present--
	}
	c, j := x.found(s, ref)
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
