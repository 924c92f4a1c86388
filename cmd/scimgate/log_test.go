package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scimgate/gateway/config"
)

// syncBuffer is the process's stderr, as the logger sees it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var msgs []string
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if i := strings.Index(l, `"msg":"`); i >= 0 {
			msgs = append(msgs, strings.SplitN(l[i+7:], `"`, 2)[0])
		}
	}
	return msgs
}

// Buffered, info lines wait for the buffer, the interval or the end; a
// warning is written at once with what came before it. Unbuffered, each
// line is written as it comes.
func TestLogBuffer(t *testing.T) {
	tests := []struct {
		name          string
		bufferSize    int
		afterInfo     []string
		afterWarn     []string
		afterSync     []string
		flushInterval time.Duration
	}{
		{"buffered", 64 << 10, nil, []string{"one", "two", "careful"}, []string{"one", "two", "careful", "three"}, time.Hour},
		{"unbuffered", 0, []string{"one", "two"}, []string{"one", "two", "careful"}, []string{"one", "two", "careful", "three"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := &syncBuffer{}
			log, _, err := newLogger(config.Log{Level: "info", Format: "json", BufferSize: tt.bufferSize, FlushInterval: tt.flushInterval}, out)
			if err != nil {
				t.Fatal(err)
			}
			req := log.With() // loggers derived for requests keep the behaviour
			req.Info("one")
			req.Info("two")
			if got := out.lines(); !equal(got, tt.afterInfo) {
				t.Errorf("after two info lines: %q written, want %q", got, tt.afterInfo)
			}
			req.Warn("careful")
			if got := out.lines(); !equal(got, tt.afterWarn) {
				t.Errorf("after a warning: %q written, want %q", got, tt.afterWarn)
			}
			log.Info("three")
			log.Sync()
			if got := out.lines(); !equal(got, tt.afterSync) {
				t.Errorf("after Sync: %q written, want %q", got, tt.afterSync)
			}
		})
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }
