// Package slapd runs throwaway OpenLDAP servers on the loopback interface
// for the integration tests: New ties a server to a test, NewPair two
// providers that replicate each other.
//
// The servers themselves are internal/devdir's, which `scimgate dev` runs
// too; this package names its API for the tests and adds what only tests
// need: the rule of CI (New skips without slapd, but fails when CI is set)
// and WriteUsersLDIF, a large directory for benchmarks.
package slapd

import (
	"context"

	"github.com/scimgate/scimgate/internal/devdir"
	"github.com/scimgate/scimgate/test/directory"
)

type (
	// Options configure a server (devdir.Options).
	Options = devdir.Options
	// Server is a running slapd (devdir.Server).
	Server = devdir.Server
)

// ErrNotInstalled is returned when slapd is not on this machine.
var ErrNotInstalled = devdir.ErrNotInstalled

// DemoUsers is the number of users in DemoLDIF.
const DemoUsers = devdir.DemoUsers

// Binary returns the path of the slapd program, or ErrNotInstalled.
func Binary() (string, error) { return devdir.Binary() }

// Start starts a server and waits until it answers. Stop it with Stop.
func Start(ctx context.Context, opts Options) (*Server, error) { return devdir.Start(ctx, opts) }

// StartPair starts two providers that replicate both ways
// (devdir.StartPair).
func StartPair(ctx context.Context, opts Options) (a, b *Server, err error) {
	return devdir.StartPair(ctx, opts)
}

// WaitSynced waits until servers hold the same contextCSN
// (devdir.WaitSynced).
func WaitSynced(ctx context.Context, servers ...*Server) error {
	return devdir.WaitSynced(ctx, servers...)
}

// DemoLDIF returns demo data below the people and groups units of ds
// (devdir.DemoLDIF).
func DemoLDIF(ds directory.Server) string { return devdir.DemoLDIF(ds) }
