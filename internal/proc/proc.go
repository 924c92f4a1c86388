// Package proc holds what the throwaway servers share about running a
// server process on loopback, for `scimgate dev` (internal/devdir) and for
// the test harnesses (test/slapd, test/ds389, test/hydra, test/samba): free
// ports and addresses, locks shared by processes (go test runs packages in
// parallel), what is built once for them all (BuildOnce), the parent-death
// signal. The rule of CI (CheckStarted), which needs package testing, is
// test/directory's.
package proc

import (
	"fmt"
	"net"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
