package samba

import (
	"context"
	"testing"
	"time"

	"github.com/scimgate/scimgate/test/internal/proc"
)

// New starts a server for the test t and stops it when t ends. Without
// Samba (or root) the test is skipped, unless the CI environment variable is
// set: then it fails, so that CI never passes without its integration tests.
// The first server of the machine waits for the template (about 15 s).
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	proc.CheckStarted(t, err, ErrNotInstalled, "Samba AD DC")
	t.Cleanup(func() { s.Stop() })
	return s
}
