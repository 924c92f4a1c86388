package ldapstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/scimgate/scimgate/ldapstore/changes"
)

// IndexStatus says, per resource type, whether lists come from the order
// index (index.go): "off" (no change stream: snapshots), "loading",
// "ready" or "lost" (the stream broke; reconnecting).
type IndexStatus struct {
	Users, Groups string
	// UsersEntries and GroupsEntries are what the ready indexes hold.
	UsersEntries, GroupsEntries int
}

// IndexStatus reports the order indexes' state.
func (s *Store) IndexStatus() IndexStatus {
	out := IndexStatus{Users: string(indexOff), Groups: string(indexOff)}
	st := s.state.Load()
	if st == nil {
		return out
	}
	read := func(r *Resources) (string, int) {
		x := r.index.Load()
		if x == nil {
			return string(indexOff), 0
		}
		n := 0
		if idx := x.ready.Load(); idx != nil {
			n = idx.Len()
		}
		return string(x.state.Load().(indexState)), n
	}
	out.Users, out.UsersEntries = read(st.users)
	out.Groups, out.GroupsEntries = read(st.groups)
	return out
}

// Run keeps the order indexes of the users and groups (index.go) current
// from the directory's change stream until ctx ends: it waits for the
// directory's schema, then, where the directory streams changes and
// search.index allows, follows one stream per resource type, each on a
// connection of its own. It returns at once, with nil, when there is
// nothing to follow: lists then take snapshots.
func (s *Store) Run(ctx context.Context) error {
	if s.search.Index == IndexOff {
		return nil
	}
	st, err := s.loadWait(ctx)
	if err != nil {
		return err
	}
	if s.follower(st, st.users, nil) == nil {
		return nil
	}
	var wg sync.WaitGroup
	for _, r := range []*Resources{st.users, st.groups} {
		x := newLiveIndex(r)
		r.index.Store(x)
		f := s.follower(st, r, x.attributes())
		wg.Go(func() { f.Run(ctx, x) })
	}
	wg.Wait()
	return ctx.Err()
}

// follower follows the directory's changes to a resource type's entries:
// RFC 4533 content sync where the directory offers it, Active Directory's
// DirSync where that is all it has; nil when neither.
func (s *Store) follower(st *state, r *Resources, attrs []string) interface {
	Run(context.Context, changes.Consumer) error
} {
	switch {
	case st.dse.Supports(Feature{OID: OIDContentSync}):
		return &changes.Stream{Dial: s.pool.Dedicated, BaseDN: r.baseDN, Filter: r.class, Attributes: attrs}
	case st.dse.IsActiveDirectory() && st.dse.Supports(Feature{OID: OIDDirSync}):
		return &changes.DirSync{Dial: s.pool.Dedicated, Partition: st.dse.partition(r.baseDN), BaseDN: r.baseDN,
			Filter: r.class, Attributes: attrs, Interval: s.search.PollInterval}
	}
	return nil
}

// loadWait loads the store, trying again until the directory answers or
// ctx ends.
func (s *Store) loadWait(ctx context.Context) (*state, error) {
	for {
		st, err := s.load(ctx)
		if err == nil {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("ldapstore: run: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
