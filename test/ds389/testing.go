package ds389

import (
	"context"
	"testing"
	"time"

	"github.com/scimgate/scimgate/test/directory"
)

// New starts a server for the test t and stops it when t ends. When 389 is
// not installed the test is skipped, unless the CI environment variable is
// set: then it fails. The first server of a machine waits for the template
// (about 15 s); the others start in about a second.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	return directory.NewFor(t, "389 Directory Server", ErrNotInstalled, 3*time.Minute, func(ctx context.Context) (*Server, error) { return Start(ctx, opts) })
}
