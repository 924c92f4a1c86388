// Package samba runs throwaway Samba Active Directory domain controllers
// (Samba 4.17, Debian's samba and samba-ad-dc) on loopback, for the
// integration tests that must meet a real AD.
//
// The realm is EXAMPLE.ORG, the naming context DC=example,DC=org, with the
// units OU=people and OU=groups and a service account CN=scimgate,CN=Users
// (password "scimgate-secret") that holds what a deployment would delegate
// to scimgate: it creates, deletes and manages user objects below
// OU=people, resets their passwords, and does the same for group objects
// below OU=groups; like any authenticated user it reads the rest.
//
// Provisioning a domain takes seconds, so it is done once per recipe on the
// machine (a template under the temporary directory, named by a hash of the
// recipe and built under a lock file, safe when packages test in parallel;
// see template.go). Each server is a copy of the template started in the
// foreground (samba -i -M single, `server services = ldap` alone) on a
// loopback address of its own (127.0.0.2, .3, ...: AD's LDAP ports are
// fixed, 389 and 636, so listening needs root), with a certificate for that
// address and the DC's host name signed by a CA made for it. Clients use
// ldaps://: Samba refuses simple binds without TLS, and AD refuses
// unicodePwd without it.
//
// A gateway test takes a server as any directory.Server: samba.New(t,
// samba.Options{LDIF: samba.UserLDIF("alice", "Passw0rd-a")}) starts one
// with that user, added as the Administrator once it runs, and its
// Directory() (the embedded directory.Info, as with test/slapd and
// test/ds389) gives the ldaps:// URL, the CA, the units and the service
// account to configure scimgate with (Info.GatewayEnv for the binary), with
// the activedirectory profile.
//
// Of scimgate it knows nothing.
package samba

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/scimgate/scimgate/internal/certs"
	"github.com/scimgate/scimgate/internal/proc"
	"github.com/scimgate/scimgate/test/directory"
)

// The domain every server holds.
const (
	Realm    = "EXAMPLE.ORG"
	Suffix   = "DC=example,DC=org"
	HostName = "DC1.example.org" // the domain controller's DNS name
	// AdminDN is the domain's Administrator; AdminPassword its password
	// (one that the domain's complexity rule takes).
	AdminDN         = "CN=Administrator,CN=Users," + Suffix
	AdminPassword   = "Adm1n-secret"
	PeopleDN        = "OU=people," + Suffix
	GroupsDN        = "OU=groups," + Suffix
	ServiceDN       = "CN=scimgate,CN=Users," + Suffix
	ServicePassword = "scimgate-secret"
)

// ldapPorts are the ports Samba's LDAP server listens on, whatever its
// configuration: LDAP, LDAPS and the global catalog's two.
var ldapPorts = []int{389, 636, 3268, 3269}

// Options configure a server. The zero value is the template's domain.
type Options struct {
	// LDIF is added over LDAPS as the Administrator once the server runs
	// (see internal/directory.ParseLDIF): AD entries, with objectClass user, group,
	// ..., and unicodePwd as AD wants it (see UnicodePwd).
	LDIF string
}

// Server is a running Samba AD DC.
type Server struct {
	// Info: URL is ldaps://127.0.0.N; CAFile the CA of its certificate;
	// RootDN the Administrator; the units and the service account above.
	directory.Info
	Addr string // the loopback address it listens on, 127.0.0.N
	Dir  string // its files: a copy of the template

	proc    *proc.Process
	release func() // of the address
}

var _ directory.Server = (*Server)(nil)

// ErrNotInstalled is returned when Samba's AD DC is not on this machine,
// or cannot run here: its LDAP ports are fixed (389, 636), so it runs as
// root.
var ErrNotInstalled = errors.New("Samba AD DC is not installed: run test/samba/install.sh as root " +
	"(apt-get install --no-install-recommends samba samba-ad-dc samba-ad-provision)")

// provisionData is a file of samba-ad-provision that samba-tool needs to
// provision a domain.
const provisionData = "/usr/share/samba/setup/ad-schema"

// binaries returns the paths of samba and samba-tool, or ErrNotInstalled.
func binaries() (samba, tool string, err error) {
	if os.Geteuid() != 0 {
		return "", "", fmt.Errorf("%w (or not as root: this process is not)", ErrNotInstalled)
	}
	samba, err1 := exec.LookPath("samba")
	if err1 != nil {
		samba, err1 = exec.LookPath("/usr/sbin/samba")
	}
	tool, err2 := exec.LookPath("samba-tool")
	if _, err3 := os.Stat(provisionData); err1 != nil || err2 != nil || err3 != nil {
		return "", "", ErrNotInstalled
	}
	return samba, tool, nil
}

// Start starts a server, a copy of the template (made first if need be),
// and waits until its Administrator can bind. Stop it with Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, tool, err := binaries()
	if err != nil {
		return nil, err
	}
	tmpl, err := template(ctx, bin, tool)
	if err != nil {
		return nil, err
	}
	s, err := clone(tmpl)
	if err != nil {
		return nil, err
	}
	if err := s.launch(ctx, bin); err != nil {
		s.cleanup()
		return nil, err
	}
	if err := s.AddLDIF(ctx, opts.LDIF); err != nil {
		s.Stop()
		return nil, fmt.Errorf("samba: %w", err)
	}
	return s, nil
}

// newServer is a server on a claimed address with its files in dir, not
// yet running.
func newServer(dir string) (*Server, error) {
	ip, release, err := proc.ClaimLoopback(ldapPorts...)
	if err != nil {
		return nil, fmt.Errorf("samba: %w", err)
	}
	return &Server{Info: directory.Info{
		URL:             "ldaps://" + ip,
		CAFile:          filepath.Join(dir, "tls", certs.CA),
		Suffix:          Suffix,
		RootDN:          AdminDN,
		Password:        AdminPassword,
		PeopleDN:        PeopleDN,
		GroupsDN:        GroupsDN,
		ServiceDN:       ServiceDN,
		ServicePassword: ServicePassword,
	}, Addr: ip, Dir: dir, release: release}, nil
}

// clone copies the template into a new directory and makes it a server.
func clone(tmpl string) (*Server, error) {
	dir, err := os.MkdirTemp("", "scimgate-samba-")
	if err != nil {
		return nil, fmt.Errorf("samba: %w", err)
	}
	if out, err := exec.Command("cp", "-a", tmpl+"/.", dir).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("samba: copy the template: %v: %s", err, out)
	}
	s, err := newServer(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.configure(dirPlaceholder); err != nil {
		s.cleanup()
		return nil, err
	}
	return s, nil
}

// interfacesLine is the line of smb.conf that says where Samba listens.
var interfacesLine = regexp.MustCompile(`(?m)^(\s*interfaces\s*=).*$`)

// configure makes s's files its own: smb.conf's paths under from (the
// directory it was provisioned in, or dirPlaceholder) moved to s.Dir, its interface s.Addr
// (with /8: a bare 127.0.0.N matches no interface), and a certificate for
// s.Addr and HostName.
func (s *Server) configure(from string) error {
	conf := filepath.Join(s.Dir, "etc", "smb.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return fmt.Errorf("samba: %w", err)
	}
	text := strings.ReplaceAll(string(b), from, s.Dir)
	text = interfacesLine.ReplaceAllString(text, "${1} "+s.Addr+"/8")
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return fmt.Errorf("samba: %w", err)
	}
	for _, d := range []string{"tls", "run"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o700); err != nil {
			return fmt.Errorf("samba: %w", err)
		}
	}
	if err := certs.Write(filepath.Join(s.Dir, "tls"), 24*time.Hour, s.Addr, HostName); err != nil {
		return fmt.Errorf("samba: %w", err)
	}
	return nil
}

// launch runs samba and waits until the Administrator can bind over
// LDAPS (30 s at most).
func (s *Server) launch(ctx context.Context, bin string) error {
	logf, err := os.Create(s.logFile())
	if err != nil {
		return fmt.Errorf("samba: %w", err)
	}
	defer logf.Close()
	// -i keeps samba in the foreground, our child, logging to stdout; -M
	// single makes it one process, which the death signal kills whole.
	cmd := exec.Command(bin, "-i", "-M", "single", "-s", filepath.Join(s.Dir, "etc", "smb.conf"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if s.proc, err = proc.Spawn(cmd); err != nil {
		return fmt.Errorf("samba: %w", err)
	}
	err = s.proc.WaitReady(ctx, 30*time.Second, 50*time.Millisecond, func() error {
		c, err := s.Dial()
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("samba on %s: %w: %s", s.URL, err, proc.LogTail(2000, s.logFile()))
	}
	return nil
}

func (s *Server) logFile() string { return filepath.Join(s.Dir, "samba.log") }

// Pid is the process id of the running samba.
func (s *Server) Pid() int { return s.proc.Pid() }

// shutdown stops samba with SIGTERM (it ends at once), and SIGKILL after
// 5 s.
func (s *Server) shutdown() {
	if s.proc != nil {
		s.proc.Shutdown(5 * time.Second)
	}
}

// Stop stops the server, removes its files and gives its address back.
func (s *Server) Stop() error {
	s.shutdown()
	s.cleanup()
	return nil
}

func (s *Server) cleanup() {
	os.RemoveAll(s.Dir)
	if s.release != nil {
		s.release()
		s.release = nil
	}
}
