package ds389

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/test/internal/proc"
)

// process is a running ns-slapd of an instance laid out under root (see
// layout.go), in the foreground: our child, killed with us.
type process struct {
	root    string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// spawn starts ns-slapd for the instance under root; its messages go to
// root/ns-slapd.log.
func spawn(bin, root string) (*process, error) {
	logf, err := os.Create(filepath.Join(root, "ns-slapd.log"))
	if err != nil {
		return nil, fmt.Errorf("ds389: %w", err)
	}
	defer logf.Close()
	// Without -d ns-slapd detaches; -d 0 keeps it in the foreground with no
	// debug output.
	cmd := exec.Command(bin, "-D", configDir(root), "-i", pidFile(root), "-d", "0")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	proc.SetDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ds389: %w", err)
	}
	p := &process{root: root, cmd: cmd, exited: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// waitReady waits until the server answers an anonymous search of the root
// DSE on url (plain ldap://), and kills it if it does not within 30 s.
func (p *process) waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if rootDSEAnswers(url) {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("ds389: ns-slapd exited at start (%v): %s", p.waitErr, p.logTail())
		case <-ctx.Done():
			p.kill()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("ds389: ns-slapd did not answer on %s within 30s: %s", url, p.logTail())
		}
	}
}

func rootDSEAnswers(url string) bool {
	c, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return false
	}
	defer c.Close()
	_, err = c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"vendorVersion"}, nil))
	return err == nil
}

// logTail is the end of what ns-slapd and its error log said.
func (p *process) logTail() string {
	var out []string
	for _, f := range []string{filepath.Join(p.root, "ns-slapd.log"), errorLog(p.root)} {
		b, _ := os.ReadFile(f)
		if len(b) > 1500 {
			b = b[len(b)-1500:]
		}
		out = append(out, strings.TrimSpace(string(b)))
	}
	return strings.Join(out, "\n")
}

// kill kills the server at once.
func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// shutdown stops the server cleanly (SIGTERM: 389 writes its caches and
// marks its database clean), or kills it after 20 s.
func (p *process) shutdown() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(20 * time.Second):
		p.kill()
		return fmt.Errorf("ds389: ns-slapd did not stop within 20s: %s", p.logTail())
	}
}
