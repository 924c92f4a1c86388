// Package orderindex — TEMPORARY naive stand-in (sorted slices) with the
// agreed API, replaced by the real package; not to be committed.
package orderindex

import (
	"bytes"
	"slices"
	"sync"
)

const ByID = -1

type Entry struct {
	Key     [16]byte
	ID      string
	Version []byte
	Sort    [][]byte
}

type Index struct {
	mu     sync.RWMutex
	nkeys  int
	byKey  map[[16]byte]*Entry
	orders [][]*Entry // nkeys+1: last is ByID
}

func New(nkeys int) *Index {
	return &Index{nkeys: nkeys, byKey: map[[16]byte]*Entry{}, orders: make([][]*Entry, nkeys+1)}
}

func (x *Index) slot(order int) int {
	if order == ByID {
		return x.nkeys
	}
	return order
}

func cmp(order int, a, b *Entry) int {
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
	return bytes.Compare([]byte(a.ID), []byte(b.ID))
}

func (x *Index) Put(e Entry) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.byKey[e.Key]; ok {
		if len(e.Version) > 0 && len(old.Version) > 0 && bytes.Compare(e.Version, old.Version) < 0 {
			return false
		}
		x.remove(old)
	}
	ne := e
	ne.Sort = slices.Clone(e.Sort)
	x.byKey[e.Key] = &ne
	for s := range x.orders {
		order := s
		if s == x.nkeys {
			order = ByID
		}
		i, _ := slices.BinarySearchFunc(x.orders[s], &ne, func(a, b *Entry) int { return cmp(order, a, b) })
		x.orders[s] = slices.Insert(x.orders[s], i, &ne)
	}
	return true
}

func (x *Index) remove(old *Entry) {
	for s := range x.orders {
		x.orders[s] = slices.DeleteFunc(x.orders[s], func(p *Entry) bool { return p == old })
	}
	delete(x.byKey, old.Key)
}

func (x *Index) Delete(key [16]byte) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	old, ok := x.byKey[key]
	if ok {
		x.remove(old)
	}
	return ok
}

func (x *Index) Get(key [16]byte) (Entry, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.byKey[key]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

func (x *Index) Len() int { x.mu.RLock(); defer x.mu.RUnlock(); return len(x.byKey) }

func (x *Index) Bytes() int { return 0 }

type View struct{ x *Index }

func (x *Index) Read(fn func(v View)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	fn(View{x})
}

func (v View) Len() int { return len(v.x.byKey) }

func (v View) At(order, i int) ([16]byte, string) {
	e := v.x.orders[v.x.slot(order)][i]
	return e.Key, e.ID
}

func (v View) SortKey(order, i int) ([]byte, bool) {
	e := v.x.orders[v.x.slot(order)][i]
	return e.Sort[order], e.Sort[order] == nil
}

func (v View) Seek(order int, sort []byte, missing bool, id string) int {
	probe := &Entry{ID: id, Sort: make([][]byte, v.x.nkeys)}
	if order != ByID && !missing {
		probe.Sort[order] = sort
		if sort == nil {
			probe.Sort[order] = []byte{}
		}
	}
	i, _ := slices.BinarySearchFunc(v.x.orders[v.x.slot(order)], probe, func(a, b *Entry) int { return cmp(order, a, b) })
	return i
}

func (v View) SeekKey(order int, sort []byte) int {
	list := v.x.orders[v.x.slot(order)]
	i, _ := slices.BinarySearchFunc(list, sort, func(a *Entry, s []byte) int {
		if a.Sort[order] == nil {
			return 1
		}
		if c := bytes.Compare(a.Sort[order], s); c != 0 {
			return c
		}
		return 1
	})
	return i
}

func (v View) Present(order int) int {
	n := 0
	for _, e := range v.x.orders[v.x.slot(order)] {
		if e.Sort[order] != nil {
			n++
		}
	}
	return n
}

func (v View) Get(key [16]byte) (Entry, bool) {
	e, ok := v.x.byKey[key]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}
