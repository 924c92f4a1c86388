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
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago: each is held until all are chosen, so that two cannot be
// the same.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("no free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
