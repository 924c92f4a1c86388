package proc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBuildOnce: callers at the same time build once (each call locks its
// own file descriptor, as separate processes do) and all find the result;
// a failed build leaves nothing, and the next call builds again.
func TestBuildOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "template")
	var builds atomic.Int32
	build := func(_ context.Context, in string) error {
		builds.Add(1)
		time.Sleep(50 * time.Millisecond)
		return os.WriteFile(filepath.Join(in, "made"), []byte("yes"), 0o600)
	}
	failing := func(_ context.Context, in string) error {
		os.WriteFile(filepath.Join(in, "half"), nil, 0o600)
		return errors.New("no")
	}
	if err := BuildOnce(context.Background(), dir, failing); err == nil {
		t.Fatal("a failed build succeeded")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a failed build left %s: %v", dir, err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = BuildOnce(context.Background(), dir, build) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("%d builds, want 1", n)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "made")); string(b) != "yes" {
		t.Errorf("built %q, %v", b, err)
	}
	if _, err := time.ParseDuration(BuildTime(dir)); err != nil {
		t.Errorf("build time %q: %v", BuildTime(dir), err)
	}
}

// TestBuildOnceAfterDeath: a directory without BuiltFile (its builder was
// killed) is built again from nothing.
func TestBuildOnceAfterDeath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "template")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "half"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := BuildOnce(context.Background(), dir, func(_ context.Context, in string) error {
		return os.WriteFile(filepath.Join(in, "made"), nil, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{BuiltFile, "made"}; !slices.Equal(names, want) {
		t.Errorf("the directory holds %v, want %v", names, want)
	}
}

// TestLockWaitsForContext: a lock held elsewhere is waited for until the
// context ends.
func TestLockWaitsForContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	unlock, err := TryLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(path); !errors.Is(err, ErrLocked) {
		t.Errorf("second TryLock: %v, want ErrLocked", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := Lock(ctx, path); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock on a held lock: %v, want the context's end", err)
	}
	unlock()
	again, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	again()
}

// TestClaimLoopback: claims held at once get different addresses. (That a
// released address is claimed again is not checked: test processes running
// in parallel may take it first.)
func TestClaimLoopback(t *testing.T) {
	a, releaseA, err := ClaimLoopback()
	if err != nil {
		t.Fatal(err)
	}
	b, releaseB, err := ClaimLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer releaseB()
	if a == b {
		t.Fatalf("both claims got %s", a)
	}
	releaseA()
	c, releaseC, err := ClaimLoopback()
	if err != nil {
		t.Fatal(err)
	}
	defer releaseC()
	if c == b {
		t.Errorf("%s claimed while held", c)
	}
}

// FreePorts gives distinct ports, each free when chosen.
func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: not five distinct ports", ports)
		}
		seen[p] = true
	}
}
