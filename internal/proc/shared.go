package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ErrLocked is TryLock's answer when another holds the lock.
var ErrLocked = errors.New("lock: held by another")

// BuiltFile, in a directory made by BuildOnce, is written last: it holds
// the time the build took. A directory without it is a build that died.
const BuiltFile = "built"

// BuildOnce makes sure that dir holds what build makes, building it at most
// once on the machine: processes that ask at the same time wait for the one
// that builds (a lock file beside dir), and later ones find it done. build
// works in dir itself, so that the paths servers write into their files
// are dir's; BuiltFile, written when build succeeds, says that dir is
// complete, and a dir without it is removed and built again. Name dir after
// a hash of what build does, as nothing rebuilds a complete one.
func BuildOnce(ctx context.Context, dir string, build func(ctx context.Context, dir string) error) error {
	marker := filepath.Join(dir, BuiltFile)
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	unlock, err := Lock(ctx, dir+".lock")
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := os.Stat(marker); err == nil {
		return nil // built while we waited
	}
	if err := os.RemoveAll(dir); err != nil { // what a killed build left
		return fmt.Errorf("build %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}
	start := time.Now()
	if err := build(ctx, dir); err != nil {
		os.RemoveAll(dir)
		return err
	}
	took := time.Since(start).Round(time.Millisecond).String()
	if err := os.WriteFile(marker, []byte(took), 0o600); err != nil {
		return fmt.Errorf("build %s: %w", dir, err)
	}
	return nil
}

// BuildTime is what the build of dir took, as BuildOnce recorded it.
func BuildTime(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, BuiltFile))
	if err != nil {
		return "unknown"
	}
	return string(b)
}

// ClaimLoopback claims a loopback address 127.0.0.N (N from 2 up) for a
// server whose ports are fixed: an address no other test process holds
// (lock files in the temporary directory) and where ports are free now.
// The claim lasts until release, or the process, ends.
func ClaimLoopback(ports ...int) (ip string, release func(), err error) {
	for n := 2; n < 255; n++ {
		ip = "127.0.0." + strconv.Itoa(n)
		release, err := TryLock(filepath.Join(os.TempDir(), "scimgate-loopback-"+ip+".lock"))
		if errors.Is(err, ErrLocked) {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if portsFree(ip, ports) {
			return ip, release, nil
		}
		release() // taken by a process that takes no lock
	}
	return "", nil, errors.New("no loopback address left with free ports")
}

// portsFree reports whether each port of ip can be listened on.
func portsFree(ip string, ports []int) bool {
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}
