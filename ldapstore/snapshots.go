package ldapstore

import (
	"container/list"
	"slices"
	"sync"
	"time"
)

// snapshot is the order of one query's results at one moment: the ids and
// sort keys of every match, sorted ascending.
type snapshot struct {
	items []item
	taken time.Time
}

func (s *snapshot) sort() { slices.SortFunc(s.items, compareItems) }

// size is about what the snapshot occupies, in bytes.
func (s *snapshot) size() int {
	n := 64
	for _, it := range s.items {
		n += 48 + len(it.key) + len(it.id)
	}
	return n
}

// at returns result i in the order asked: descending reverses ascending
// whole, so that results without a sort value come first (RFC 7644
// section 3.4.2.3). Nothing is copied: a page costs its own size.
func (s *snapshot) at(i int, descending bool) item {
	if descending {
		return s.items[len(s.items)-1-i]
	}
	return s.items[i]
}

// bounds returns the range of indexes (for at) that a query's page covers.
func (s *snapshot) bounds(q Query) (start, end int) {
	n := len(s.items)
	count := max(q.Count, 0)
	switch {
	case !q.Cursor:
		start = min(q.StartIndex-1, n)
		return start, min(start+count, n)
	case q.After == nil:
		return 0, min(count, n)
	}
	at := item{key: q.After.Key, missing: q.After.Missing, id: q.After.ID}
	// The first index whose item is after at (upper) or not before it
	// (lower), in ascending order.
	lower, _ := slices.BinarySearchFunc(s.items, at, compareItems)
	upper := lower
	if upper < n && compareItems(s.items[upper], at) == 0 {
		upper++
	}
	if q.Descending {
		// In the reversed view, "after" is what ascends before at.
		lower, upper = n-upper, n-lower
	}
	if q.After.Backward {
		end = lower
		return max(end-count, 0), end
	}
	return upper, min(upper+count, n)
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
