package proc

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProcess, with real processes (sh): a process that ends before it is
// ready is ErrExited; one never ready is killed at the timeout or when the
// context ends, with ready's last error; one that ignores SIGTERM is killed
// after the grace period; a ready one stops on SIGTERM.
func TestProcess(t *testing.T) {
	notYet := errors.New("not yet")
	never := func() error { return notYet }
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name    string
		script  string
		ctx     context.Context
		ready   func() error
		wantErr error
	}{
		{"exits at start", "exit 3", context.Background(), never, ErrExited},
		{"never ready", "sleep 30", context.Background(), never, notYet},
		{"context ends", "sleep 30", cancelled, never, context.Canceled},
		{"ready", "sleep 30", context.Background(), func() error { return nil }, nil},
	} {
		p, err := Spawn(exec.Command("sh", "-c", c.script))
		if err != nil {
			t.Fatal(err)
		}
		err = p.WaitReady(c.ctx, 200*time.Millisecond, 10*time.Millisecond, c.ready)
		if !errors.Is(err, c.wantErr) || (err == nil) != (c.wantErr == nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.wantErr)
		}
		if c.wantErr != nil {
			select {
			case <-p.Exited():
			default:
				t.Errorf("%s: still running after %v", c.name, err)
			}
			continue
		}
		if err := p.Shutdown(5 * time.Second); err != nil {
			t.Errorf("%s: shutdown: %v", c.name, err)
		}
	}
	stubborn, err := Spawn(exec.Command("sh", "-c", "trap '' TERM; echo trapped; sleep 30"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the trap set
	if err := stubborn.Shutdown(100 * time.Millisecond); err == nil {
		t.Error("a process that ignores SIGTERM stopped without being killed")
	}
}

func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("0123456789\n"), 0o600)
	os.WriteFile(b, []byte("tiny\n"), 0o600)
	if got, want := LogTail(5, a, b, filepath.Join(dir, "missing")), strings.Join([]string{"6789", "tiny", ""}, "\n"); got != want {
		t.Errorf("LogTail = %q, want %q", got, want)
	}
}
