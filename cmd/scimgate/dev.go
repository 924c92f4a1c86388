package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/gateway/config"
	"github.com/scimgate/scimgate/internal/devdir"
	"github.com/scimgate/scimgate/ldapstore"
)

// dev starts a throwaway OpenLDAP with demo data and the gateway in front of
// it, prints a curl command that works, and stops both at Ctrl-C.
func dev(ctx context.Context, listen string, stdout, stderr io.Writer) error {
	if _, err := devdir.Binary(); err != nil {
		fmt.Fprintf(stderr, "scimgate dev needs OpenLDAP's slapd to run a throwaway directory.\n%v\n", err)
		return errReported
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s is in use; choose another address with: scimgate dev --listen 127.0.0.1:8081", listen)
		}
		return err
	}
	defer l.Close()

	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	dir, err := devdir.Start(sctx, devdir.Options{ScimgateSchema: true, PPolicy: true})
	cancel()
	if err != nil {
		return fmt.Errorf("start slapd: %w", err)
	}
	defer dir.Stop()
	if err := dir.AddLDIF(ctx, devdir.DemoLDIF(dir)); err != nil {
		return fmt.Errorf("load demo data: %w", err)
	}

	token, tokenConfig, err := newToken("dev", auth.JanssenScopes.All())
	if err != nil {
		return err
	}
	cfg := config.Default()
	cfg.Server.Listen = l.Addr().String()
	cfg.LDAP = ldapstore.Config{URLs: []string{dir.URL}, BindDN: dir.RootDN, BindPassword: dir.Password}.WithDefaults()
	cfg.Users.BaseDN, cfg.Groups.BaseDN = dir.PeopleDN, dir.GroupsDN
	cfg.Auth.Mode, cfg.Auth.Tokens = auth.ModeToken, []auth.StaticToken{tokenConfig}
	cfg.Log = config.Log{Level: "info", Format: "console"}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, level, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}

	base := "http://" + l.Addr().String() + cfg.Server.BasePath
	fmt.Fprintf(stdout, `
scimgate dev: a throwaway OpenLDAP at %s (bind %s, password %q)
holding %d demo users and 5 groups, and the gateway at %s.

Try:

  curl -s -H 'Authorization: Bearer %s' '%s/Users?count=3'

  curl -s -H 'Authorization: Bearer %s' '%s/Users?filter=userName%%20eq%%20%%22alovelace%%22'

Ctrl-C stops both and removes %s.

`, dir.URL, dir.RootDN, dir.Password, devdir.DemoUsers, base, token, base, token, base, dir.Dir)
	return serveConfig(ctx, cfg, l, log, level)
}

// newToken returns a fresh random bearer token and its configuration entry.
func newToken(name string, scopes []string) (string, auth.StaticToken, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", auth.StaticToken{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, auth.StaticToken{Name: name, SHA256: hex.EncodeToString(sum[:]), Scopes: scopes}, nil
}
