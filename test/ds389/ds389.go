// Package ds389 runs throwaway 389 Directory Server instances (389 DS 2.3,
// Debian's 389-ds-base) on the loopback interface, for the integration
// tests (New, which ties the server to a test) and for programs (Start).
//
// Each server is a copy of a template built once per recipe and machine
// (see template.go): dscreate under a private prefix, without systemd,
// then configured over LDAP. The template holds
//   - the suffix dc=example,dc=org with ou=people and ou=groups;
//   - the plugins MemberOf (memberOf from member, nsMemberOf added as
//     needed), referential integrity (member, uniquemember, owner, seeAlso,
//     manager), Retro Changelog (with nsuniqueid as targetUniqueId),
//     Content Synchronization, USN (entryusn), and entryUUID, which 389
//     enables by default;
//   - TLS: a certificate for 127.0.0.1 and localhost from a CA made for the
//     template, in the instance's NSS database;
//   - the service account cn=scimgate,dc=example,dc=org, with an ACI over
//     the suffix and no size, look-through or ID list limits.
//
// A copy listens on two free ports of 127.0.0.1, LDAP and LDAPS, runs as
// a foreground ns-slapd child of the test process, and starts in about a
// second.
//
// Of scimgate it knows only the optional schema in deploy/ldap.
package ds389

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	ldapschema "github.com/scimgate/scimgate/deploy/ldap"
	"github.com/scimgate/scimgate/internal/proc"
	"github.com/scimgate/scimgate/test/directory"
)

// Options configure a server. The zero value is the template as it is.
type Options struct {
	// LDIF is added over LDAP (as the Directory Manager) once the server
	// runs, so that the plugins see it.
	LDIF string
	// ScimgateSchema adds scimgate's optional schema to cn=schema, applying
	// deploy/ldap/99scimgate-389ds.ldif as its comment tells operators to.
	ScimgateSchema bool
}

// Server is a running 389 Directory Server.
type Server struct {
	// Info: URL is ldaps://127.0.0.1:PORT (389 refuses Password Modify in
	// clear), CAFile the template's CA; RootDN cn=Directory Manager;
	// PeopleDN and GroupsDN ou=people and ou=groups; the service account.
	directory.Info
	LDAPURL string // the plain ldap://127.0.0.1:PORT listener
	Dir     string // the instance's root, removed by Stop

	programs programs
	proc     *process
}

// ErrNotInstalled is returned when 389 Directory Server is not on this
// machine.
var ErrNotInstalled = errors.New("389 Directory Server is not installed: run test/ds389/install.sh as root " +
	"(or `apt-get install -y --no-install-recommends 389-ds-base` on Debian/Ubuntu)")

// programs are the paths of 389's programs.
type programs struct {
	nsSlapd, dscreate, dsctl string
}

func findPrograms() (programs, error) {
	var p programs
	for _, x := range []struct {
		path *string
		name string
	}{{&p.nsSlapd, "ns-slapd"}, {&p.dscreate, "dscreate"}, {&p.dsctl, "dsctl"}} {
		path, err := exec.LookPath(x.name)
		if err != nil {
			if path, err = exec.LookPath("/usr/sbin/" + x.name); err != nil {
				return programs{}, ErrNotInstalled
			}
		}
		*x.path = path
	}
	return p, nil
}

// Start starts a server, building the template first if no process on this
// machine has, and waits until it answers. Stop it with Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	p, err := findPrograms()
	if err != nil {
		return nil, err
	}
	tpl, err := templateRoot(ctx, p)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "scimgate-ds389-")
	if err != nil {
		return nil, fmt.Errorf("ds389: %w", err)
	}
	if err := copyInstance(tpl, dir); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("ds389: copy the template: %w", err)
	}
	s, err := launch(ctx, p, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.prepare(ctx, opts); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// prepare adds what opts ask for to a running server.
func (s *Server) prepare(ctx context.Context, opts Options) error {
	if opts.ScimgateSchema {
		if err := s.ModifyLDIF(ctx, ldapschema.Schema389DS); err != nil {
			return fmt.Errorf("ds389: scimgate's schema: %w", err)
		}
	}
	if err := s.AddLDIF(ctx, opts.LDIF); err != nil {
		return fmt.Errorf("ds389: %w", err)
	}
	return nil
}

// launch serves the stopped instance under root on free ports of
// 127.0.0.1 and waits until it answers; a port taken between finding and
// binding it is tried again.
func launch(ctx context.Context, p programs, root string) (*Server, error) {
	s := &Server{Info: directory.Info{
		CAFile:          filepath.Join(root, "ca.pem"),
		Suffix:          suffix,
		RootDN:          rootDN,
		Password:        rootPassword,
		PeopleDN:        "ou=people," + suffix,
		GroupsDN:        "ou=groups," + suffix,
		ServiceDN:       serviceDN,
		ServicePassword: servicePassword,
	}, Dir: root, programs: p}
	var err error
	for attempt := 0; attempt < 3 && ctx.Err() == nil; attempt++ {
		if err = s.listen(); err != nil {
			return nil, err
		}
		if s.proc, err = spawn(p.nsSlapd, root); err != nil {
			return nil, err
		}
		if err = s.proc.waitReady(ctx, s.LDAPURL); err == nil {
			return s, nil
		}
	}
	return nil, err
}

// listen gives the stopped instance two free ports.
func (s *Server) listen() error {
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	port, securePort := ports[0], ports[1]
	if err := setPorts(s.Dir, port, securePort); err != nil {
		return err
	}
	s.LDAPURL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	s.URL = fmt.Sprintf("ldaps://127.0.0.1:%d", securePort)
	return nil
}

// Pid is the process id of the running ns-slapd.
func (s *Server) Pid() int { return s.proc.Pid() }

// Shutdown stops the server cleanly (SIGTERM; 389 takes 2 to 4 s), keeping
// its files.
func (s *Server) Shutdown() error { return s.proc.shutdown() }

// Stop kills the server and removes its files: nothing of a throwaway
// server is worth 389's slow clean stop.
func (s *Server) Stop() error {
	s.proc.Kill()
	return os.RemoveAll(s.Dir)
}
