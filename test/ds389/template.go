package ds389

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/scimgate/scimgate/internal/certs"
	"github.com/scimgate/scimgate/internal/proc"
)

// The template is an instance configured once (the slow part: dscreate,
// certificates, plugins, entries) and copied for each server. It lives in
// os.TempDir() under a name made of a hash of its recipe, so that every
// test process of every package reuses it, and it is built under a lock
// file, so that only one of them builds it.

// recipeVersion changes with the steps of buildTemplate; the texts they
// apply (createInf, pluginsLDIF, entriesLDIF, aciLDIF) are hashed as they
// are. (Version 2 is when proc.BuildOnce began to build it; a version-1
// template would have been rebuilt in place all the same.)
const recipeVersion = "2"

// certValidity is long: a template is kept across test runs.
const certValidity = 10 * 365 * 24 * time.Hour

// createInf is dscreate's answer file: no systemd, no self-signed
// certificate (the template gets one from its own CA), the suffix entry.
const createInf = `[general]
start = False
systemd = False
selinux = False
strict_host_checking = False

[slapd]
instance_name = ` + instance + `
port = %d
secure_port = %d
self_sign_cert = False
root_password = ` + rootPassword + `

[backend-userroot]
suffix = ` + suffix + `
sample_entries = no
create_suffix_entry = True
`

// templateRoot returns the root of the template for the installed 389,
// building it if no process has yet (proc.BuildOnce).
func templateRoot(ctx context.Context, p programs) (string, error) {
	root := filepath.Join(os.TempDir(), "scimgate-ds389-template-"+recipeHash(p))
	err := proc.BuildOnce(ctx, root, func(ctx context.Context, root string) error { return buildTemplate(ctx, p, root) })
	if err != nil {
		return "", fmt.Errorf("ds389: template: %w", err)
	}
	return root, nil
}

// recipeHash names the template of this recipe and this 389 (its ns-slapd
// program, by size and time).
func recipeHash(p programs) string {
	h := sha256.New()
	fmt.Fprintln(h, recipeVersion, createInf, pluginsLDIF, entriesLDIF, aciLDIF, certValidity)
	if fi, err := os.Stat(p.nsSlapd); err == nil {
		fmt.Fprintln(h, fi.Size(), fi.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// buildTemplate makes the template under root: dscreate's instance with
// the certificates, listening on loopback only with TLS; then, served once
// to be configured, the plugins; then, served again with them, the units,
// the service account and its ACI. It leaves the instance stopped with its
// dse.ldif unfolded.
func buildTemplate(ctx context.Context, p programs, root string) error {
	if err := writeDefaults(root); err != nil {
		return err
	}
	if err := dscreate(ctx, p, root); err != nil {
		return err
	}
	if err := importCertificates(ctx, p, root); err != nil {
		return err
	}
	if err := secureLoopback(root); err != nil {
		return err
	}
	plugins := func(s *Server) error { return s.ModifyLDIF(ctx, pluginsLDIF) }
	entries := func(s *Server) error {
		if err := s.AddLDIF(ctx, entriesLDIF); err != nil {
			return err
		}
		return s.ModifyLDIF(ctx, aciLDIF)
	}
	for _, step := range []func(*Server) error{plugins, entries} {
		if err := configure(ctx, p, root, step); err != nil {
			return err
		}
	}
	return unfoldDSE(root)
}

// lib389 runs dscreate or dsctl with the prefix root.
func lib389(ctx context.Context, root, bin string, args ...string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "PREFIX="+root)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %v: %w: %s", filepath.Base(bin), args, err, out)
	}
	return nil
}

// dscreate creates the instance. It starts it on its own for a moment (on
// every interface: nothing to do about that), so its ports are free ones.
func dscreate(ctx context.Context, p programs, root string) error {
	ports, err := proc.FreePorts(2)
	if err != nil {
		return err
	}
	port, securePort := ports[0], ports[1]
	inf := filepath.Join(root, "create.inf")
	if err := os.WriteFile(inf, fmt.Appendf(nil, createInf, port, securePort), 0o600); err != nil {
		return err
	}
	return lib389(ctx, root, p.dscreate, "from-file", inf)
}

// importCertificates makes a CA and a server certificate for 127.0.0.1 and
// puts them in the instance's NSS database, as an operator would with
// dsctl: the CA trusted, the certificate and its key as Server-Cert (the
// name dscreate configured). Only ca.pem stays in root.
func importCertificates(ctx context.Context, p programs, root string) error {
	dir := filepath.Join(root, "tls")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := certs.Write(dir, certValidity, "127.0.0.1", "localhost"); err != nil {
		return err
	}
	if err := lib389(ctx, root, p.dsctl, instance, "tls", "import-ca", filepath.Join(dir, certs.CA), "scimgate test CA"); err != nil {
		return err
	}
	if err := lib389(ctx, root, p.dsctl, instance, "tls", "import-server-key-cert",
		filepath.Join(dir, certs.Server), filepath.Join(dir, certs.ServerKey)); err != nil {
		return err
	}
	return os.Rename(filepath.Join(dir, certs.CA), filepath.Join(root, certs.CA))
}

// configure serves the template for step, then stops it cleanly.
func configure(ctx context.Context, p programs, root string, step func(*Server) error) error {
	s, err := launch(ctx, p, root)
	if err != nil {
		return err
	}
	err = step(s)
	if stop := s.Shutdown(); err == nil {
		err = stop
	}
	return err
}
