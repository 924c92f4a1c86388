package ldapstore

import (
	"bytes"
	"container/list"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scimgate/scimgate/internal/orderindex"
)

// snapshot is the order of one query's results at one moment: the ids and
// sort keys of every match, sorted ascending. It is compact, as it holds
// every match of a query that may match a million entries: per result a
// 12-byte slot, and its sort key and id in one shared arena (an id in the
// canonical UUID form, as entryUUID and objectGUID have, in 16 bytes).
type snapshot struct {
	slots []slot
	arena []byte
	taken time.Time
}

// slot is one result: its sort key at arena[off:off+keyLen], its id right
// after.
type slot struct {
	off    uint32
	keyLen uint32
	idLen  uint16
	flags  uint8
}

const (
	slotMissing uint8 = 1 << iota // no value to sort by
	slotUUID                      // the id is a UUID in 16 bytes
)

// add appends a result; sort orders them once all are added.
func (s *snapshot) add(it item) {
	sl := slot{off: uint32(len(s.arena)), keyLen: uint32(len(it.key))}
	if it.missing {
		sl.flags |= slotMissing
	}
	s.arena = append(s.arena, it.key...)
	if b, ok := orderindex.ParseUUID(it.id); ok {
		s.arena = append(s.arena, b[:]...)
		sl.flags |= slotUUID
		sl.idLen = 16
	} else {
		s.arena = append(s.arena, it.id...)
		sl.idLen = uint16(len(it.id))
	}
	s.slots = append(s.slots, sl)
}

// len is the number of results.
func (s *snapshot) len() int { return len(s.slots) }

func (s *snapshot) sort() { slices.SortFunc(s.slots, s.compare) }

func (s *snapshot) key(sl slot) []byte { return s.arena[sl.off : sl.off+sl.keyLen] }

func (s *snapshot) idBytes(sl slot) []byte {
	start := sl.off + sl.keyLen
	return s.arena[start : start+uint32(sl.idLen)]
}

// id returns a result's id as the directory gave it.
func (s *snapshot) id(sl slot) string {
	if sl.flags&slotUUID != 0 {
		return orderindex.FormatUUID(s.idBytes(sl))
	}
	return string(s.idBytes(sl))
}

// item returns a result in full.
func (s *snapshot) item(sl slot) item {
	return item{key: string(s.key(sl)), missing: sl.flags&slotMissing != 0, id: s.id(sl)}
}

// compare orders results as compareItems does.
func (s *snapshot) compare(a, b slot) int {
	if am, bm := a.flags&slotMissing != 0, b.flags&slotMissing != 0; am != bm {
		if am {
			return 1
		}
		return -1
	}
	if c := bytes.Compare(s.key(a), s.key(b)); c != 0 {
		return c
	}
	if a.flags&slotUUID == b.flags&slotUUID {
		// Packed UUIDs order as their canonical forms do.
		return bytes.Compare(s.idBytes(a), s.idBytes(b))
	}
	return strings.Compare(s.id(a), s.id(b))
}

// compareTo orders a result against a position's item.
func (s *snapshot) compareTo(a slot, b item) int {
	if am := a.flags&slotMissing != 0; am != b.missing {
		if am {
			return 1
		}
		return -1
	}
	if c := bytes.Compare(s.key(a), []byte(b.key)); c != 0 {
		return c
	}
	return strings.Compare(s.id(a), b.id)
}

// size is about what the snapshot occupies, in bytes.
func (s *snapshot) size() int { return 64 + cap(s.slots)*12 + cap(s.arena) }

// at returns result i in the order asked: descending reverses ascending
// whole, so that results without a sort value come first (RFC 7644
// section 3.4.2.3). Nothing is copied: a page costs its own size.
func (s *snapshot) at(i int, descending bool) item {
	if descending {
		return s.item(s.slots[len(s.slots)-1-i])
	}
	return s.item(s.slots[i])
}

// bounds returns the range of indexes (for at) that a query's page covers.
func (s *snapshot) bounds(q Query) (start, end int) { return bounds(s, q) }

// seek returns the index of the first result not before it.
func (s *snapshot) seek(it item) int {
	i, _ := slices.BinarySearchFunc(s.slots, it, s.compareTo)
	return i
}

// snapshotCache keeps recent snapshots by query, least recently used first
// out, bounded in bytes and age. It is a cache, not state: a replica that
// lacks a snapshot takes it again, and a walk by cursor finds its place in
// any snapshot of the same query.
type snapshotCache struct {
	mu       sync.Mutex
	maxBytes int
	maxAge   time.Duration
	bytes    int
	byKey    map[string]*list.Element
	lru      *list.List // of *cached, most recent at the front
}

type cached struct {
	key  string
	snap *snapshot
	size int
}

func newSnapshotCache(maxBytes int, maxAge time.Duration) *snapshotCache {
	return &snapshotCache{maxBytes: maxBytes, maxAge: maxAge, byKey: map[string]*list.Element{}, lru: list.New()}
}

// get returns the snapshot of key if it is young enough.
func (c *snapshotCache) get(key string) *snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil
	}
	e := el.Value.(*cached)
	if time.Since(e.snap.taken) > c.maxAge {
		c.remove(el)
		return nil
	}
	c.lru.MoveToFront(el)
	return e.snap
}

// put keeps snap for key, replacing an older one, and evicts the least
// recently used snapshots beyond the size bound. A snapshot larger than
// the whole bound is not kept.
func (c *snapshotCache) put(key string, snap *snapshot) {
	size := snap.size() + len(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		if el.Value.(*cached).snap == snap {
			c.lru.MoveToFront(el)
			return
		}
		c.remove(el)
	}
	if size > c.maxBytes {
		return
	}
	c.byKey[key] = c.lru.PushFront(&cached{key: key, snap: snap, size: size})
	c.bytes += size
	for c.bytes > c.maxBytes {
		c.remove(c.lru.Back())
	}
}

func (c *snapshotCache) remove(el *list.Element) {
	e := el.Value.(*cached)
	c.lru.Remove(el)
	delete(c.byKey, e.key)
	c.bytes -= e.size
}
