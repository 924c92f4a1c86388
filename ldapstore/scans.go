package ldapstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Scans take the snapshots of large queries (search.go): one paged search
// over every match, whose memory grows with the matches. scans bounds how
// many run at once (search.max_concurrent_scans), so that parallel lists
// of a large directory cannot take the gateway's memory with them, and
// runs identical ones once: requests for the same query share the scan
// that is under way, unless a write went through this store after that
// scan began, which it might not see.
type scans struct {
	slots chan struct{}
	pool  *Pool
	stats struct{ queries, scans, busy atomic.Int64 }

	mu       sync.Mutex
	flights  map[string]*flight   // scans under way, by query and write count
	overflow map[string]time.Time // queries whose probe found too many results, when
	maxAge   time.Duration
}

// flight is a scan under way, which identical queries wait for.
type flight struct {
	done    chan struct{} // closed when snap and err are set
	started atomic.Bool   // it has a slot
	snap    *snapshot
	err     error
}

func newScans(pool *Pool, concurrent int, maxAge time.Duration) *scans {
	return &scans{slots: make(chan struct{}, concurrent), pool: pool, flights: map[string]*flight{},
		overflow: map[string]time.Time{}, maxAge: maxAge}
}

// ErrBusy: the gateway is already ordering as many large queries as it
// may (search.max_concurrent_scans), and this one could not start before
// its deadline; a retry may succeed.
var ErrBusy = errors.New("too many large queries at once")

// take returns the snapshot of the query key, taken by scan in a slot of
// its own or shared with an identical scan under way. The scan is not
// cancelled when ctx is (others may be waiting for it) but ends at ctx's
// deadline; waiting for a slot ends there too, with ErrBusy.
func (s *scans) take(ctx context.Context, key string, scan func(context.Context) (*snapshot, error)) (*snapshot, error) {
	k := key + "\x00" + strconv.FormatUint(s.pool.writes.Load(), 10)
	s.mu.Lock()
	f, ok := s.flights[k]
	if !ok {
		f = &flight{done: make(chan struct{})}
		s.flights[k] = f
		go s.fly(ctx, k, f, scan)
	}
	s.mu.Unlock()
	s.stats.queries.Add(1)
	select {
	case <-f.done:
		return f.snap, f.err
	case <-ctx.Done():
		if !f.started.Load() {
			return nil, s.busy()
		}
		return nil, fmt.Errorf("list: ordering the results: %w", ctx.Err())
	}
}

// fly runs the scan of flight f once it has a slot, within ctx's deadline
// but not its cancellation.
func (s *scans) fly(ctx context.Context, k string, f *flight, scan func(context.Context) (*snapshot, error)) {
	s.stats.scans.Add(1)
	sctx, cancel := detach(ctx)
	defer cancel()
	defer func() {
		s.mu.Lock()
		delete(s.flights, k)
		s.mu.Unlock()
		close(f.done)
	}()
	select {
	case s.slots <- struct{}{}:
		if expired(sctx) { // a slot freed as the deadline passed: too late
			<-s.slots
			s.stats.busy.Add(1)
			f.err = s.busy()
			return
		}
	case <-sctx.Done():
		s.stats.busy.Add(1)
		f.err = s.busy()
		return
	}
	defer func() { <-s.slots }()
	f.started.Store(true)
	f.snap, f.err = scan(sctx)
	if f.err != nil && expired(sctx) {
		// Not the directory's failure: the query takes longer than the
		// deadline of the request that began it.
		f.err = fmt.Errorf("list: ordering the results: %w (%v)", context.DeadlineExceeded, f.err)
	}
}

// expired reports whether ctx has ended or is past its deadline (the
// timer that ends it may not have fired yet).
func expired(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(dl)
}

func (s *scans) busy() error {
	return fmt.Errorf("%w (search.max_concurrent_scans is %d)", ErrBusy, cap(s.slots))
}

// ScanStats counts what the scans of a store did.
type ScanStats struct {
	Queries int64 // lists that needed a scan
	Scans   int64 // scans started: fewer when identical queries shared one
	Busy    int64 // scans that found no free slot before their deadline
}

// ScanStats returns the counts of the store's scans.
func (s *Store) ScanStats() ScanStats {
	return ScanStats{Queries: s.scans.stats.queries.Load(), Scans: s.scans.stats.scans.Load(), Busy: s.scans.stats.busy.Load()}
}

// detach returns a context that keeps ctx's values and deadline but not
// its cancellation.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	d := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(d, dl)
	}
	return context.WithCancel(d)
}

// overflowed reports whether a recent probe of the query key found more
// results than a probe reads: then its first pages go straight to a scan.
func (s *scans) overflowed(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.overflow[key]
	if ok && time.Since(at) > s.maxAge {
		delete(s.overflow, key)
		ok = false
	}
	return ok
}

// noteOverflow records that a probe of the query key found too many
// results. The record is bounded: at most maxOverflows queries.
func (s *scans) noteOverflow(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.overflow) >= maxOverflows {
		clear(s.overflow)
	}
	s.overflow[key] = time.Now()
}

const maxOverflows = 10_000
