package samba

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/internal/proc"
)

// recipeVersion names what build makes beyond provisionArgs and
// delegation, which the template's hash covers by themselves: bump it when
// build changes otherwise.
const recipeVersion = "1"

// template returns the directory of the configured template, building it
// if no process of the machine has yet (proc.BuildOnce). Its name is a hash
// of the recipe and of Samba's version. Its smb.conf has dirPlaceholder
// for its directory.
func template(ctx context.Context, bin, tool string) (string, error) {
	version, err := exec.CommandContext(ctx, bin, "-V").Output()
	if err != nil {
		return "", fmt.Errorf("samba: samba -V: %w", err)
	}
	h := sha256.New()
	fmt.Fprint(h, recipeVersion, "\n", strings.TrimSpace(string(version)), "\n", globals)
	fmt.Fprintln(h, strings.Join(provisionArgs(dirPlaceholder), "\n"))
	fmt.Fprintln(h, delegation(userClass, "@SID@"), delegation(groupClass, "@SID@"))
	dir := filepath.Join(os.TempDir(), "scimgate-samba-template-"+hex.EncodeToString(h.Sum(nil))[:16])
	err = proc.BuildOnce(ctx, dir, func(ctx context.Context, dir string) error { return build(ctx, bin, tool, dir) })
	if err != nil {
		return "", fmt.Errorf("samba: template: %w", err)
	}
	return dir, nil
}

// build makes the template in dir: the domain provisioned, then started
// once for what is done over LDAP (units, service account), stopped, the
// service account's rights set offline, and what a server makes for
// itself removed.
func build(ctx context.Context, bin, tool, dir string) error {
	if err := provision(ctx, tool, dir); err != nil {
		return err
	}
	s, err := newServer(dir)
	if err != nil {
		return err
	}
	defer s.release()
	if err := s.configure(dir); err != nil {
		return err
	}
	if err := s.launch(ctx, bin); err != nil {
		return err
	}
	sid, err := s.setUp(ctx)
	s.shutdown()
	if err != nil {
		return err
	}
	for _, d := range []struct{ unit, aces string }{
		{PeopleDN, delegation(userClass, sid)},
		{GroupsDN, delegation(groupClass, sid)},
	} {
		if err := dsacl(ctx, tool, dir, d.unit, d.aces); err != nil {
			return err
		}
	}
	return tidy(dir)
}

// dirPlaceholder stands in the template's smb.conf for the directory of
// the server that copies it.
const dirPlaceholder = "@SAMBA_DIR@"

// globals are smb.conf's settings that provisioning does not keep when
// given as options. A reset password is replaced at once: by default Samba
// takes the previous one too for an hour (for NTLM clients that cache it),
// in simple binds as well.
const globals = "\told password allowed period = 0\n"

// tidy removes from the stopped template what each server makes for
// itself, puts dirPlaceholder in smb.conf where dir is, and adds globals.
func tidy(dir string) error {
	for _, f := range []string{"tls", "run", "samba.log", "provision.conf", "msg.lock", "msg.sock"} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("samba: %w", err)
		}
	}
	conf := filepath.Join(dir, "etc", "smb.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		return fmt.Errorf("samba: %w", err)
	}
	text := strings.ReplaceAll(string(b), dir, dirPlaceholder)
	if !strings.Contains(text, "[global]\n") {
		return fmt.Errorf("samba: no [global] section in %s", conf)
	}
	text = strings.Replace(text, "[global]\n", "[global]\n"+globals, 1)
	return os.WriteFile(conf, []byte(text), 0o600)
}

// provisionArgs are samba-tool's arguments to provision the domain into
// dir: only the LDAP server, every path under dir (none in /var, /run or
// /etc), TLS files that the servers write (without them Samba makes a
// 4096-bit key at its first start), no DNS.
func provisionArgs(dir string) []string {
	args := []string{"domain", "provision", "-s", filepath.Join(dir, "provision.conf"), "--targetdir=" + dir,
		"--realm=" + Realm, "--domain=EXAMPLE", "--server-role=dc", "--dns-backend=NONE", "--use-rfc2307",
		"--adminpass=" + AdminPassword, "--host-name=DC1", "--host-ip=127.0.0.2"}
	for _, o := range []string{
		"interfaces = 127.0.0.2/8", // rewritten for each server
		"bind interfaces only = yes",
		"server services = ldap",
		"pid directory = " + dir + "/run",
		"ncalrpc dir = " + dir + "/ncalrpc",
		"winbindd socket directory = " + dir + "/winbindd",
		"ntp signd socket directory = " + dir + "/ntp",
		"log file = " + dir + "/samba.log",
		"tls keyfile = " + dir + "/tls/server-key.pem",
		"tls certfile = " + dir + "/tls/server.pem",
		"tls cafile = " + dir + "/tls/ca.pem",
	} {
		args = append(args, "--option="+o)
	}
	return args
}

// provision provisions the domain into dir, from an empty smb.conf (never
// the machine's).
func provision(ctx context.Context, tool, dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "provision.conf"), nil, 0o600); err != nil {
		return fmt.Errorf("samba: %w", err)
	}
	out, err := exec.CommandContext(ctx, tool, provisionArgs(dir)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("samba: provision: %v: %s", err, proc.Tail(out, 2000))
	}
	return nil
}

// The schemaIDGUIDs of AD's user and group classes.
const (
	userClass  = "bf967aba-0de6-11d0-a285-00aa003049e2"
	groupClass = "bf967a9c-0de6-11d0-a285-00aa003049e2"
)

// delegation is the SDDL of what the account sid may do in a unit: create
// and delete objects of class (in the unit and below), and anything on
// those objects (GA, inherited by them alone: that includes writing every
// attribute and resetting passwords, an extended right). This is what
// "Delegate Control" in AD's console gives for "Create, delete and manage
// user accounts" and "Reset user passwords".
func delegation(class, sid string) string {
	return fmt.Sprintf("(OA;CI;CCDC;%s;;%s)(OA;CIIO;GA;;%s;%s)", class, sid, class, sid)
}

// dsacl adds aces to the security descriptor of dn, in the stopped
// template's database.
func dsacl(ctx context.Context, tool, dir, dn, aces string) error {
	out, err := exec.CommandContext(ctx, tool, "dsacl", "set", "-s", filepath.Join(dir, "etc", "smb.conf"),
		"-H", filepath.Join(dir, "private", "sam.ldb"), "--objectdn="+dn, "--sddl="+aces).CombinedOutput()
	if err != nil {
		return fmt.Errorf("samba: dsacl %s: %v: %s", dn, err, proc.Tail(out, 2000))
	}
	return nil
}

// dontExpire is userAccountControl of an enabled account whose password
// never expires (NORMAL_ACCOUNT|DONT_EXPIRE_PASSWD): a template lives
// longer than the domain's 42 days.
const dontExpire = "66048"

// setUp adds the units and the service account to the running template
// and returns the account's SID. The account's password is not complex
// enough for the domain's rule, which is lifted while it is set.
func (s *Server) setUp(ctx context.Context) (sid string, err error) {
	units := fmt.Sprintf("dn: %s\nobjectClass: organizationalUnit\nou: people\n\ndn: %s\nobjectClass: organizationalUnit\nou: groups\n",
		PeopleDN, GroupsDN)
	if err := s.AddLDIF(ctx, units); err != nil {
		return "", fmt.Errorf("samba: %w", err)
	}
	c, err := s.Dial()
	if err != nil {
		return "", fmt.Errorf("samba: %w", err)
	}
	defer c.Close()
	account := ldap.NewAddRequest(ServiceDN, nil)
	account.Attribute("objectClass", []string{"user"})
	account.Attribute("sAMAccountName", []string{"scimgate"})
	account.Attribute("userPrincipalName", []string{"scimgate@example.org"})
	account.Attribute("unicodePwd", []string{UnicodePwd(ServicePassword)})
	account.Attribute("userAccountControl", []string{dontExpire})
	admin := ldap.NewModifyRequest(AdminDN, nil)
	admin.Replace("userAccountControl", []string{dontExpire})
	for _, step := range []func() error{
		func() error { return complexity(c, false) },
		func() error { return c.Add(account) },
		func() error { return complexity(c, true) },
		func() error { return c.Modify(admin) },
	} {
		if err := step(); err != nil {
			return "", fmt.Errorf("samba: set up: %w", err)
		}
	}
	return accountSID(c, ServiceDN)
}

// complexity turns the domain's password complexity rule on or off.
func complexity(c *ldap.Conn, on bool) error {
	flags := "0"
	if on {
		flags = "1" // DOMAIN_PASSWORD_COMPLEX, as provisioned
	}
	m := ldap.NewModifyRequest(Suffix, nil)
	m.Replace("pwdProperties", []string{flags})
	return c.Modify(m)
}

// accountSID reads the objectSid of dn, as S-1-5-21-....
func accountSID(c *ldap.Conn, dn string) (string, error) {
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=*)", []string{"objectSid"}, nil))
	if err != nil {
		return "", fmt.Errorf("samba: read objectSid: %w", err)
	}
	return sidString(res.Entries[0].GetRawAttributeValue("objectSid"))
}

// sidString writes a binary SID (MS-DTYP 2.4.2.2) as a string (2.4.2.1).
func sidString(b []byte) (string, error) {
	if len(b) < 8 || len(b) != 8+4*int(b[1]) {
		return "", fmt.Errorf("samba: malformed SID %x", b)
	}
	var authority [8]byte
	copy(authority[2:], b[2:8])
	s := "S-" + strconv.Itoa(int(b[0])) + "-" + strconv.FormatUint(binary.BigEndian.Uint64(authority[:]), 10)
	for i := 8; i < len(b); i += 4 {
		s += "-" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[i:])), 10)
	}
	return s, nil
}
