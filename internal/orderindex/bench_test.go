package orderindex

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// realistic returns the i-th entry of a directory of users: a random key
// and its canonical id, a 12-byte version, and five sort keys of the sizes
// SCIM lists sort by (userName "user000123", displayName, familyName, and
// two 8-byte timestamps).
func realistic(rng *rand.Rand, i int) Entry {
	first := [...]string{"Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken"}
	last := [...]string{"Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"}
	var e Entry
	binary.LittleEndian.PutUint64(e.Key[:], rng.Uint64())
	binary.LittleEndian.PutUint64(e.Key[8:], rng.Uint64())
	e.ID = canonical(e.Key)
	e.Version = fmt.Appendf(nil, "%012d", i)
	f, l := first[rng.IntN(len(first))], last[rng.IntN(len(last))]
	created := binary.BigEndian.AppendUint64(nil, uint64(1.7e9+rng.IntN(1e8)))
	modified := binary.BigEndian.AppendUint64(nil, uint64(1.7e9+rng.IntN(1e8)))
	e.Sort = [][]byte{fmt.Appendf(nil, "user%06d", i), []byte(f + " " + l), []byte(l), created, modified}
	return e
}

func canonical(key [16]byte) string {
	var buf [36]byte
	return string(formatUUID(&buf, key[:]))
}

// heapAlloc returns the live heap after a collection.
func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryPerEntry measures the heap an index of a million realistic
// entries takes (runtime.MemStats.HeapAlloc after a collection, less what
// it was before), built by Put and by a Builder, and bounds it generously;
// under the race detector or -short, of 20,000 entries. It also times a
// full collection with the index live: the collector has next to nothing
// to scan in it.
//
//	go test -run TestMemoryPerEntry -v ./internal/orderindex
func TestMemoryPerEntry(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 20_000
	}
	for _, bulk := range []bool{false, true} {
		before := heapAlloc()
		start := time.Now()
		x := buildRealistic(n, bulk)
		took := time.Since(start)
		bytes := heapAlloc() - before
		perEntry := float64(bytes) / float64(n)
		gcStart := time.Now()
		runtime.GC()
		t.Logf("bulk=%v: %d entries built in %v; heap %d bytes, %.1f bytes/entry (Bytes() says %.1f); a GC takes %v",
			bulk, n, took.Round(time.Millisecond), bytes, perEntry, float64(x.Bytes())/float64(n), time.Since(gcStart).Round(time.Microsecond))
		if perEntry > 200 {
			t.Errorf("bulk=%v: %.1f bytes/entry, want < 200", bulk, perEntry)
		}
		runtime.KeepAlive(x)
	}
}

// buildRealistic builds an index of n realistic entries, by Put or by a
// Builder.
func buildRealistic(n int, bulk bool) *Index {
	rng := rand.New(rand.NewPCG(1, 2))
	if !bulk {
		x := New(5)
		for i := range n {
			x.Put(realistic(rng, i))
		}
		return x
	}
	b := NewBuilder(5)
	for i := range n {
		b.Add(realistic(rng, i))
	}
	return b.Index()
}

// BenchmarkBuild builds an index of a million realistic entries by Put,
// one after another, and by a Builder.
//
//	go test -run '^$' -bench Build -benchtime 1x ./internal/orderindex
func BenchmarkBuild(b *testing.B) {
	for _, bulk := range []bool{false, true} {
		b.Run(map[bool]string{false: "Put", true: "Builder"}[bulk], func(b *testing.B) {
			for range b.N {
				buildRealistic(1_000_000, bulk)
			}
		})
	}
}

// loaded returns an index of n realistic entries, built in bulk, and
// their keys in random order.
func loaded(b *testing.B, n int) (*Index, [][16]byte) {
	b.Helper()
	x := buildRealistic(n, true)
	keys := make([][16]byte, 0, n)
	x.Read(func(v View) {
		for i := range v.Len() {
			key, _ := v.At(ByID, i)
			keys = append(keys, key)
		}
	})
	rand.New(rand.NewPCG(7, 8)).Shuffle(n, func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	b.ResetTimer()
	return x, keys
}

// BenchmarkPut inserts new realistic entries into an index of a million.
func BenchmarkPut(b *testing.B) {
	x, _ := loaded(b, 1_000_000)
	rng := rand.New(rand.NewPCG(3, 4))
	entries := make([]Entry, b.N)
	for i := range entries {
		entries[i] = realistic(rng, 1_000_000+i)
	}
	b.ResetTimer()
	for i := range b.N {
		x.Put(entries[i])
	}
}

// BenchmarkPutModify replaces entries of an index of a million as a
// change stream does most: a new modification time and version, the same
// lengths (the blob is rewritten in place; the entry moves in one order).
func BenchmarkPutModify(b *testing.B) {
	x, keys := loaded(b, 1_000_000)
	entries := make([]Entry, b.N)
	for i := range entries {
		e, _ := x.Get(keys[i%len(keys)])
		e.Version = fmt.Appendf(nil, "%012d", 2_000_000+i)
		e.Sort[4] = binary.BigEndian.AppendUint64(nil, uint64(1.8e9+i))
		entries[i] = e
	}
	b.ResetTimer()
	for i := range b.N {
		x.Put(entries[i])
	}
}

// BenchmarkDelete deletes random entries of an index of a million.
func BenchmarkDelete(b *testing.B) {
	x, keys := loaded(b, 1_000_000)
	if b.N > len(keys) {
		b.Skipf("%d deletes from %d entries", b.N, len(keys))
	}
	for i := range b.N {
		x.Delete(keys[i])
	}
}

// benchView runs op b.N times, in one Read of an index of a million
// realistic entries.
func benchView(b *testing.B, op func(v View, rng *rand.Rand)) {
	x, _ := loaded(b, 1_000_000)
	rng := rand.New(rand.NewPCG(5, 6))
	x.Read(func(v View) {
		b.ResetTimer()
		for range b.N {
			op(v, rng)
		}
	})
}

// BenchmarkSeek seeks random values of userName (order 0).
func BenchmarkSeek(b *testing.B) {
	var probe []byte
	benchView(b, func(v View, rng *rand.Rand) {
		probe = fmt.Appendf(probe[:0], "user%06d", rng.IntN(1_000_000))
		v.SeekKey(0, probe)
	})
}

// BenchmarkAt reads random ranks of userName.
func BenchmarkAt(b *testing.B) {
	benchView(b, func(v View, rng *rand.Rand) { v.At(0, rng.IntN(1_000_000)) })
}

// BenchmarkPage reads a page of 100 from a random place of userName, as a
// list request does: a Seek, then At for each, and the SortKey of the
// last (for the next page's cursor).
func BenchmarkPage(b *testing.B) {
	var probe []byte
	benchView(b, func(v View, rng *rand.Rand) {
		probe = fmt.Appendf(probe[:0], "user%06d", rng.IntN(999_900))
		start := v.SeekKey(0, probe)
		for i := start; i < start+100; i++ {
			v.At(0, i)
		}
		v.SortKey(0, start+99)
	})
}

// BenchmarkCompact compacts the arena of an index of a million (every
// blob moves, every ref is rewritten): the pause of a write that makes
// compaction due.
func BenchmarkCompact(b *testing.B) {
	x, _ := loaded(b, 1_000_000)
	for range b.N {
		x.mu.Lock()
		x.compact()
		x.mu.Unlock()
	}
}
