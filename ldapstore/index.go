package ldapstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/internal/orderindex"
)

// The order index: what a replica keeps in memory of the resources of one
// type to answer list pages in O(log n + page) at any offset, with exact
// totals, however many resources there are — their ids and the keys lists
// sort on, not the resources. It is derived, never the truth: built by the
// change stream's refresh (package changes), kept current by its
// notifications and by this replica's own writes (read-your-writes), and
// dropped whenever the stream breaks, until a new refresh completes. While
// it is not ready, lists take snapshots as they always did (search.go):
// slower, never wrong.

// indexedSortKeys are the SCIM attributes the index orders by, as lists
// sort on them; those a resource type does not store are left out.
var indexedSortKeys = []string{"userName", "displayName", "name.familyName", "meta.created", "meta.lastModified"}

// liveIndex is the order index of one resource type. It is the change
// stream's Consumer.
type liveIndex struct {
	r    *Resources
	keys []sortKey // order k sorts by keys[k]

	ready atomic.Pointer[orderindex.Index] // nil while not ready

	mu       sync.Mutex
	building *orderindex.Builder // during a refresh
	gone     [][16]byte          // deleted during the refresh
	deleted  map[[16]byte]time.Time
	state    atomic.Value // indexState, for metrics and check
	keyAttr  atomic.Value // string: where an entry's stream key is (see key)
}

// indexState says what the index is doing.
type indexState string

const (
	indexOff      indexState = "off"     // no change stream: snapshots only
	indexLoading  indexState = "loading" // the refresh runs
	indexReady    indexState = "ready"   // answering lists
	indexLost     indexState = "lost"    // the stream broke; reconnecting
	deletedMemory            = 30 * time.Second
	bigLoad                  = 100_000 // entries
)

func newLiveIndex(r *Resources) *liveIndex {
	x := &liveIndex{r: r, deleted: map[[16]byte]time.Time{}}
	x.keyAttr.Store(keyAttributes[0])
	for _, a := range keyAttributes {
		if equalFold(r.m.ID, a) {
			x.keyAttr.Store(a)
		}
	}
	for _, name := range indexedSortKeys {
		if sk, err := r.sortKey(name); err == nil && sk.name != "" {
			x.keys = append(x.keys, sk)
		}
	}
	x.state.Store(indexOff)
	return x
}

// order returns the index's order for a sort key ("" for the id order),
// or false when it does not keep that order.
func (x *liveIndex) order(sk sortKey) (int, bool) {
	if sk.name == "" {
		return orderindex.ByID, true
	}
	for k, key := range x.keys {
		if key.name == sk.name {
			return k, true
		}
	}
	return 0, false
}

// attributes are what the stream carries of each entry.
func (x *liveIndex) attributes() []string {
	attrs := []string{x.r.m.ID, x.r.m.Version}
	for _, a := range keyAttributes {
		if x.r.st.ds.HasAttribute(a) {
			attrs = append(attrs, a)
		}
	}
	for _, k := range x.keys {
		attrs = append(attrs, k.attrs...)
	}
	return uniqueAttributes(attrs)
}

// entry turns an entry into what the index keeps of it.
func (x *liveIndex) entry(key [16]byte, e *ldap.Entry) (orderindex.Entry, bool) {
	id, err := x.r.idOf(e)
	if err != nil || id == "" {
		return orderindex.Entry{}, false
	}
	out := orderindex.Entry{Key: key, ID: id, Version: packVersion(e.GetEqualFoldAttributeValue(x.r.m.Version)),
		Sort: make([][]byte, len(x.keys))}
	for k, sk := range x.keys {
		if it, err := x.r.item(e, sk); err == nil && !it.missing {
			out.Sort[k] = []byte(it.key)
		}
	}
	return out, true
}

// Reset begins a refresh: lists take snapshots until it completes.
func (x *liveIndex) Reset() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ready.Store(nil)
	x.building, x.gone = orderindex.NewBuilder(len(x.keys)), nil
	x.state.Store(indexLoading)
}

// Put records an entry from the stream, unless this replica deleted it a
// moment ago (a notification of an earlier change, arriving late).
func (x *liveIndex) Put(key [16]byte, e *ldap.Entry) {
	x.learnKey(key, e)
	ent, ok := x.entry(key, e)
	if !ok {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, gone := x.deleted[key]; gone {
		return
	}
	if x.building != nil {
		x.building.Add(ent)
	} else if idx := x.ready.Load(); idx != nil {
		idx.Put(ent)
	}
}

// Delete records an entry gone.
func (x *liveIndex) Delete(key [16]byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.deleted, key) // the directory's word: nothing more to wait for
	if x.building != nil {
		x.gone = append(x.gone, key) // applied when the refresh completes
	} else if idx := x.ready.Load(); idx != nil {
		idx.Delete(key)
	}
}

// Synced: the refresh is complete and the index answers lists.
func (x *liveIndex) Synced() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.building != nil {
		if x.building.Len() >= bigLoad {
			// Give the refresh's garbage (every entry decoded) back first:
			// ordering a large index needs large blocks of its own.
			debug.FreeOSMemory()
		}
		idx := x.building.Index()
		for _, key := range x.gone {
			idx.Delete(key)
		}
		x.ready.Store(idx)
		x.building, x.gone = nil, nil
		if idx.Len() >= bigLoad {
			// The load's garbage (every entry decoded, the orders sorted)
			// goes back to the system now, not when the heap next grows.
			go debug.FreeOSMemory()
		}
	}
	x.state.Store(indexReady)
}

// Lost: the stream broke; the index may miss changes from now on, so lists
// take snapshots until the next refresh completes.
func (x *liveIndex) Lost(error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.ready.Store(nil)
	x.building, x.gone = nil, nil
	x.state.Store(indexLost)
}

// wrote records this replica's own write of an entry, read back after it,
// so that its next list shows it whatever the stream's delay.
func (x *liveIndex) wrote(e *ldap.Entry) {
	idx := x.ready.Load()
	if idx == nil {
		return
	}
	key, ok := x.key(e)
	if !ok {
		return
	}
	if ent, ok := x.entry(key, e); ok {
		idx.Put(ent)
	}
}

// removed records this replica's own deletion of an entry.
func (x *liveIndex) removed(e *ldap.Entry) {
	key, ok := x.key(e)
	if !ok {
		return
	}
	x.mu.Lock()
	now := time.Now()
	for k, at := range x.deleted {
		if now.Sub(at) > deletedMemory {
			delete(x.deleted, k)
		}
	}
	x.deleted[key] = now
	x.mu.Unlock()
	if idx := x.ready.Load(); idx != nil {
		idx.Delete(key)
	}
}

// keyAttributes are where the directory takes an entry's stream identity
// (RFC 4533's syncUUID) from: OpenLDAP the entryUUID, 389 DS the 128 bits
// of its nsUniqueId (measured on 389 2.3: nsUniqueId
// 3ad75240-ecc811f1-ab588c06-7eafafdf streams as
// 3ad75240-ecc8-11f1-ab58-8c067eafafdf; its entryUUID is another value);
// Active Directory's DirSync, the objectGUID's 16 bytes.
var keyAttributes = [...]string{"entryUUID", "nsUniqueId", "objectGUID"}

// keyOf reads an entry's key from attribute a (see keyAttributes).
func keyOf(e *ldap.Entry, a string) ([16]byte, bool) {
	if equalFold(a, "objectGUID") {
		raw := e.GetEqualFoldRawAttributeValue(a)
		if len(raw) != 16 {
			return [16]byte{}, false
		}
		return [16]byte(raw), true
	}
	return uuidBytes(e.GetEqualFoldAttributeValue(a))
}

// learnKey notes which of keyAttributes the stream's key is, so that this
// replica's own writes (wrote, removed) use the same key.
// The attribute known already is tried first: one parse per entry of a
// refresh, whatever the directory.
func (x *liveIndex) learnKey(key [16]byte, e *ldap.Entry) {
	if k, ok := x.key(e); ok && k == key {
		return
	}
	for _, a := range keyAttributes {
		if k, ok := keyOf(e, a); ok && k == key {
			x.keyAttr.Store(a)
			return
		}
	}
}

// key is an entry's stream identity: its entryUUID or nsUniqueId (see
// keyAttributes), as the stream showed it to be.
func (x *liveIndex) key(e *ldap.Entry) ([16]byte, bool) {
	return keyOf(e, x.keyAttr.Load().(string))
}

// uuidBytes reads 128 bits written as 32 hexadecimal digits, with or
// without dashes anywhere (a UUID; a 389 nsUniqueId).
func uuidBytes(v string) ([16]byte, bool) {
	var b [16]byte
	n := 0
	for i := 0; i < len(v); i++ {
		if v[i] == '-' {
			continue
		}
		d, ok := hexDigit(v[i])
		if !ok || n == 32 {
			return b, false
		}
		b[n/2] |= d << (4 * (1 - n%2))
		n++
	}
	return b, n == 32
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func equalFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

// packVersion makes a version comparable as bytes and short: an entryCSN
// (20261130115959.123456Z#000000#000#000000) as its time in microseconds and
// its three counters, 16 bytes; a number (entryUSN, uSNChanged) as 8 bytes;
// anything else as it is.
func packVersion(v string) []byte {
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return binary.BigEndian.AppendUint64(nil, n)
	}
	if len(v) != 40 || v[21] != 'Z' || v[22] != '#' {
		return []byte(v)
	}
	t, err := time.Parse("20060102150405.000000", v[:21])
	c1, e1 := strconv.ParseUint(v[23:29], 16, 32)
	c2, e2 := strconv.ParseUint(v[30:33], 16, 16)
	c3, e3 := strconv.ParseUint(v[34:40], 16, 32)
	if err != nil || e1 != nil || e2 != nil || e3 != nil {
		return []byte(v)
	}
	out := binary.BigEndian.AppendUint64(nil, uint64(t.UnixMicro()))
	out = append(out, byte(c1>>16), byte(c1>>8), byte(c1))
	out = binary.BigEndian.AppendUint16(out, uint16(c2))
	return append(out, byte(c3>>16), byte(c3>>8), byte(c3))
}

// indexWrote gives the order index an entry this replica wrote, read back.
func (r *Resources) indexWrote(e *ldap.Entry) {
	if x := r.index.Load(); x != nil {
		x.wrote(e)
	}
}

// indexRemoved tells the order index of an entry this replica deleted.
func (r *Resources) indexRemoved(e *ldap.Entry) {
	if x := r.index.Load(); x != nil {
		x.removed(e)
	}
}

// reread reads the version of an entry this replica wrote without reading
// it back (a group PATCH, answered without the group or with it streamed),
// and gives the order index what it keeps of the entry: its sort keys, not
// its members.
func (r *Resources) reread(ctx context.Context, conn *Conn, dn string) (string, error) {
	attrs := []string{r.m.Version}
	x := r.index.Load()
	indexed := x != nil && x.ready.Load() != nil
	if indexed {
		attrs = r.withIndexKey(x.attributes())
	} else if r.m.Version == "" {
		return "", nil // nothing to read
	}
	res, err := conn.Search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", attrs, nil))
	if err == nil && len(res.Entries) != 1 {
		err = ErrNotFound
	}
	if err != nil {
		return "", classify("read "+r.kind, err)
	}
	if indexed {
		x.wrote(res.Entries[0])
	}
	return res.Entries[0].GetEqualFoldAttributeValue(r.m.Version), nil
}

// withIndexKey adds the order index's key (entryUUID or nsUniqueId) to the
// attributes a read after a write asks, when the index is kept.
func (r *Resources) withIndexKey(attrs []string) []string {
	x := r.index.Load()
	if x == nil {
		return attrs
	}
	return uniqueAttributes(append(slices.Clone(attrs), x.keyAttr.Load().(string)))
}
