package main

import (
	"testing"
	"testing/fstest"
)

// The container's memory limit, as cgroup v2 and v1 give it. (A fake file
// tree: a real cgroup limit cannot be set up by a test.)
func TestContainerMemoryLimit(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
		want  int64
	}{
		{"cgroup v2 limit", fstest.MapFS{"memory.max": {Data: []byte("536870912\n")}}, 512 << 20},
		{"cgroup v2 no limit", fstest.MapFS{"memory.max": {Data: []byte("max\n")}}, 0},
		{"cgroup v1 limit", fstest.MapFS{"memory/memory.limit_in_bytes": {Data: []byte("268435456\n")}}, 256 << 20},
		{"cgroup v1 no limit", fstest.MapFS{"memory/memory.limit_in_bytes": {Data: []byte("9223372036854771712\n")}}, 0},
		{"no cgroup files", fstest.MapFS{}, 0},
		{"garbage", fstest.MapFS{"memory.max": {Data: []byte("lots\n")}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := containerMemoryLimit(tt.files); got != tt.want {
				t.Errorf("containerMemoryLimit = %d, want %d", got, tt.want)
			}
		})
	}
}

// The GC's growth between collections: gcHeadroom, within GOGC 10 and
// 1000.
func TestGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{16 * mib, 800},
		{32 * mib, 400},
		{64 * mib, 200},
		{128 * mib, 100},
		{256 * mib, 50},
		{1024 * mib, 12},
		{4096 * mib, 10},
		{4 * mib, 1000},
	} {
		if got := gcPercent(tt.live); got != tt.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", tt.live/mib, got, tt.want)
		}
	}
}
