package main

import (
	"io/fs"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// setMemoryLimit gives the Go runtime a soft memory limit of three quarters
// of the container's (cgroup v2 memory.max, or v1 memory.limit_in_bytes),
// unless GOMEMLIMIT sets one: the heap then stays under it by collecting
// more often, rather than growing by GOGC until the kernel kills the pod.
// It returns the limit set, 0 when none.
func setMemoryLimit(cgroups fs.FS) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit := containerMemoryLimit(cgroups)
	if limit <= 0 {
		return 0
	}
	soft := limit / 4 * 3
	debug.SetMemoryLimit(soft)
	return soft
}

// containerMemoryLimit reads the memory limit of the cgroup the process is
// in from cgroups (the /sys/fs/cgroup tree): 0 when there is none.
func containerMemoryLimit(cgroups fs.FS) int64 {
	for _, name := range []string{"memory.max", "memory/memory.limit_in_bytes"} {
		b, err := fs.ReadFile(cgroups, name)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(v, 10, 64)
		if v == "max" || err != nil || n <= 0 || n >= 1<<60 { // v1 says "none" with a huge number
			return 0
		}
		return n
	}
	return 0
}
