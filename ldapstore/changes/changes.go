// Package changes follows the entries below a base DN as the directory
// streams them, with RFC 4533 content synchronisation in refreshAndPersist
// mode (OpenLDAP's syncprov overlay, 389 Directory Server's content sync
// plugin): first every entry (the refresh), then every add, modify, rename
// and delete as it happens (persist), each keyed by its entryUUID (389's
// by its nsUniqueId) — and, on Active Directory, which has no content sync,
// by polling with its DirSync control (DirSync), keyed by objectGUID.
//
// It speaks LDAP and knows nothing of SCIM, HTTP or what the entries are
// for: a Consumer receives them. When the stream breaks (the directory
// restarts, the network fails) Run tells the consumer, connects again and
// starts over with a full refresh: the consumer never has to reconcile a
// partial history.
package changes

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Consumer receives a stream's content. Its methods are called from Run's
// goroutine, one at a time.
type Consumer interface {
	// Reset: a full refresh begins; what was received before no longer
	// counts.
	Reset()
	// Put: an entry as it is now, added, changed or renamed (e.DN is its
	// name now), with the attributes the stream asks for.
	Put(id [16]byte, e *ldap.Entry)
	// Delete: the entry left the content (deleted, or moved out of the
	// base or the filter).
	Delete(id [16]byte)
	// Synced: the refresh is complete: the entries Put since Reset are
	// every entry there is, and changes follow as they happen.
	Synced()
	// Lost: the stream broke; until the next Synced what the consumer
	// holds may be out of date.
	Lost(err error)
}

// Dialer opens a bound connection to the directory, of the stream's own.
type Dialer func(ctx context.Context) (*ldap.Conn, error)

// Stream is the content of one base DN, as a filter selects it.
type Stream struct {
	Dial       Dialer
	BaseDN     string
	Filter     string   // e.g. (objectClass=inetOrgPerson)
	Attributes []string // what each Put carries
	// RetryMax bounds the wait between two connection attempts after a
	// failure (it starts at 250 ms and doubles); default 30 s.
	RetryMax time.Duration
}

// OIDSync is the Sync Request control (RFC 4533): a directory listing it
// in its root DSE's supportedControl can stream its changes.
const OIDSync = ldap.ControlTypeSyncRequest

// Run streams the content to c until ctx ends, reconnecting after a
// failure with a backoff; it returns ctx's error.
func (s *Stream) Run(ctx context.Context, c Consumer) error {
	return follow(ctx, c, s.RetryMax, s.once)
}

// follow runs sessions (once) for c until ctx ends, telling c when one
// fails and waiting before the next: 250 ms doubling up to retryMax
// (default 30 s), back to 250 ms after a session that got in sync.
func follow(ctx context.Context, c Consumer, retryMax time.Duration, once func(context.Context, Consumer) (bool, error)) error {
	if retryMax <= 0 {
		retryMax = 30 * time.Second
	}
	wait := 250 * time.Millisecond
	for {
		synced, err := once(ctx, c)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.Lost(err)
		if synced {
			wait = 250 * time.Millisecond // it worked for a while: retry soon
		}
		d := wait + time.Duration(rand.Int64N(int64(wait)/4+1))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		wait = min(2*wait, retryMax)
	}
}

// once runs one session: connect, refresh, persist until it breaks. It
// reports whether the refresh completed.
func (s *Stream) once(ctx context.Context, c Consumer) (synced bool, err error) {
	conn, err := s.Dial(ctx)
	if err != nil {
		return false, fmt.Errorf("changes: connect: %w", err)
	}
	defer conn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req := ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		s.Filter, s.Attributes, nil)
	res := conn.Syncrepl(sctx, req, 256, ldap.SyncRequestModeRefreshAndPersist, nil, false)
	c.Reset()
	for res.Next() {
		if done := s.dispatch(c, res.Entry(), res.Controls()); done && !synced {
			synced = true
			c.Synced()
		}
	}
	if err := res.Err(); err != nil {
		return synced, fmt.Errorf("changes: %s: %w", s.BaseDN, err)
	}
	if ctx.Err() != nil {
		return synced, ctx.Err()
	}
	return synced, errors.New("changes: the directory ended the persistent search")
}

// dispatch hands one message of the stream to c; it reports whether the
// message ends the refresh.
func (s *Stream) dispatch(c Consumer, e *ldap.Entry, controls []ldap.Control) (refreshDone bool) {
	for _, ctrl := range controls {
		switch ctrl := ctrl.(type) {
		case *ldap.ControlSyncState:
			if e == nil {
				continue
			}
			switch ctrl.State {
			case ldap.SyncStateAdd, ldap.SyncStateModify:
				c.Put(ctrl.EntryUUID, e)
			case ldap.SyncStateDelete:
				c.Delete(ctrl.EntryUUID)
			case ldap.SyncStatePresent:
				if len(e.Attributes) > 0 {
					c.Put(ctrl.EntryUUID, e)
				}
			}
		case *ldap.ControlSyncInfo:
			refreshDone = refreshDone || s.info(c, ctrl)
		}
	}
	return refreshDone
}

// info handles a Sync Info message: the end of the refresh, or a set of
// entries deleted.
func (s *Stream) info(c Consumer, ctrl *ldap.ControlSyncInfo) (refreshDone bool) {
	switch {
	case ctrl.RefreshDelete != nil:
		return ctrl.RefreshDelete.RefreshDone
	case ctrl.RefreshPresent != nil:
		return ctrl.RefreshPresent.RefreshDone
	case ctrl.SyncIdSet != nil && ctrl.SyncIdSet.RefreshDeletes:
		for _, id := range ctrl.SyncIdSet.SyncUUIDs {
			c.Delete(id)
		}
	}
	return false
}
