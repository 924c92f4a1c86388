package ldapstore

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/internal/orderindex"
)

func ids(items []item) string {
	var out []string
	for _, it := range items {
		out = append(out, it.id)
	}
	return strings.Join(out, "")
}

// Pages of a snapshot, by index and by position, both ways; positions of
// resources deleted since still find their place.
func TestSnapshotBounds(t *testing.T) {
	s := &snapshot{}
	for _, it := range []item{
		{key: "k3", id: "d"}, {key: "k1", id: "b"}, {key: "k2", id: "c"}, {key: "k1", id: "a"},
		{missing: true, id: "f"}, {missing: true, id: "e"},
	} {
		s.add(it)
	}
	s.sort()
	pos := func(key, id string, missing, back bool) *Position {
		return &Position{Key: key, ID: id, Missing: missing, Backward: back}
	}
	tests := []struct {
		q    Query
		want string
	}{
		{Query{StartIndex: 1, Count: 4}, "abcd"},
		{Query{StartIndex: 5, Count: 4}, "ef"},
		{Query{StartIndex: 9, Count: 4}, ""},
		{Query{StartIndex: 1, Count: 3, Descending: true}, "fed"},
		{Query{Cursor: true, Count: 2}, "ab"},
		{Query{Cursor: true, Count: 2, After: pos("k1", "b", false, false)}, "cd"},
		{Query{Cursor: true, Count: 2, After: pos("k1", "bb", false, false)}, "cd"}, // "bb" was deleted
		{Query{Cursor: true, Count: 9, After: pos("k3", "d", false, false)}, "ef"},
		{Query{Cursor: true, Count: 9, After: pos("", "e", true, false)}, "f"},
		{Query{Cursor: true, Count: 2, After: pos("k2", "c", false, true)}, "ab"},
		{Query{Cursor: true, Count: 2, After: pos("k3", "d", false, true)}, "bc"},
		{Query{Cursor: true, Count: 2, Descending: true}, "fe"},
		{Query{Cursor: true, Count: 2, Descending: true, After: pos("", "e", true, false)}, "dc"},
		{Query{Cursor: true, Count: 2, Descending: true, After: pos("k2", "c", false, true)}, "ed"},
		{Query{Cursor: true, Count: 0, After: pos("k1", "a", false, false)}, ""},
	}
	for _, tt := range tests {
		start, end := s.bounds(tt.q)
		var page []item
		for i := start; i < end; i++ {
			page = append(page, s.at(i, tt.q.Descending))
		}
		if got := ids(page); got != tt.want {
			t.Errorf("%+v (after %+v): %q, want %q", tt.q, tt.q.After, got, tt.want)
		}
	}
}

func TestSnapshotCacheBounds(t *testing.T) {
	snap := func(n int) *snapshot {
		s := &snapshot{taken: time.Now()}
		for i := range n {
			s.add(item{id: strings.Repeat("x", 36) + string(rune('a'+i%26))})
		}
		return s
	}
	one := snap(10).size()
	c := newSnapshotCache(3*one, time.Minute)
	for _, k := range []string{"a", "b", "c", "d"} {
		c.put(k, snap(10))
	}
	if c.get("a") != nil || c.get("d") == nil || c.bytes > 3*one+8 {
		t.Errorf("LRU over the size bound: a=%v d=%v bytes=%d", c.get("a") != nil, c.get("d") != nil, c.bytes)
	}
	c.put("huge", snap(1000))
	if c.get("huge") != nil {
		t.Error("a snapshot larger than the cache was kept")
	}
	old := snap(1)
	old.taken = time.Now().Add(-2 * time.Minute)
	c.put("old", old)
	if c.get("old") != nil {
		t.Error("a snapshot past snapshot_max_age was returned")
	}
	if keys := slices.Collect(maps.Keys(c.byKey)); len(keys) > 3 {
		t.Errorf("cache holds %q", keys)
	}
}

func TestNormalizeInteger(t *testing.T) {
	in := []string{"-9223372036854775808", "-10", "-9", "0", "9", "10", "9223372036854775807"}
	var keys []string
	for _, s := range in {
		keys = append(keys, normalizeInteger(s))
	}
	if !slices.IsSorted(keys) {
		t.Errorf("integer keys do not sort as numbers: %q", keys)
	}
}

// A snapshot orders its compact results exactly as the plain items order,
// gives every id back as it came (UUIDs in 16 bytes, other ids as they
// are), and finds positions among them.
func TestSnapshotCompactOrder(t *testing.T) {
	items := []item{
		{key: "b", id: "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
		{key: "b", id: "6BA7B810-9DAD-11D1-80B4-00C04FD430C8"}, // upper case: kept as text
		{key: "b", id: "00000000-0000-0000-0000-000000000000"},
		{key: "b", id: "ffffffff-ffff-ffff-ffff-ffffffffffff"},
		{key: "b", id: "inum-7"},
		{key: "a", id: "6ba7b810-9dad-11d1-80b4-00c04fd430c9"},
		{key: "", id: "6ba7b810-9dad-11d1-80b4-00c04fd430c7"},
		{missing: true, id: "1"},
		{missing: true, id: "0e3e9a3e-0000-4000-8000-000000000001"},
		{key: "b", id: "6ba7b810-9dad-11d1-80b4-00c04fd430c"}, // too short to be a UUID
	}
	s := &snapshot{}
	for _, it := range items {
		s.add(it)
	}
	s.sort()
	want := slices.Clone(items)
	slices.SortFunc(want, compareItems)
	for i, w := range want {
		if got := s.at(i, false); got != w {
			t.Errorf("result %d: %+v, want %+v", i, got, w)
		}
		start, _ := s.bounds(Query{Cursor: true, Count: 1, After: w.position()})
		if start != i+1 {
			t.Errorf("after %+v: starts at %d, want %d", w, start, i+1)
		}
	}
	// Keys 7 bytes; six UUIDs in 16 bytes each; the others as text (78).
	if len(s.arena) != 7+6*16+78 {
		t.Errorf("arena of %d bytes, want %d", len(s.arena), 7+6*16+78)
	}
}

// Only the canonical lower-case form packs, so that FormatUUID gives back
// exactly the id the directory sent.
func TestPackUUID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"3ad75240-ecc8-11f1-ab58-8c067eafafdf", true},
		{"3AD75240-ECC8-11F1-AB58-8C067EAFAFDF", false},
		{"3ad75240-ecc811f1-ab588c06-7eafafdf", false}, // a 389 nsUniqueId
		{"3ad75240ecc811f1ab588c067eafafdf", false},
		{"3ad75240-ecc8-11f1-ab58-8c067eafafdg", false},
	}
	for _, tt := range tests {
		b, ok := orderindex.ParseUUID(tt.id)
		if ok != tt.ok || ok && orderindex.FormatUUID(b[:]) != tt.id {
			t.Errorf("ParseUUID(%q) = %x, %v", tt.id, b, ok)
		}
	}
}

// Only what has the form of an entryUUID, an objectGUID as formatted or an
// nsUniqueId is looked up as an id.
func TestLooksLikeID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"0c8e6e2a-5b1c-103f-9a2b-d5f1c8a0e111", true},
		{"0C8E6E2A-5B1C-103F-9A2B-D5F1C8A0E111", true},
		{"5b1c103f-9a2bd5f1-c8a0e111-0c8e6e2a", true}, // nsUniqueId
		{"", false},
		{"alovelace", false},
		{"0c8e6e2a-5b1c-103f-9a2b-d5f1c8a0e11", false},   // one short
		{"0c8e6e2a-5b1c-103f-9a2b-d5f1c8a0e1111", false}, // one long
		{"0c8e6e2a5b1c-103f-9a2b-d5f1c8a0e111-", false},  // a dash moved
		{"0c8e6e2a-5b1c-103f-9a2b-d5f1c8a0e11g", false},  // not hex
		{"0c8e6e2a-5b1c-103f-9a2b-d5f1c8a0e1)(", false},
		{"5b1c103f-9a2bd5f1-c8a0e111-0c8e6e2g", false},
		{"5b1c103f-9a2b-5f1-c8a0e111-0c8e6e2a", false},
	}
	for _, tt := range tests {
		if got := looksLikeID(tt.id); got != tt.want {
			t.Errorf("looksLikeID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
