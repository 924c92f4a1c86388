package ds389

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/scimgate/scimgate/internal/proc"
)

// An instance lives under a private prefix, its root: lib389 (dscreate,
// dsctl) finds instances and its defaults there when PREFIX names it, and
// every path in the instance's configuration is below it, so that a copy
// whose paths are rewritten is a new instance.

// instance is the name of the instance in every root.
const instance = "scimgate"

func configDir(root string) string {
	return filepath.Join(root, "etc", "dirsrv", "slapd-"+instance)
}
func dseFile(root string) string { return filepath.Join(configDir(root), "dse.ldif") }
func pidFile(root string) string {
	return filepath.Join(root, "run", "dirsrv", "slapd-"+instance+".pid")
}
func errorLog(root string) string {
	return filepath.Join(root, "var", "log", "dirsrv", "slapd-"+instance, "errors")
}

// prefixPaths are the system paths of 389's defaults.inf that move under a
// root.
var prefixPaths = regexp.MustCompile(`(?m)^(\w+ = )(/etc|/run|/var|/dev/shm)\b`)

// writeDefaults writes root/share/dirsrv/inf/defaults.inf: 389's own, with
// every configuration, run-time and state path under root, without
// systemd, for the running user; and copies 389's /etc/dirsrv there.
func writeDefaults(root string) error {
	in, err := os.ReadFile("/usr/share/dirsrv/inf/defaults.inf")
	if err != nil {
		return err
	}
	u, err := user.Current()
	if err != nil {
		return err
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return err
	}
	out := prefixPaths.ReplaceAllString(string(in), "${1}"+root+"${2}")
	for key, value := range map[string]string{
		"with_systemd": "0", "user": u.Username, "group": g.Name,
		"tmp_dir": filepath.Join(root, "tmp"), "inst_dir": filepath.Join(root, "lib", "dirsrv", "slapd-{instance_name}"),
	} {
		out = regexp.MustCompile(`(?m)^`+key+` = .*$`).ReplaceAllLiteralString(out, key+" = "+value)
	}
	inf := filepath.Join(root, "share", "dirsrv", "inf")
	for _, d := range []string{inf, filepath.Join(root, "tmp"), filepath.Join(root, "etc", "dirsrv")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := os.CopyFS(filepath.Join(root, "etc", "dirsrv"), os.DirFS("/etc/dirsrv")); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(inf, "defaults.inf"), []byte(out), 0o600)
}

// unfoldDSE joins the continuation lines of dse.ldif, which 389 folds at
// 80 columns: a path to rewrite may straddle a fold.
func unfoldDSE(root string) error {
	b, err := os.ReadFile(dseFile(root))
	if err != nil {
		return err
	}
	return os.WriteFile(dseFile(root), bytes.ReplaceAll(b, []byte("\n "), nil), 0o600)
}

// editDSE rewrites the cn=config lines of dse.ldif that match re with repl,
// and fails if none does.
func editDSE(root string, re *regexp.Regexp, repl string) error {
	b, err := os.ReadFile(dseFile(root))
	if err != nil {
		return err
	}
	if !re.Match(b) {
		return fmt.Errorf("ds389: %s: no line matches %s", dseFile(root), re)
	}
	return os.WriteFile(dseFile(root), re.ReplaceAll(b, []byte(repl)), 0o600)
}

var (
	portLine       = regexp.MustCompile(`(?m)^nsslapd-port: \d+$`)
	securePortLine = regexp.MustCompile(`(?m)^nsslapd-securePort: \d+$`)
	ldapiLine      = regexp.MustCompile(`(?m)^nsslapd-ldapilisten: on$`)
)

// setPorts sets the instance's LDAP and LDAPS ports (server stopped).
func setPorts(root string, port, securePort int) error {
	if err := editDSE(root, portLine, fmt.Sprintf("nsslapd-port: %d", port)); err != nil {
		return err
	}
	return editDSE(root, securePortLine, fmt.Sprintf("nsslapd-securePort: %d", securePort))
}

// secureLoopback makes the instance listen on 127.0.0.1 only (LDAP and
// LDAPS), with TLS on and no LDAPI socket (server stopped).
func secureLoopback(root string) error {
	listen := "${0}\nnsslapd-listenhost: 127.0.0.1\nnsslapd-securelistenhost: 127.0.0.1\nnsslapd-security: on"
	if err := editDSE(root, portLine, listen); err != nil {
		return err
	}
	return editDSE(root, ldapiLine, "nsslapd-ldapilisten: off")
}

// skipInCopy says whether a template file stays out of a copy: the
// database's shared memory regions (__db.*), what a running server keeps
// (pid, lock), logs, dse.ldif's backups and the template's marker.
func skipInCopy(rel string, d fs.DirEntry) bool {
	if d.IsDir() {
		return false
	}
	name := d.Name()
	return rel == proc.BuiltFile || strings.HasPrefix(name, "__db.") || name == "ns-slapd.log" ||
		strings.HasPrefix(rel, "run/") || strings.HasPrefix(rel, "var/log/") ||
		strings.HasPrefix(name, "dse.ldif.")
}

// rewritten says whether a copied file holds the template's root in text:
// the configuration files under etc/ and share/.
func rewritten(rel string) bool {
	if !strings.HasPrefix(rel, "etc/") && !strings.HasPrefix(rel, "share/") {
		return false
	}
	switch filepath.Ext(rel) {
	case ".ldif", ".txt", ".inf", ".conf":
		return true
	}
	return false
}

// copyInstance copies the stopped instance under src to dst, an empty
// directory, with src's paths in the configuration turned into dst's.
func copyInstance(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		rel = filepath.ToSlash(rel)
		if rel == "." || skipInCopy(rel, d) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.Mkdir(target, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("ds389: template file %s is not a regular file", path)
		}
		if rewritten(rel) {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, bytes.ReplaceAll(b, []byte(src), []byte(dst)), info.Mode().Perm())
		}
		return copyFile(path, target, info.Mode().Perm())
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
