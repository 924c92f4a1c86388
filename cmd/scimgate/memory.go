package main

import (
	"io/fs"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
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

// gcHeadroom is how much the heap may grow past its live data before a
// collection: a gateway's live heap is small (tens of MiB) unless it holds
// an order index, and every request allocates, so a fixed GOGC either
// collects too often (small heap: a third of the CPU at GOGC=100) or lets
// a large heap grow several times over (GOGC=400 over a 130 MiB index,
// which the collector need not even scan: it holds no pointers).
const gcHeadroom = 128 << 20

// tuneGC keeps the heap's growth between collections at gcHeadroom: GOGC
// = 100 × gcHeadroom ÷ live, set again after every collection (a finalizer
// that re-arms itself, the usual way to hook the GC), unless GOGC says
// otherwise. The memory then stays near live + 128 MiB, whatever the live
// size.
func tuneGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var rearm func(*gcSentinel)
	rearm = func(s *gcSentinel) {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetGCPercent(gcPercent(sample[0].Value.Uint64()))
		}
		runtime.SetFinalizer(&gcSentinel{}, rearm)
	}
	debug.SetGCPercent(gcPercent(0))
	runtime.SetFinalizer(&gcSentinel{}, rearm)
}

// gcSentinel is garbage whose finalizer runs after each collection.
type gcSentinel struct{ _ [16]byte }

// gcPercent is the GOGC that lets a heap of live bytes grow by
// gcHeadroom, within 10 and 1000.
func gcPercent(live uint64) int {
	if live == 0 {
		return 400
	}
	p := 100 * gcHeadroom / live
	return int(min(max(p, 10), 1000))
}
