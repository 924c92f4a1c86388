package slapd

import (
	"context"
	"testing"
	"time"

	"github.com/scimgate/scimgate/test/directory"
)

// New starts a server for the test t and stops it when t ends. When slapd is
// not installed the test is skipped, unless the CI environment variable is
// set: then it fails, so that CI never passes without its integration tests.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	return directory.NewFor(t, "slapd", ErrNotInstalled, 30*time.Second, func(ctx context.Context) (*Server, error) { return Start(ctx, opts) })
}

// NewPair starts two providers replicating each other (see StartPair) for
// the test t, and stops them when t ends; without slapd it skips or fails
// as New does.
func NewPair(t testing.TB, opts Options) (a, b *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b, err := StartPair(ctx, opts)
	directory.CheckStarted(t, err, ErrNotInstalled, "slapd")
	t.Cleanup(func() { a.Stop(); b.Stop() })
	return a, b
}
