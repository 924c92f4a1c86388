//go:build !unix

package proc

import (
	"context"
	"errors"
)

var errNoLocks = errors.New("lock: file locks are implemented for Unix only")

// Lock fails where file locks are not implemented.
func Lock(context.Context, string) (func(), error) { return nil, errNoLocks }

// TryLock fails where file locks are not implemented.
func TryLock(string) (func(), error) { return nil, errNoLocks }
