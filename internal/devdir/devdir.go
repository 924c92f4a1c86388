// Package devdir runs throwaway OpenLDAP servers (slapd) on the loopback
// interface: the directory of `scimgate dev`, which starts one with the
// demo data of DemoLDIF in front of the gateway, and of the integration
// tests, through the harness test/slapd (New, which ties a server to a
// test, skips it without slapd and fails it under CI).
//
// A server lives in a directory of its own with a generated slapd.conf: the
// core, cosine, inetorgperson and nis schemas, an mdb database with the
// indexes scimgate relies on (entryUUID among them), and the memberof, refint
// and sssvlv overlays; with Options.SyncProv also syncprov, for consumers of
// RFC 4533 content synchronisation. It listens on a free port of 127.0.0.1,
// and with TLS also on an ldaps:// port with a certificate from a CA
// generated for it.
//
// StartPair runs two such servers as providers that replicate each other,
// as a deployment that outgrew one directory server does.
//
// Of scimgate it knows only the optional schema in deploy/ldap. It imports
// nothing of testing: it is part of the binary.
package devdir

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	ldapschema "github.com/scimgate/scimgate/deploy/ldap"
	"github.com/scimgate/scimgate/internal/certs"
	"github.com/scimgate/scimgate/internal/directory"
	"github.com/scimgate/scimgate/internal/proc"
)

// janssenSchema is the test schema of Options.Janssen.
//
//go:embed janssen.schema
var janssenSchema string

// Options configure a server. The zero value is a plain server for
// dc=example,dc=org with ou=people and ou=groups.
type Options struct {
	// Suffix is the naming context; default dc=example,dc=org.
	Suffix string
	// Password of the root DN (cn=admin,<suffix>); default "secret".
	Password string
	// LDIF is added over LDAP once the server runs, so that overlays such
	// as memberof see it; see also AddLDIF.
	LDIF string
	// TLS makes the server also listen on ldaps:// and accept StartTLS,
	// with a certificate for 127.0.0.1 and localhost signed by a fresh CA.
	TLS bool
	// RequireClientCert (with TLS) makes the server demand a client
	// certificate signed by its CA; ClientCertFile and ClientKeyFile are one.
	RequireClientCert bool
	// Schemas are extra schema names (from /etc/ldap/schema) or paths.
	Schemas []string
	// Dir is where the server keeps its files; default a new temporary
	// directory, removed by Stop.
	Dir string
	// Config is appended to the database section of slapd.conf.
	Config string
	// ScimgateSchema loads scimgate's optional schema (deploy/ldap), with
	// the auxiliary classes scimgateUser and scimgateGroup.
	ScimgateSchema bool
	// ACLs are access directives placed before the service account's.
	ACLs []string
	// ServiceAccount adds cn=scimgate,<suffix> (password "scimgate-secret")
	// with manage rights over the tree, as a deployment would bind: unlike
	// the root DN it is subject to the password policy. Its searches are
	// unlimited in size, as deploy/ldap/README.md tells operators to set,
	// unless ServiceSizeLimit says otherwise.
	ServiceAccount   bool
	ServiceSizeLimit int
	// PPolicy loads the password policy overlay with a default policy
	// (cn=default,ou=policies,<suffix>) that enforces account locks and
	// passwords of 8 characters at least.
	PPolicy bool
	// NoRefint leaves out the refint overlay: a directory that does not
	// take deleted entries out of groups.
	NoRefint bool
	// Janssen lays the server out like a Janssen Server's directory: the
	// suffix o=jans (unless Suffix says otherwise), the test schema
	// janssen.schema (jansPerson, jansGrp, ...), and no memberof overlay:
	// Janssen's directory does not maintain memberOf, its application does.
	Janssen bool
	// Preload names an LDIF file loaded offline with slapadd before the
	// server starts: the fast way to a directory of 100,000 entries. slapadd
	// runs no overlays, so the file must hold memberOf values itself.
	Preload string
	// SyncProv makes the server a provider of RFC 4533 content
	// synchronisation (the syncprov overlay, first, below the others, with
	// entryCSN indexed and a session log of 10,000 writes): what a consumer
	// such as go-ldap's Conn.Syncrepl needs. The providers of a pair
	// (StartPair) always have it.
	//
	// syncprov writes its state (contextCSN) to the database after every
	// write (syncprov-checkpoint 1 1; about 0.3 ms a write here), not every
	// 100 as usual: killed between checkpoints, slapd comes back with an
	// older state, its consumers' cookies are refused as newer than it (53),
	// and a provider of a pair never applies the other's deletes of entries
	// it wrote after its last checkpoint.
	SyncProv bool
}

// Server is a running slapd.
type Server struct {
	// Info: URL is ldap://127.0.0.1:PORT; CAFile the CA that signed the
	// server certificate, with TLS; RootDN cn=admin,<suffix>; PeopleDN and
	// GroupsDN ou=people and ou=groups under the suffix; the service
	// account, if asked for.
	directory.Info
	LDAPSURL string // ldaps://127.0.0.1:PORT when started with TLS
	// ClientCertFile and ClientKeyFile are a client certificate signed by
	// that CA, with TLS.
	ClientCertFile, ClientKeyFile string
	Dir                           string

	proc   *proc.Process
	bin    string // the slapd program
	listen string // its -h argument
	ownDir bool
}

// ErrNotInstalled is returned when slapd is not on this machine.
var ErrNotInstalled = errors.New("slapd is not installed: run `sudo apt-get install -y slapd ldap-utils` " +
	"(Debian/Ubuntu; with DEBIAN_FRONTEND=noninteractive it asks nothing) or `make run`, which does it for you")

// Binary returns the path of the slapd program, or ErrNotInstalled.
func Binary() (string, error) {
	for _, p := range []string{"slapd", "/usr/sbin/slapd", "/usr/local/libexec/slapd", "/usr/libexec/slapd"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", ErrNotInstalled
}

// Start starts a server and waits until it answers. Stop it with Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	opts = withDefaults(opts)
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	if err := s.writeConfig(opts, nil); err != nil {
		s.cleanup()
		return nil, err
	}
	base := baseEntries(s, opts)
	if opts.Preload != "" {
		if err := s.slapadd(ctx, opts, 0, base, opts.Preload); err != nil {
			s.cleanup()
			return nil, err
		}
		base = ""
	}
	// A free port can be taken between finding and binding it: retry.
	s.bin = bin
	for attempt := 0; ; attempt++ {
		if err = s.listenOn(opts.TLS); err == nil {
			err = s.launch(ctx)
		}
		if err == nil || attempt == 2 || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		s.cleanup()
		return nil, err
	}
	if err := s.AddLDIF(ctx, base+"\n"+opts.LDIF); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func withDefaults(opts Options) Options {
	if opts.Suffix == "" {
		opts.Suffix = "dc=example,dc=org"
		if opts.Janssen {
			opts.Suffix = "o=jans"
		}
	}
	if opts.Password == "" {
		opts.Password = "secret"
	}
	return opts
}

// newServer lays out a server's directory (and its certificates, with TLS)
// for opts, which have their defaults.
func newServer(opts Options) (*Server, error) {
	s := &Server{Info: directory.Info{
		Suffix:   opts.Suffix,
		RootDN:   "cn=admin," + opts.Suffix,
		Password: opts.Password,
		PeopleDN: "ou=people," + opts.Suffix,
		GroupsDN: "ou=groups," + opts.Suffix,
	}, Dir: opts.Dir}
	if opts.ServiceAccount {
		s.ServiceDN, s.ServicePassword = "cn=scimgate,"+s.Suffix, "scimgate-secret"
	}
	if s.Dir == "" {
		var err error
		if s.Dir, err = os.MkdirTemp("", "scimgate-slapd-"); err != nil {
			return nil, fmt.Errorf("slapd: %w", err)
		}
		s.ownDir = true
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "db"), 0o700); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("slapd: %w", err)
	}
	if opts.TLS {
		if err := certs.Write(s.Dir, 24*time.Hour, "127.0.0.1", "localhost"); err != nil {
			s.cleanup()
			return nil, fmt.Errorf("slapd: %w", err)
		}
		s.CAFile = filepath.Join(s.Dir, certs.CA)
		s.ClientCertFile, s.ClientKeyFile = filepath.Join(s.Dir, certs.Client), filepath.Join(s.Dir, certs.ClientKey)
	}
	return s, nil
}

// baseEntries is the LDIF of the suffix, the people and groups units, and
// what opts ask for besides: the default password policy, the service
// account.
func baseEntries(s *Server, opts Options) string {
	base := baseLDIF(s)
	if opts.PPolicy {
		base += fmt.Sprintf(`
dn: ou=policies,%s
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,%s
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE
pwdCheckQuality: 2
pwdMinLength: 8
`, s.Suffix, s.Suffix)
	}
	if opts.ServiceAccount {
		base += fmt.Sprintf("\ndn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: scimgate\nuserPassword: %s\n",
			s.ServiceDN, s.ServicePassword)
	}
	return base
}

const confTemplate = `# written by scimgate's internal/devdir package
{{range .Schemas}}include {{.}}
{{end}}
modulepath /usr/lib/ldap
moduleload back_mdb
{{if not .Janssen}}moduleload memberof
{{end}}moduleload refint
moduleload sssvlv
{{if .PPolicy}}moduleload ppolicy
{{end}}{{if .SyncProv}}moduleload syncprov
{{end}}pidfile {{.Dir}}/slapd.pid
argsfile {{.Dir}}/slapd.args
{{if .TLS}}TLSCACertificateFile {{.Dir}}/ca.pem
TLSCertificateFile {{.Dir}}/server.pem
TLSCertificateKeyFile {{.Dir}}/server-key.pem
{{if .RequireClientCert}}TLSVerifyClient demand
{{end}}{{end}}{{with .Replica}}serverID {{.ServerID}}
{{end}}
database mdb
maxsize 4294967296
suffix "{{.Suffix}}"
rootdn "{{.RootDN}}"
rootpw "{{.Password}}"
directory {{.Dir}}/db
{{if .ServiceAccount}}limits dn.exact="cn=scimgate,{{.Suffix}}" size={{.ServiceSizeLimit}} time=unlimited
{{end}}index objectClass eq
index entryUUID eq
index uid,cn,mail,sn,givenName,displayName eq,sub
index member,memberUid,uniqueMember eq
{{if .ScimgateSchema}}index scimExternalId,scimManager eq
{{end}}{{if .SyncProv}}index entryCSN eq
{{end}}{{if .Janssen}}index inum,jansExtId eq
{{end}}{{with .Replica}}syncrepl rid={{.PeerID}} provider={{.Peer}} type=refreshAndPersist retry="1 +"
  searchbase="{{$.Suffix}}" bindmethod=simple binddn="{{$.RootDN}}" credentials="{{$.Password}}"
multiprovider on
{{end}}{{if .SyncProv}}overlay syncprov
syncprov-checkpoint 1 1
syncprov-sessionlog 10000
{{end}}{{if not .Janssen}}overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
{{end}}{{if not .NoRefint}}overlay refint
refint_attributes member memberOf
refint_nothing "cn=empty-group-placeholder"
{{end}}overlay sssvlv
{{range .ACLs}}{{.}}
{{end}}{{if .ServiceAccount}}access to * by dn.exact="cn=scimgate,{{.Suffix}}" manage by self write by anonymous auth by * read
{{end}}{{if .PPolicy}}overlay ppolicy
ppolicy_default "cn=default,ou=policies,{{.Suffix}}"
{{end}}{{.Config}}
`

func serviceSizeLimit(n int) string {
	if n <= 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

// replica is what one provider of a pair knows of itself and the other.
type replica struct {
	ServerID, PeerID int
	Peer             string // the other's ldap:// URL
}

// writeConfig writes slapd.conf for opts, and for a provider of a pair
// when r is not nil.
func (s *Server) writeConfig(opts Options, r *replica) error {
	schemas := []string{"core", "cosine", "inetorgperson", "nis"}
	schemas = append(schemas, opts.Schemas...)
	if opts.Janssen {
		p := filepath.Join(s.Dir, "janssen.schema")
		if err := os.WriteFile(p, []byte(janssenSchema), 0o600); err != nil {
			return fmt.Errorf("slapd: %w", err)
		}
		schemas = append(schemas, p)
	}
	if opts.ScimgateSchema {
		p := filepath.Join(s.Dir, "scimgate.schema")
		if err := os.WriteFile(p, []byte(ldapschema.Schema), 0o600); err != nil {
			return fmt.Errorf("slapd: %w", err)
		}
		schemas = append(schemas, p)
	}
	for i, sc := range schemas {
		if !strings.ContainsRune(sc, '/') {
			schemas[i] = "/etc/ldap/schema/" + sc + ".schema"
		}
	}
	var conf bytes.Buffer
	err := template.Must(template.New("slapd.conf").Parse(confTemplate)).Execute(&conf, map[string]any{
		"Schemas": schemas, "Dir": s.Dir, "TLS": opts.TLS, "Janssen": opts.Janssen, "RequireClientCert": opts.RequireClientCert, "Suffix": s.Suffix,
		"RootDN": s.RootDN, "Password": s.Password, "Config": opts.Config, "PPolicy": opts.PPolicy, "ServiceAccount": opts.ServiceAccount, "ACLs": opts.ACLs,
		"NoRefint":         opts.NoRefint,
		"ServiceSizeLimit": serviceSizeLimit(opts.ServiceSizeLimit),
		"SyncProv":         opts.SyncProv || r != nil,
		"Replica":          r,
	})
	if err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	return os.WriteFile(filepath.Join(s.Dir, "slapd.conf"), conf.Bytes(), 0o600)
}

// listenOn picks free ports for s: its URL, and its LDAPS URL with TLS.
func (s *Server) listenOn(withTLS bool) error {
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", ports[0])
	s.listen = s.URL + "/"
	if withTLS {
		s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", ports[1])
		s.listen += " " + s.LDAPSURL + "/"
	}
	return nil
}

// launch runs slapd on s's addresses and waits until it answers.
func (s *Server) launch(ctx context.Context) error {
	if err := s.spawn(); err != nil {
		return err
	}
	return s.waitReady(ctx)
}

// spawn starts the slapd process.
func (s *Server) spawn() error {
	logf, err := os.Create(filepath.Join(s.Dir, "slapd.log"))
	if err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	defer logf.Close()
	// -d 0 keeps slapd in the foreground, so that it is our child and dies
	// with us; its messages go to slapd.log.
	cmd := exec.Command(s.bin, "-f", filepath.Join(s.Dir, "slapd.conf"), "-h", s.listen, "-d", "0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if s.proc, err = proc.Spawn(cmd); err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	return nil
}

// waitReady waits until the spawned slapd accepts connections, and kills it
// if it does not within 15 s.
func (s *Server) waitReady(ctx context.Context) error {
	err := s.proc.WaitReady(ctx, 15*time.Second, 20*time.Millisecond, func() error {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL, "ldap://"), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("slapd on %s: %w: %s", s.URL, err, s.logTail())
	}
	return nil
}

// slapadd loads the base entries, then the file if any, into the database
// of a server that is not running. With syncprov, the entries get CSNs of
// server id sid, and the suffix the contextCSN of the last (-w).
func (s *Server) slapadd(ctx context.Context, opts Options, sid int, base, file string) error {
	bin, err := exec.LookPath("slapadd")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/slapadd"); err != nil {
			return fmt.Errorf("slapd: slapadd: %w", err)
		}
	}
	basePath := filepath.Join(s.Dir, "base.ldif")
	if err := os.WriteFile(basePath, []byte(base), 0o600); err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	files := []string{basePath}
	if file != "" {
		files = append(files, file)
	}
	args := []string{"-q", "-f", filepath.Join(s.Dir, "slapd.conf")}
	if opts.SyncProv {
		args = append(args, "-S", strconv.Itoa(sid))
	}
	for i, f := range files {
		a := slices.Concat(args, []string{"-l", f})
		if opts.SyncProv && i == len(files)-1 {
			a = append(a, "-w")
		}
		out, err := exec.CommandContext(ctx, bin, a...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("slapd: slapadd %s: %v: %s", f, err, out)
		}
	}
	return nil
}

func (s *Server) logTail() string { return proc.LogTail(2000, filepath.Join(s.Dir, "slapd.log")) }

func (s *Server) kill() {
	if s.proc != nil {
		s.proc.Kill()
	}
}

// Pid is the process id of the running slapd.
func (s *Server) Pid() int { return s.proc.Pid() }

// Kill kills the server at once (SIGKILL), as a crash would, keeping its
// files and addresses for Restart.
func (s *Server) Kill() { s.kill() }

// Shutdown stops the server cleanly (SIGTERM, then SIGKILL after 5 s),
// keeping its files and addresses for Restart. Unlike Kill, it lets slapd
// write what it keeps in memory, such as syncprov's contextCSN.
func (s *Server) Shutdown() {
	if s.proc != nil {
		s.proc.Shutdown(5 * time.Second)
	}
}

// Restart starts a killed or shut down server again on the same addresses
// and data.
func (s *Server) Restart(ctx context.Context) error { return s.launch(ctx) }

// Stop stops the server and removes its directory if Start created it.
func (s *Server) Stop() error {
	s.Shutdown()
	s.cleanup()
	return nil
}

func (s *Server) cleanup() {
	if s.ownDir {
		os.RemoveAll(s.Dir)
	}
}

func baseLDIF(s *Server) string {
	rdn, _, _ := strings.Cut(s.Suffix, ",")
	_, dc, _ := strings.Cut(rdn, "=")
	return fmt.Sprintf(`dn: %s
objectClass: dcObject
objectClass: organization
o: %s
dc: %s

dn: %s
objectClass: organizationalUnit
ou: people

dn: %s
objectClass: organizationalUnit
ou: groups
`, s.Suffix, dc, dc, s.PeopleDN, s.GroupsDN)
}
