package orderindex

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the model tests (0: a new one each run)")

// model is the naive index the property tests check Index against: a map,
// sorted anew for every question.
type model struct {
	nkeys   int
	entries map[[16]byte]Entry
}

func newModel(nkeys int) *model { return &model{nkeys: nkeys, entries: map[[16]byte]Entry{}} }

// put is Index.Put's rule: a smaller known version is ignored.
func (m *model) put(e Entry) bool {
	if old, ok := m.entries[e.Key]; ok && len(old.Version) > 0 && len(e.Version) > 0 && bytes.Compare(e.Version, old.Version) < 0 {
		return false
	}
	m.entries[e.Key] = e
	return true
}

func (m *model) del(key [16]byte) bool {
	_, ok := m.entries[key]
	delete(m.entries, key)
	return ok
}

// modelCompare is the order of the package doc, with the key to break
// ties of ids, written plainly: strings and bytes, no UUIDs.
func modelCompare(order int, a, b Entry) int {
	if order != ByID {
		am, bm := a.Sort[order] == nil, b.Sort[order] == nil
		if am != bm {
			if am {
				return 1
			}
			return -1
		}
		if c := bytes.Compare(a.Sort[order], b.Sort[order]); c != 0 {
			return c
		}
	}
	if c := strings.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return bytes.Compare(a.Key[:], b.Key[:])
}

// sorted returns the entries in an order.
func (m *model) sorted(order int) []Entry {
	var es []Entry
	for _, e := range m.entries {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b Entry) int { return modelCompare(order, a, b) })
	return es
}

// seek is View.Seek on a sorted list: the first entry not before the
// position (ties of ids count as not before, whatever the key).
func seekModel(es []Entry, order int, sort []byte, missing bool, id string) int {
	for i, e := range es {
		if order != ByID {
			em := e.Sort[order] == nil
			if em != missing {
				if em { // e after a present position
					return i
				}
				continue
			}
			if c := bytes.Compare(e.Sort[order], sort); c != 0 {
				if c > 0 {
					return i
				}
				continue
			}
		}
		if e.ID >= id {
			return i
		}
	}
	return len(es)
}

// seekKeyModel is View.SeekKey on a sorted list.
func seekKeyModel(es []Entry, order int, sort []byte) int {
	for i, e := range es {
		if order == ByID && e.ID >= string(sort) {
			return i
		}
		if order != ByID && (e.Sort[order] == nil || bytes.Compare(e.Sort[order], sort) >= 0) {
			return i
		}
	}
	return len(es)
}

// gen makes random entries from small pools, so that keys repeat (puts
// replace), values and ids repeat (ties), and all the kinds of id occur.
type gen struct {
	rng   *rand.Rand
	nkeys int
	keys  [][16]byte
}

func newGen(rng *rand.Rand, nkeys, pool int) *gen {
	g := &gen{rng: rng, nkeys: nkeys}
	for i := range pool {
		var k [16]byte
		for j := range k {
			k[j] = byte(rng.IntN(256))
		}
		if i%7 == 0 {
			k[0], k[1] = 0x00, 0x00 // shared leading bytes
		}
		g.keys = append(g.keys, k)
	}
	return g
}

func (g *gen) key() [16]byte { return g.keys[g.rng.IntN(len(g.keys))] }

// id returns an id for key: mostly its canonical text; else the canonical
// text of another key, upper case, or short strings (some shared).
func (g *gen) id(key [16]byte) string {
	switch r := g.rng.IntN(10); {
	case r < 5:
		return canonical(key)
	case r < 6:
		return canonical(g.key())
	case r < 7:
		return strings.ToUpper(canonical(key))
	case r < 8:
		return canonical(key)[:35] + "g" // almost canonical
	}
	ids := [...]string{"", "a", "b", "zz", "0", "~", "00000000-0000-0000-0000-00000000000", "00000000x0000-0000-0000-00000000000"}
	return ids[g.rng.IntN(len(ids))]
}

// value returns a sort value: missing, empty, short strings of a small
// alphabet with zero bytes, long ones sharing 30 bytes (beyond any
// prefix), and rarely one of tens of kilobytes (blobs across arena pages,
// or larger than one).
func (g *gen) value() []byte {
	switch r := g.rng.IntN(1000); {
	case r < 3:
		return append(bytes.Repeat([]byte("y"), 30_000+g.rng.IntN(50_000)), g.short()...)
	case r < 200:
		return nil
	case r < 300:
		return []byte{}
	case r < 400:
		return append(bytes.Repeat([]byte("x"), 30), g.short()...)
	}
	return g.short()
}

func (g *gen) short() []byte {
	b := make([]byte, g.rng.IntN(4))
	for i := range b {
		b[i] = "\x00\x01ab\xff"[g.rng.IntN(5)]
	}
	return b
}

func (g *gen) entry() Entry {
	e := Entry{Key: g.key(), Sort: make([][]byte, g.nkeys)}
	e.ID = g.id(e.Key)
	if g.rng.IntN(3) > 0 {
		e.Version = []byte{byte(g.rng.IntN(4)), byte(g.rng.IntN(256))}
	}
	for k := range e.Sort {
		e.Sort[k] = g.value()
	}
	return e
}

// modify returns a change of e: some sort keys, the version, rarely the id.
func (g *gen) modify(e Entry) Entry {
	e.Sort = slices.Clone(e.Sort)
	for k := range e.Sort {
		if g.rng.IntN(3) == 0 {
			e.Sort[k] = g.value()
		}
	}
	if g.rng.IntN(10) == 0 {
		e.ID = g.id(e.Key)
	}
	if len(e.Version) > 0 {
		e.Version = []byte{e.Version[0] + byte(g.rng.IntN(3)) - 1, e.Version[1]} // up, same, or down
	}
	return e
}

// testSizings are chunk sizings for the property tests: tiny chunks split
// and merge all the time; the default ones rarely at these sizes.
var testSizings = []struct {
	name string
	sz   sizing
}{
	{"tiny", sizing{minChunk: 2, maxChunk: 6, growStep: 2, bulkChunk: 5, minCompact: 0}},
	{"small", sizing{minChunk: 4, maxChunk: 16, growStep: 4, bulkChunk: 14, minCompact: 64}},
	{"default", defaultSizing},
}

// seed returns the seed of a property test, and logs it on failure.
func seed(t *testing.T) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d (rerun with -seed %d)", s, s)
		}
	})
	return s
}

// TestModel runs random puts (new, replacing, stale), deletes and gets on
// an index and on the naive model, and checks every view method in every
// order against the model as it goes.
func TestModel(t *testing.T) {
	for _, tc := range testSizings {
		for _, nkeys := range []int{0, 1, 3} {
			t.Run(fmt.Sprintf("%s/%dkeys", tc.name, nkeys), func(t *testing.T) {
				s := seed(t)
				rng := rand.New(rand.NewPCG(s, uint64(nkeys)))
				runModel(t, rng, newSized(nkeys, tc.sz), newGen(rng, nkeys, 120), 1500)
			})
		}
	}
}

// runModel applies ops random operations to x and to a model, checking
// them against each other.
func runModel(t *testing.T, rng *rand.Rand, x *Index, g *gen, ops int) {
	t.Helper()
	m := newModel(g.nkeys)
	for op := range ops {
		desc := step(rng, x, m, g)
		if t.Failed() {
			t.Fatalf("op %d (%s) failed", op, desc)
		}
		if op%25 == 0 || op == ops-1 {
			checkModel(t, x, m, rng)
			checkInvariants(t, x)
			if t.Failed() {
				t.Fatalf("after op %d (%s)", op, desc)
			}
		}
	}
}

// step applies one random operation to x and m, and says which.
func step(rng *rand.Rand, x *Index, m *model, g *gen) string {
	switch r := rng.IntN(10); {
	case r < 3 && len(m.entries) > 0:
		key := g.key()
		if got, want := x.Delete(key), m.del(key); got != want {
			panic(fmt.Sprintf("Delete(%x) = %v, want %v", key, got, want))
		}
		return "delete"
	case r < 6:
		key := g.key()
		if old, ok := m.entries[key]; ok {
			e := g.modify(old)
			if got, want := x.Put(e), m.put(e); got != want {
				panic(fmt.Sprintf("Put(modified %x) = %v, want %v", key, got, want))
			}
			return "modify"
		}
	}
	e := g.entry()
	if got, want := x.Put(e), m.put(e); got != want {
		panic(fmt.Sprintf("Put(%x) = %v, want %v", e.Key, got, want))
	}
	return "put"
}

// checkModel checks Len, Get and every view method in every order.
func checkModel(t *testing.T, x *Index, m *model, rng *rand.Rand) {
	t.Helper()
	if got := x.Len(); got != len(m.entries) {
		t.Errorf("Len() = %d, want %d", got, len(m.entries))
	}
	for key, want := range m.entries {
		got, ok := x.Get(key)
		if !ok || !sameEntry(got, want) {
			t.Errorf("Get(%x) = %+v, %v, want %+v", key, got, ok, want)
		}
	}
	if _, ok := x.Get([16]byte{0xde, 0xad}); ok {
		t.Errorf("Get(absent) found it")
	}
	x.Read(func(v View) {
		for order := ByID; order < m.nkeys; order++ {
			checkOrder(t, v, order, m.sorted(order), rng)
		}
	})
}

// sameEntry compares entries as stored: an empty version is unknown.
func sameEntry(a, b Entry) bool {
	if a.Key != b.Key || a.ID != b.ID || !bytes.Equal(a.Version, b.Version) || len(a.Sort) != len(b.Sort) {
		return false
	}
	for k := range a.Sort {
		if (a.Sort[k] == nil) != (b.Sort[k] == nil) || !bytes.Equal(a.Sort[k], b.Sort[k]) {
			return false
		}
	}
	return true
}

// checkOrder checks one order of a view against the sorted entries.
func checkOrder(t *testing.T, v View, order int, es []Entry, rng *rand.Rand) {
	t.Helper()
	present := 0
	for i, e := range es {
		key, id := v.At(order, i)
		if key != e.Key || id != e.ID {
			t.Fatalf("order %d: At(%d) = %x %q, want %x %q", order, i, key, id, e.Key, e.ID)
		}
		sort, missing := v.SortKey(order, i)
		wantSort, wantMissing := []byte(nil), false
		if order != ByID {
			wantSort, wantMissing = e.Sort[order], e.Sort[order] == nil
		}
		if missing != wantMissing || !bytes.Equal(sort, wantSort) || (sort == nil) != (wantSort == nil) {
			t.Fatalf("order %d: SortKey(%d) = %q %v, want %q %v", order, i, sort, missing, wantSort, wantMissing)
		}
		if !wantMissing {
			present++
		}
		if got := v.Seek(order, sort, missing, id); got > i || (got < i && modelCompare(order, es[got], e) == 0) {
			t.Fatalf("order %d: Seek(At(%d)) = %d", order, i, got)
		}
	}
	if order == ByID {
		present = len(es)
	}
	if v.Len() != len(es) || v.Present(order) != present {
		t.Fatalf("order %d: Len() = %d, Present() = %d, want %d, %d", order, v.Len(), v.Present(order), len(es), present)
	}
	checkSeeks(t, v, order, es, rng)
}

// checkSeeks checks Seek and SeekKey at random positions and at every
// entry's own.
func checkSeeks(t *testing.T, v View, order int, es []Entry, rng *rand.Rand) {
	t.Helper()
	g := &gen{rng: rng, keys: [][16]byte{{1}, {0xff}}}
	for _, e := range es {
		g.keys = append(g.keys, e.Key)
	}
	for i := range 2*len(es) + 10 {
		sort, id := g.value(), g.id([16]byte{byte(i)})
		if i < len(es) && order != ByID && rng.IntN(2) == 0 {
			sort = es[i].Sort[order] // a value that occurs, with another id
		}
		if i < len(es) && rng.IntN(2) == 0 {
			id = es[i].ID
		}
		missing := sort == nil
		if got, want := v.Seek(order, sort, missing, id), seekModel(es, order, sort, missing, id); got != want {
			t.Fatalf("order %d: Seek(%q, %v, %q) = %d, want %d", order, sort, missing, id, got, want)
		}
		if sort == nil {
			sort = []byte(id)
		}
		if got, want := v.SeekKey(order, sort), seekKeyModel(es, order, sort); got != want {
			t.Fatalf("order %d: SeekKey(%q) = %d, want %d", order, sort, got, want)
		}
	}
}

// checkInvariants checks what the index keeps besides the entries: chunk
// sizes, fences, the Fenwick trees, counts, and the arena's accounting.
func checkInvariants(t *testing.T, x *Index) {
	t.Helper()
	live := 0
	for _, v := range x.tab.slots {
		if v != 0 {
			live += x.st.blobLen(x.st.blob(v - 1))
		}
	}
	if live != x.st.live {
		t.Errorf("live bytes %d, counted %d", live, x.st.live)
	}
	if x.st.compactDue(x.sz.minCompact) {
		t.Errorf("compaction due but not done: %d dead, %d live", x.st.dead, x.st.live)
	}
	for o := range x.orders {
		r := &x.orders[o]
		n := 0
		for c, ch := range r.chunks {
			if len(ch) == 0 || len(ch) > x.sz.maxChunk || (len(r.chunks) > 1 && len(ch) < x.sz.minChunk) {
				t.Errorf("order %d: chunk %d of %d holds %d", o, c, len(r.chunks), len(ch))
			}
			f := x.st.fields(ch[0], o)
			if r.fences[c] != prefixOf(o, &f) {
				t.Errorf("order %d: chunk %d: wrong fence", o, c)
			}
			if r.prefix(c) != n {
				t.Errorf("order %d: prefix(%d) = %d, want %d", o, c, r.prefix(c), n)
			}
			n += len(ch)
		}
		if n != x.tab.n || len(r.fences) != len(r.chunks) {
			t.Errorf("order %d: %d entries in %d chunks (%d fences), want %d", o, n, len(r.chunks), len(r.fences), x.tab.n)
		}
	}
}

// TestBuilderModel builds indexes from random sequences of entries (with
// repeated keys and stale versions) and checks them against the model of
// the same sequence of puts, then keeps changing them.
func TestBuilderModel(t *testing.T) {
	for _, tc := range testSizings {
		t.Run(tc.name, func(t *testing.T) {
			s := seed(t)
			rng := rand.New(rand.NewPCG(s, 7))
			const nkeys = 2
			g := newGen(rng, nkeys, 150)
			b, m := NewBuilder(nkeys), newModel(nkeys)
			b.x.sz = tc.sz
			for range rng.IntN(400) {
				e := g.entry()
				b.Add(e)
				m.put(e)
			}
			x := b.Index()
			checkModel(t, x, m, rng)
			checkInvariants(t, x)
			for range 300 {
				step(rng, x, m, g)
			}
			checkModel(t, x, m, rng)
			checkInvariants(t, x)
		})
	}
}
