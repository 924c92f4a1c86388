package orderindex

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// user returns an entry with a canonical id and the given sort keys ("" is
// missing).
func user(n byte, version string, sorts ...string) Entry {
	e := Entry{Key: [16]byte{15: n}, Version: []byte(version)}
	e.ID = canonical(e.Key)
	for _, s := range sorts {
		if s == "" {
			e.Sort = append(e.Sort, nil)
		} else {
			e.Sort = append(e.Sort, []byte(s))
		}
	}
	return e
}

// keysIn returns the last byte of the keys of an order, in order.
func keysIn(x *Index, order int) []byte {
	var got []byte
	x.Read(func(v View) {
		for i := range v.Len() {
			key, _ := v.At(order, i)
			got = append(got, key[15])
		}
	})
	return got
}

func TestEmpty(t *testing.T) {
	x := New(2)
	if x.Len() != 0 || x.Delete([16]byte{1}) {
		t.Fatalf("Len() = %d, or deleted from an empty index", x.Len())
	}
	if _, ok := x.Get([16]byte{1}); ok {
		t.Fatal("Get found an entry in an empty index")
	}
	x.Read(func(v View) {
		for _, order := range []int{ByID, 0, 1} {
			if v.Len() != 0 || v.Present(order) != 0 || v.Seek(order, []byte("a"), false, "x") != 0 || v.SeekKey(order, nil) != 0 {
				t.Errorf("order %d: an empty view is not empty", order)
			}
		}
	})
}

func TestOneEntry(t *testing.T) {
	x := New(2)
	e := user(1, "v1", "alice", "")
	if !x.Put(e) || x.Len() != 1 {
		t.Fatalf("Put: Len() = %d", x.Len())
	}
	x.Read(func(v View) {
		tests := []struct {
			order, present int
			sort           string
			missing        bool
			seekA, seekB   int // SeekKey("a") and SeekKey("b")
		}{
			{ByID, 1, "", false, 1, 1}, // the id "00000000-…" is before "a"
			{0, 1, "alice", false, 0, 1},
			{1, 0, "", true, 0, 0},
		}
		for _, tc := range tests {
			key, id := v.At(tc.order, 0)
			sort, missing := v.SortKey(tc.order, 0)
			if key != e.Key || id != e.ID || string(sort) != tc.sort || missing != tc.missing || v.Present(tc.order) != tc.present {
				t.Errorf("order %d: At = %x %q, SortKey = %q %v, Present = %d", tc.order, key, id, sort, missing, v.Present(tc.order))
			}
			if a, b := v.SeekKey(tc.order, []byte("a")), v.SeekKey(tc.order, []byte("b")); a != tc.seekA || b != tc.seekB {
				t.Errorf("order %d: SeekKey(a), SeekKey(b) = %d, %d, want %d, %d", tc.order, a, b, tc.seekA, tc.seekB)
			}
		}
	})
	if !x.Delete(e.Key) || x.Len() != 0 || len(keysIn(x, 0)) != 0 {
		t.Fatal("Delete left something")
	}
}

// TestOrders checks the order of the package doc on a few entries:
// missing values last by id, ties of values by id, ids as bytes (an upper
// case UUID before lower case ones, a canonical id among other texts).
func TestOrders(t *testing.T) {
	x := New(1)
	es := []Entry{user(1, "", "b"), user(2, "", ""), user(3, "", "a"), user(4, "", "b"), user(5, "", ""), user(6, "", "a")}
	es[2].ID = "zz"                                   // after every canonical id
	es[3].ID = "00000000-0000-0000-0000-000000000000" // a canonical text, not of its key
	es[4].ID = "00000000-0000-0000-0000-00000000000A" // 'A' is after the digits, before 'a'-'f'

	es[5].ID = "00000000-0000-0000-0000-000000000006-more" // longer than canonical
	for _, e := range es {
		x.Put(e)
	}
	tests := []struct {
		order int
		want  []byte
	}{
		{ByID, []byte{4, 1, 2, 6, 5, 3}},
		{0, []byte{6, 3, 4, 1, 2, 5}},
	}
	for _, tc := range tests {
		if got := keysIn(x, tc.order); !bytes.Equal(got, tc.want) {
			t.Errorf("order %d: keys %v, want %v", tc.order, got, tc.want)
		}
	}
}

func TestVersions(t *testing.T) {
	tests := []struct {
		stored, put string
		applied     bool
	}{
		{"v2", "v1", false},
		{"v2", "v2", true},
		{"v2", "v3", true},
		{"v2", "", true}, // unknown: applied
		{"", "v1", true},
		{"v2", "v10", false}, // bytes, not numbers
	}
	for _, tc := range tests {
		x := New(1)
		x.Put(user(1, tc.stored, "a"))
		if got := x.Put(user(1, tc.put, "b")); got != tc.applied {
			t.Errorf("Put(%q over %q) = %v, want %v", tc.put, tc.stored, got, tc.applied)
		}
		e, _ := x.Get([16]byte{15: 1})
		if want := map[bool]string{true: "b", false: "a"}[tc.applied]; string(e.Sort[0]) != want {
			t.Errorf("Put(%q over %q): stored %q, want %q", tc.put, tc.stored, e.Sort[0], want)
		}
	}
}

// TestPutKeepsPlace checks that a Put changing neither sort keys nor id
// leaves every entry where it was, whether its blob stays (same length)
// or moves (a longer version), and that one changing a sort key moves it
// in that order only.
func TestPutKeepsPlace(t *testing.T) {
	x := newSized(2, testSizings[0].sz)
	for i := range 40 {
		x.Put(user(byte(i), "v1", fmt.Sprint(i%5), fmt.Sprint(i%7)))
	}
	before := [][]byte{keysIn(x, ByID), keysIn(x, 0), keysIn(x, 1)}
	for _, version := range []string{"v2", "v3-longer"} {
		x.Put(user(7, version, "2", "0"))
		if after := [][]byte{keysIn(x, ByID), keysIn(x, 0), keysIn(x, 1)}; !slices.EqualFunc(before, after, bytes.Equal) {
			t.Fatalf("version %s: orders changed from %v to %v", version, before, after)
		}
	}
	x.Put(user(7, "v4", "9", "0"))
	if !bytes.Equal(keysIn(x, 1), before[2]) || !bytes.Equal(keysIn(x, ByID), before[0]) {
		t.Errorf("a change of sort key 0 moved the entry in another order")
	}
	if got := keysIn(x, 0); got[len(got)-1] != 7 {
		t.Errorf("order 0: %v, want 7 last", got)
	}
}

// TestFillAndDrain fills indexes and empties them again in random order,
// checking them against the model all along: chunks split, merge, and
// vanish, and the arena is compacted.
func TestFillAndDrain(t *testing.T) {
	for _, tc := range testSizings {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed(t), 9))
			x, m, g := newSized(2, tc.sz), newModel(2), newGen(rng, 2, 300)
			for _, key := range g.keys {
				e := g.entry()
				e.Key, e.ID = key, canonical(key)
				x.Put(e)
				m.put(e)
			}
			checkModel(t, x, m, rng)
			checkInvariants(t, x)
			rng.Shuffle(len(g.keys), func(i, j int) { g.keys[i], g.keys[j] = g.keys[j], g.keys[i] })
			for i, key := range g.keys {
				if !x.Delete(key) || !m.del(key) {
					t.Fatalf("Delete(%x) found nothing", key)
				}
				if i%10 == 0 || i > len(g.keys)-5 {
					checkModel(t, x, m, rng)
					checkInvariants(t, x)
				}
			}
			if x.st.live != 0 || x.tab.n != 0 {
				t.Errorf("empty index holds %d live bytes, %d entries", x.st.live, x.tab.n)
			}
		})
	}
}

// TestCompaction replaces entries by longer ones many times over: the
// arena is compacted (dead bytes never exceed live ones for long) and the
// entries survive it.
func TestCompaction(t *testing.T) {
	x := New(1)
	x.sz.minCompact = 1 << 16
	const n = 2000
	for round := range 30 {
		for i := range n {
			e := user(0, "", string(bytes.Repeat([]byte{'a' + byte(i%26)}, 10+round)))
			e.Key[0], e.Key[1] = byte(i), byte(i>>8)
			e.ID = canonical(e.Key)
			x.Put(e)
		}
		if x.st.dead > x.st.live && x.st.dead >= x.sz.minCompact {
			t.Fatalf("round %d: %d dead bytes, %d live", round, x.st.dead, x.st.live)
		}
	}
	if arena := x.st.bytes(); arena > 2*x.st.live+x.sz.minCompact+2*pageSize {
		t.Errorf("arena of %d bytes for %d live bytes", arena, x.st.live)
	}
	m := newModel(1)
	for i := range n {
		e := user(0, "", string(bytes.Repeat([]byte{'a' + byte(i%26)}, 10+29)))
		e.Key[0], e.Key[1] = byte(i), byte(i>>8)
		e.ID = canonical(e.Key)
		m.put(e)
	}
	checkModel(t, x, m, rand.New(rand.NewPCG(1, 1)))
	checkInvariants(t, x)
	x.compact()
	var refs []uint32
	for _, ch := range x.orders[0].chunks {
		refs = append(refs, ch...)
	}
	if !slices.IsSorted(refs) {
		t.Errorf("after compaction, the arena is not in id order")
	}
	checkModel(t, x, m, rand.New(rand.NewPCG(1, 1)))
}

func TestPanics(t *testing.T) {
	x := New(1)
	x.Put(user(1, "", "a"))
	tests := []struct {
		name string
		f    func()
	}{
		{"sort keys", func() { x.Put(user(2, "", "a", "b")) }},
		{"builder sort keys", func() { NewBuilder(1).Add(user(2, "")) }},
		{"negative nkeys", func() { New(-1) }},
		{"order", func() { x.Read(func(v View) { v.Present(1) }) }},
		{"order below ByID", func() { x.Read(func(v View) { v.SeekKey(-2, nil) }) }},
		{"rank", func() { x.Read(func(v View) { v.At(0, 1) }) }},
		{"negative rank", func() { x.Read(func(v View) { v.SortKey(0, -1) }) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
}

// TestConcurrent runs writers and readers at once (meant for -race): every
// read sees one state, in which each order is sorted and every entry is
// found again by Seek where At put it.
func TestConcurrent(t *testing.T) {
	x := newSized(2, testSizings[1].sz)
	// Writers wait, half way, for every reader to have read once, so that
	// reads overlap writes however the scheduler runs them.
	var readersStarted sync.WaitGroup
	readersStarted.Add(3)
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			g := newGen(rng, 2, 100)
			for i := range 400 {
				if i == 200 {
					readersStarted.Wait()
				}
				if i%4 == 0 {
					x.Delete(g.key())
				} else {
					x.Put(g.entry())
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { writers.Wait(); close(done) }()
	var readers sync.WaitGroup
	for range 3 {
		readers.Go(func() {
			for reads := 0; ; reads++ {
				select {
				case <-done:
					if reads == 0 {
						t.Error("no read while writing")
					}
					return
				default:
				}
				err := readConsistent(x)
				if reads == 0 {
					readersStarted.Done()
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	readers.Wait()
}

// readConsistent checks, in one Read, that every order holds Len entries in
// ascending order, and that Seek finds each where At is.
func readConsistent(x *Index) error {
	var err error
	x.Read(func(v View) {
		for order := ByID; order < 2 && err == nil; order++ {
			var prev fields
			for i := range v.Len() {
				sort, missing := v.SortKey(order, i)
				key, id := v.At(order, i)
				cur := fields{key: key[:], id: []byte(id), sort: sort, missing: missing}
				if i > 0 && compare(order+1, &prev, &cur) >= 0 {
					err = fmt.Errorf("order %d: rank %d before rank %d", order, i, i-1)
					return
				}
				if got := v.Seek(order, sort, missing, id); got > i {
					err = fmt.Errorf("order %d: Seek(At(%d)) = %d", order, i, got)
					return
				}
				prev = cur
			}
		}
	})
	return err
}

// TestPrefixOrder checks the property fences and the bulk sort rely on:
// prefixes that differ order as the entries do.
func TestPrefixOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 3))
	g := newGen(rng, 1, 50)
	for range 20_000 {
		a, b := g.entry(), g.entry()
		for o := range 2 {
			fa, fb := fieldsOf(encode(nil, &a), o), fieldsOf(encode(nil, &b), o)
			p := comparePrefix(prefixOf(o, &fa), prefixOf(o, &fb))
			if c := compare(o, &fa, &fb); p != 0 && p != c {
				t.Fatalf("order %d: %+v vs %+v: prefixes compare %d, entries %d", o, a, b, p, c)
			}
		}
	}
}
