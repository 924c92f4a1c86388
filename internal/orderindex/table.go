package orderindex

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// table finds an entry's ref by its key: open addressing with linear
// probing in a []uint32 of ref+1 (0 is an empty slot), the keys themselves
// read from the blobs. Its size need not be a power of two (a
// slot is chosen by multiplying, not masking), so that it grows by half:
// between half and three quarters full, 5 to 8 bytes an entry.
type table struct {
	slots []uint32
	n     int
}

const minSlots = 8

// hashKey mixes the 16 bytes of a key: UUIDs of version 1 are far from
// random in places.
func hashKey(k []byte) uint64 {
	lo := binary.LittleEndian.Uint64(k)
	hi := binary.LittleEndian.Uint64(k[8:])
	h := lo*0x9e3779b97f4a7c15 ^ bits.RotateLeft64(hi*0xc2b2ae3d27d4eb4f, 31)
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>32
}

// home is the slot where a key's probe starts.
func (t *table) home(k []byte) int {
	return int((hashKey(k) >> 32) * uint64(len(t.slots)) >> 32)
}

// find returns the slot holding key k, or false.
func (t *table) find(s *store, k []byte) (int, bool) {
	if t.n == 0 {
		return 0, false
	}
	for i := t.home(k); ; {
		v := t.slots[i]
		if v == 0 {
			return i, false
		}
		if bytes.Equal(s.key(v-1), k) {
			return i, true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// ref returns the ref in slot i.
func (t *table) ref(i int) uint32 { return t.slots[i] - 1 }

// set puts ref in slot i (the blob of its key moved).
func (t *table) set(i int, ref uint32) { t.slots[i] = ref + 1 }

// insert adds ref, whose key is not in the table.
func (t *table) insert(s *store, ref uint32) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(s, max(minSlots, 2*(t.n+1)))
	}
	t.place(s.key(ref), ref)
	t.n++
}

// place puts ref in the first empty slot from its key's home.
func (t *table) place(k []byte, ref uint32) {
	i := t.home(k)
	for t.slots[i] != 0 {
		if i++; i == len(t.slots) {
			i = 0
		}
	}
	t.slots[i] = ref + 1
}

// resize rehashes every ref into n slots.
func (t *table) resize(s *store, n int) {
	old := t.slots
	t.slots = make([]uint32, n)
	for _, v := range old {
		if v != 0 {
			t.place(s.key(v-1), v-1)
		}
	}
}

// remove empties slot i, shifting back the entries of the probe run after
// it that may move closer to their home (no tombstones), and shrinks the
// table when it is a quarter full.
func (t *table) remove(s *store, i int) {
	n := len(t.slots)
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		v := t.slots[j]
		if v == 0 {
			break
		}
		// v may fill the hole at i unless its home lies cyclically in (i, j].
		home := t.home(s.key(v - 1))
		if (i < j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
			t.slots[i] = v
			i = j
		}
	}
	t.slots[i] = 0
	t.n--
	if t.n*4 < n && n > minSlots {
		t.resize(s, max(minSlots, 2*t.n))
	}
}

// bytes is what the table occupies.
func (t *table) bytes() int { return cap(t.slots) * 4 }
