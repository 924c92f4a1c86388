package orderindex

import (
	"math/bits"
	"slices"
)

// order is one order of the entries: their refs in sorted chunks of
// between minChunk and maxChunk (but for a lone chunk), and a Fenwick tree
// over the chunks' lengths, which turns a rank into a chunk and back in
// O(log chunks).
type order struct {
	chunks  [][]uint32
	fences  [][3]uint64 // the prefix (see prefixOf) of each chunk's first entry
	fen     []int32     // fen[i] (1-based) sums the lengths of chunks (i - i&-i, i]
	present int         // entries with a value for the order's sort key
}

// sizing is how chunks are sized; tests shrink it to split and merge often.
type sizing struct {
	minChunk, maxChunk int
	growStep           int // a full chunk grows by this many refs (and its allocation size class)
	bulkChunk          int // refs per chunk in a bulk load
	minCompact         int // dead arena bytes below which the arena is never compacted
}

var defaultSizing = sizing{minChunk: 128, maxChunk: 512, growStep: 32, bulkChunk: 448, minCompact: 1 << 20}

// rebuild recomputes the Fenwick tree after chunks were added or removed.
func (r *order) rebuild() {
	m := len(r.chunks)
	if cap(r.fen) < m+1 || cap(r.fen) > 2*(m+1)+16 {
		r.fen = make([]int32, m+1, m+1+m/8)
	}
	r.fen = r.fen[:m+1]
	clear(r.fen)
	for i := 1; i <= m; i++ {
		r.fen[i] += int32(len(r.chunks[i-1]))
		if j := i + i&-i; j <= m {
			r.fen[j] += r.fen[i]
		}
	}
}

// add adds d to the length of chunk c in the tree.
func (r *order) add(c, d int) {
	for i := c + 1; i < len(r.fen); i += i & -i {
		r.fen[i] += int32(d)
	}
}

// prefix returns how many entries the chunks before c hold.
func (r *order) prefix(c int) int {
	n := 0
	for i := c; i > 0; i -= i & -i {
		n += int(r.fen[i])
	}
	return n
}

// locate returns the chunk and place of the entry of rank i (0 <= i < len).
func (r *order) locate(i int) (c, j int) {
	m := len(r.fen) - 1
	pos := 0
	for step := 1 << (bits.Len(uint(m)) - 1); step > 0; step >>= 1 {
		if next := pos + step; next <= m && int(r.fen[next]) <= i {
			pos = next
			i -= int(r.fen[next])
		}
	}
	return pos, i
}

// bytes is about what the order occupies.
func (r *order) bytes() int {
	n := cap(r.chunks)*24 + cap(r.fences)*24 + cap(r.fen)*4
	for _, c := range r.chunks {
		n += cap(c) * 4
	}
	return n
}

// tight returns a copy of refs with room for grow more, in an
// allocation of a size class of its own (so that cap counts all of it).
func tight(refs []uint32, grow int) []uint32 {
	c := slices.Grow([]uint32(nil), len(refs)+grow)
	return append(c, refs...)
}

// insertAt inserts h at place j of chunk c, growing it by a step when full.
func insertAt(c []uint32, j int, h uint32, grow int) []uint32 {
	if len(c) == cap(c) {
		c = tight(c, grow)
	}
	c = c[:len(c)+1]
	copy(c[j+1:], c[j:])
	c[j] = h
	return c
}

// removeAt removes place j of chunk c, shrinking it when it has much room.
func removeAt(c []uint32, j int, grow int) []uint32 {
	copy(c[j:], c[j+1:])
	c = c[:len(c)-1]
	if cap(c)-len(c) > 3*grow {
		c = tight(c, grow)
	}
	return c
}

// split replaces chunk c by its two halves; the fence of the second is
// the caller's to set.
func (r *order) split(c int, grow int) {
	ch := r.chunks[c]
	half := len(ch) / 2
	r.chunks = slices.Insert(r.chunks, c+1, tight(ch[half:], grow))
	r.fences = slices.Insert(r.fences, c+1, [3]uint64{})
	r.chunks[c] = tight(ch[:half], grow)
	r.rebuild()
}

// merge joins chunk c, too short, with its shorter neighbour, then splits
// the result in halves if it is too long. It returns the first of the
// chunks that result (one or two), whose fences are the caller's to set.
func (r *order) merge(c int, sz *sizing) int {
	a := c - 1
	if a < 0 || (c+1 < len(r.chunks) && len(r.chunks[c+1]) < len(r.chunks[a])) {
		a = c
	}
	joined := tight(r.chunks[a], len(r.chunks[a+1])+sz.growStep)
	joined = append(joined, r.chunks[a+1]...)
	r.chunks[a] = joined
	r.chunks = slices.Delete(r.chunks, a+1, a+2)
	r.fences = slices.Delete(r.fences, a+1, a+2)
	if len(joined) > sz.maxChunk {
		r.split(a, sz.growStep)
		return a
	}
	r.rebuild()
	return a
}

// chunksOf cuts sorted refs into chunks of at most size refs, of
// lengths that differ by one at most.
func chunksOf(refs []uint32, size int) [][]uint32 {
	if len(refs) == 0 {
		return nil
	}
	m := (len(refs) + size - 1) / size
	chunks := make([][]uint32, m)
	for i := range m {
		chunks[i] = tight(refs[i*len(refs)/m:(i+1)*len(refs)/m], 0)
	}
	return chunks
}
