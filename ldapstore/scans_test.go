package ldapstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// The scan coordinator, with scan functions of the test's own (they stand
// in for paged searches, whose timing a test cannot hold).

func newTestScans(concurrent int) *scans {
	return newScans(&Pool{}, concurrent, time.Minute)
}

// Identical queries share one scan, whoever asked first; the first asker
// leaving does not end it for the others.
func TestScansShared(t *testing.T) {
	s := newTestScans(2)
	release := make(chan struct{})
	want := &snapshot{}
	scan := func(ctx context.Context) (*snapshot, error) {
		select {
		case <-release:
			return want, ctx.Err()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	first, leave := context.WithTimeout(context.Background(), time.Minute)
	var wg sync.WaitGroup
	got := make([]*snapshot, 10)
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if i == 0 {
				ctx = first
			}
			got[i], errs[i] = s.take(ctx, "q", scan)
		}()
	}
	for s.stats.queries.Load() < 10 {
		time.Sleep(time.Millisecond)
	}
	leave() // the first asker gives up
	close(release)
	wg.Wait()
	if !errors.Is(errs[0], context.Canceled) {
		t.Errorf("the asker that left: %v, want context.Canceled", errs[0])
	}
	for i := 1; i < 10; i++ {
		if got[i] != want || errs[i] != nil {
			t.Errorf("asker %d: %p %v, want the shared snapshot", i, got[i], errs[i])
		}
	}
	if n := s.stats.scans.Load(); n != 1 {
		t.Errorf("%d scans for 10 identical queries, want 1", n)
	}
}

// A write through the store between two identical queries gives the
// second a scan of its own: it must see the write.
func TestScansAfterAWrite(t *testing.T) {
	s := newTestScans(2)
	release := make(chan struct{})
	scan := func(ctx context.Context) (*snapshot, error) { <-release; return &snapshot{}, nil }
	var wg sync.WaitGroup
	got := make([]*snapshot, 2)
	wg.Add(1)
	go func() { defer wg.Done(); got[0], _ = s.take(context.Background(), "q", scan) }()
	for s.stats.queries.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	s.pool.writes.Add(1)
	wg.Add(1)
	go func() { defer wg.Done(); got[1], _ = s.take(context.Background(), "q", scan) }()
	for s.stats.queries.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if got[0] == got[1] || s.stats.scans.Load() != 2 {
		t.Errorf("%d scans, the same snapshot: %v; want 2 scans", s.stats.scans.Load(), got[0] == got[1])
	}
}

// At most max_concurrent_scans run at once; another waits for a slot
// within its deadline, then fails with ErrBusy, and runs once one frees.
func TestScansBounded(t *testing.T) {
	s := newTestScans(1)
	release := make(chan struct{})
	held := make(chan struct{})
	go s.take(context.Background(), "a", func(context.Context) (*snapshot, error) {
		close(held)
		<-release
		return &snapshot{}, nil
	})
	<-held
	ran := false
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.take(ctx, "b", func(context.Context) (*snapshot, error) { ran = true; return &snapshot{}, nil })
	if !errors.Is(err, ErrBusy) || ran {
		t.Fatalf("a second scan with the slot taken: %v (ran %v), want ErrBusy", err, ran)
	}
	close(release)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		left := len(s.flights)
		s.mu.Unlock()
		if left == 0 && s.stats.busy.Load() == 1 { // counted by the scan that never started, as it ends
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("flights left %d, busy %d; want 0 and 1", left, s.stats.busy.Load())
		}
	}
	if _, err := s.take(context.Background(), "b", func(context.Context) (*snapshot, error) { return &snapshot{}, nil }); err != nil {
		t.Errorf("with the slot free: %v", err)
	}
}
