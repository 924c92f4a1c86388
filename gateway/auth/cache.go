package auth

import (
	"sync"
	"time"
)

// tokenKey is the SHA-256 of a token: the cache never holds tokens.
type tokenKey [32]byte

// tokenResult is what checking a token found, until expires.
type tokenResult struct {
	id      *Identity
	err     error // a *Refusal: a cached refusal
	expires time.Time
}

// tokenCache remembers checked tokens, bounded to about size entries. It
// keeps two generations: new results go to the current one; when that is
// half full it becomes the previous one and the older is dropped. A hit in
// the previous generation moves forward, so tokens in use stay while
// abandoned ones age out, with no per-entry bookkeeping on the hot path.
type tokenCache struct {
	half int

	mu       sync.RWMutex
	cur, old map[tokenKey]tokenResult
}

func newTokenCache(size int) *tokenCache {
	half := max(size/2, 1)
	return &tokenCache{half: half, cur: make(map[tokenKey]tokenResult), old: map[tokenKey]tokenResult{}}
}

// get returns the result for k if there is one that has not expired.
func (c *tokenCache) get(k tokenKey, now time.Time) (tokenResult, bool) {
	c.mu.RLock()
	r, ok := c.cur[k]
	c.mu.RUnlock()
	if ok {
		return r, now.Before(r.expires)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok = c.old[k]
	if !ok || !now.Before(r.expires) {
		return tokenResult{}, false
	}
	delete(c.old, k)
	c.putLocked(k, r)
	return r, true
}

func (c *tokenCache) put(k tokenKey, r tokenResult) {
	c.mu.Lock()
	c.putLocked(k, r)
	c.mu.Unlock()
}

func (c *tokenCache) putLocked(k tokenKey, r tokenResult) {
	if _, ok := c.cur[k]; !ok && len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[tokenKey]tokenResult, c.half)
	}
	c.cur[k] = r
}

// len is the number of entries held, expired ones included.
func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cur) + len(c.old)
}
