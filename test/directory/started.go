package directory

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// CheckStarted ends the test t if a server did not start (err): when its
// program is missing (err is notInstalled) the test is skipped, unless the
// CI environment variable is set: then it fails, so that CI never passes
// without its integration tests. name names the server in the messages.
func CheckStarted(t testing.TB, err, notInstalled error, name string) {
	t.Helper()
	if errors.Is(err, notInstalled) {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and the integration tests need %s: %v", name, err)
		}
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
}

// NewFor starts a server for the test t with start, given timeout, ends t
// as CheckStarted does when it did not start, and stops it when t ends: the
// New of each harness.
func NewFor[S interface{ Stop() error }](t testing.TB, name string, notInstalled error, timeout time.Duration,
	start func(context.Context) (S, error)) S {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := start(ctx)
	CheckStarted(t, err, notInstalled, name)
	t.Cleanup(func() { s.Stop() })
	return s
}
