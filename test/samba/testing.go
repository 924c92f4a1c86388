package samba

import (
	"context"
	"testing"
	"time"

	"github.com/scimgate/scimgate/test/directory"
)

// New starts a server for the test t and stops it when t ends. Without
// Samba (or root) the test is skipped, unless the CI environment variable is
// set: then it fails, so that CI never passes without its integration tests.
// The first server of the machine waits for the template (about 12 s);
// the others start in about half a second.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	return directory.NewFor(t, "Samba AD DC", ErrNotInstalled, 3*time.Minute, func(ctx context.Context) (*Server, error) { return Start(ctx, opts) })
}
