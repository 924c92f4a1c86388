package ds389

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/internal/proc"
)

// process is a running ns-slapd of an instance laid out under root (see
// layout.go), in the foreground: our child, killed with us.
type process struct {
	root string
	*proc.Process
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
	p, err := proc.Spawn(cmd)
	if err != nil {
		return nil, fmt.Errorf("ds389: %w", err)
	}
	return &process{root: root, Process: p}, nil
}

// waitReady waits until the server answers an anonymous search of the root
// DSE on url (plain ldap://), and kills it if it does not within 30 s.
func (p *process) waitReady(ctx context.Context, url string) error {
	if err := p.WaitReady(ctx, 30*time.Second, 20*time.Millisecond, func() error { return rootDSEAnswers(url) }); err != nil {
		return fmt.Errorf("ds389: ns-slapd on %s: %w: %s", url, err, p.logTail())
	}
	return nil
}

func rootDSEAnswers(url string) error {
	c, err := ldap.DialURL(url, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"vendorVersion"}, nil))
	return err
}

// logTail is the end of what ns-slapd and its error log said.
func (p *process) logTail() string {
	return proc.LogTail(1500, filepath.Join(p.root, "ns-slapd.log"), errorLog(p.root))
}

// shutdown stops the server cleanly (SIGTERM: 389 writes its caches and
// marks its database clean), or kills it after 20 s.
func (p *process) shutdown() error {
	if err := p.Shutdown(20 * time.Second); err != nil {
		return fmt.Errorf("ds389: ns-slapd %w: %s", err, p.logTail())
	}
	return nil
}
