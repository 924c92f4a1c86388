package ldapstore

import (
	"sync"
	"time"
)

// refCache remembers, for a short while, what the DNs of groups resolve to
// (id, display name), so that reading users does not read their groups'
// entries, which are large, on every request. Groups are few and their ids
// never change; a DN names another group only after a rename or a delete,
// and the cache forgets within refTTL. Writes through this gateway forget
// the groups they touch at once.
type refCache struct {
	mu      sync.Mutex
	entries map[string]cachedRef
	ttl     time.Duration
	max     int
}

type cachedRef struct {
	m       Member
	expires time.Time
}

// refTTL bounds how long a group's id and display name are remembered.
const refTTL = 30 * time.Second

func newRefCache(ttl time.Duration, max int) *refCache {
	return &refCache{entries: map[string]cachedRef{}, ttl: ttl, max: max}
}

// get returns the members of the DNs it knows (by dnKey), and the DNs it
// does not.
func (c *refCache) get(dns []string) (refs, []string) {
	found := refs{}
	var missing []string
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, dn := range dns {
		k := dnKey(dn)
		if e, ok := c.entries[k]; ok && now.Before(e.expires) {
			found[k] = e.m
		} else {
			missing = append(missing, dn)
		}
	}
	return found, missing
}

func (c *refCache) put(found refs) {
	expires := time.Now().Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries)+len(found) > c.max {
		clear(c.entries) // crude, and rare: directories with more groups than max
	}
	for k, m := range found {
		c.entries[k] = cachedRef{m: m, expires: expires}
	}
}

// forget drops what the cache knows of a DN.
func (c *refCache) forget(dn string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, dnKey(dn))
}
