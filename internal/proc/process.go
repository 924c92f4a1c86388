package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is a server program running in the foreground as a child of the
// process that started it (a test, or scimgate dev), which it does not outlive (SetDeathSignal).
type Process struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // cmd.Wait's, once exited is closed
}

// ErrExited is WaitReady's error when the process ended before it was
// ready.
var ErrExited = errors.New("exited at start")

// Spawn starts cmd (its output set by the caller) with the parent-death
// signal.
func Spawn(cmd *exec.Cmd) (*Process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	SetDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// WaitReady calls ready every interval until it returns nil. It fails with
// ErrExited (and the process's exit status) when the process ends first,
// and kills the process when ctx ends or when ready has not succeeded
// within timeout (the error then has ready's last error).
func (p *Process) WaitReady(ctx context.Context, timeout, interval time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%w (%v)", ErrExited, p.waitErr)
		case <-ctx.Done():
			p.Kill()
			return ctx.Err()
		case <-time.After(interval):
		}
		if time.Now().After(deadline) {
			p.Kill()
			return fmt.Errorf("not ready within %v: %w", timeout, err)
		}
	}
}

// Kill kills the process at once (SIGKILL) and waits for its end.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// Shutdown stops the process cleanly (SIGTERM), and kills it when it has
// not ended within grace: that is an error.
func (p *Process) Shutdown(grace time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("did not stop within %v of SIGTERM: killed", grace)
	}
}

// LogTail is the end of each log file (its last max bytes), for an error
// message.
func LogTail(max int, files ...string) string {
	var out []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		out = append(out, Tail(b, max))
	}
	return strings.Join(out, "\n")
}

// Tail is the end of a program's output (its last max bytes), trimmed,
// for an error message.
func Tail(b []byte, max int) string {
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return strings.TrimSpace(string(b))
}
