package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/gateway/config"
	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// check validates the configuration, connects and binds, reads the root DSE
// and the schema, reports the controls the directory supports, and checks
// the mapping and the base DNs. It prints one line per step and one line per
// problem, and fails if there is any problem.
func check(ctx context.Context, configFile string, w io.Writer) error {
	problems := 0
	line := func(status, step, format string, args ...any) {
		if status == "FAIL" {
			problems++
		}
		fmt.Fprintf(w, "%-4s  %-15s %s\n", status, step, fmt.Sprintf(format, args...))
	}
	done := func() error {
		if problems == 0 {
			fmt.Fprintln(w, "no problems found")
			return nil
		}
		fmt.Fprintf(w, "%d problem(s)\n", problems)
		return errReported
	}

	source := configFile
	if source == "" {
		source = "the environment alone"
	}
	cfg, err := config.Load(configFile, os.Environ())
	if err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			line("FAIL", "config", "%s", e)
		}
		return done()
	}
	line("ok", "config", "%s is valid", source)

	actx, acancel := context.WithTimeout(ctx, cfg.Auth.Timeout+time.Second)
	if how, err := auth.Check(actx, cfg.Auth); err != nil {
		line("FAIL", "auth", "%v", err)
	} else if cfg.Auth.Mode == auth.ModeBypass {
		line("warn", "auth", "bypass: %s", how)
	} else {
		line("ok", "auth", "%s: %s", cfg.Auth.Mode, how)
	}
	acancel()

	pool, err := ldapstore.Open(cfg.LDAP)
	if err != nil {
		line("FAIL", "connect", "%v", err)
		return done()
	}
	defer pool.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pool.Conn(ctx)
	switch {
	case errors.Is(err, ldapstore.ErrBindRefused):
		line("FAIL", "bind", "ldap.bind_dn/ldap.bind_password: the directory refused the bind as %s: %v", cfg.LDAP.BindDN, ldapstore.Reason(err))
		return done()
	case err != nil:
		line("FAIL", "connect", "ldap.urls: cannot reach %s: %v", strings.Join(cfg.LDAP.URLs, ", "), ldapstore.Reason(err))
		return done()
	}
	defer conn.Release()
	who := "anonymously"
	if cfg.LDAP.BindDN != "" {
		who = "as " + cfg.LDAP.BindDN
	}
	line("ok", "connect", "%s, bound %s", conn.URL(), who)

	dse, err := conn.ReadRootDSE(ctx)
	if err != nil {
		line("FAIL", "root DSE", "%v", err)
		return done()
	}
	vendor := strings.TrimSpace(dse.VendorName + " " + dse.VendorVersion)
	if vendor == "" && dse.IsOpenLDAP() {
		vendor = "OpenLDAP"
	}
	line("ok", "root DSE", "%s; naming contexts: %s", orUnknown(vendor), strings.Join(dse.NamingContexts, ", "))
	var support []string
	for _, f := range ldapstore.Features {
		s := "no"
		switch {
		case dse.Supports(f):
			s = "yes"
		case f.OID == ldapstore.OIDPermissiveModify && dse.IsOpenLDAP():
			s = "not listed (OpenLDAP honours it anyway)"
		}
		support = append(support, f.Name+": "+s)
	}
	line("", "controls", "%s", strings.Join(support, "; "))

	ds, err := conn.ReadSchema(ctx, dse)
	if err != nil {
		line("FAIL", "schema", "%v", err)
	} else {
		at, oc := ds.Counts()
		line("ok", "schema", "%d attribute types, %d object classes", at, oc)
		profile, _ := schema.Preset(cfg.Directory.Profile)
		store, err := ldapstore.NewStore(pool, ldapstore.Options{Users: cfg.Users.UsersConfig, Groups: cfg.Groups.GroupsConfig, Manager: cfg.Users.Manager, Profile: profile, Search: cfg.Search, Limits: cfg.Limits})
		if err != nil {
			line("FAIL", "mapping", "%v", err)
		} else if report, err := store.Load(ctx); err != nil {
			line("FAIL", "mapping", "%v", err)
		} else {
			for _, p := range report.Problems {
				line("FAIL", "mapping", "%v", p)
			}
			for _, d := range report.Dropped {
				line("note", "mapping", "not stored, so not advertised: %s", d)
			}
			for _, l := range report.Limits {
				line("note", "directory", "%s", l)
			}
			if len(report.Dropped) > 0 {
				line("", "", "(the directory lacks these attributes; deploy/ldap/scimgate.schema adds the scim* ones)")
			}
			switch {
			case len(report.Problems) > 0:
			case len(report.Dropped) == 0:
				line("ok", "mapping", "profile %s: every mapped attribute type and object class exists", profile.Name)
			default:
				line("ok", "mapping", "profile %s: usable, with the %d mapping(s) above left out", profile.Name, len(report.Dropped))
			}
		}
	}
	for _, b := range []struct{ key, dn string }{{"users.base_dn", cfg.Users.BaseDN}, {"groups.base_dn", cfg.Groups.BaseDN}} {
		ok, err := conn.Exists(ctx, b.dn)
		switch {
		case err != nil:
			line("FAIL", b.key, "%s: %v", b.dn, ldapstore.Reason(err))
		case !ok:
			line("FAIL", b.key, "%s: no such entry in the directory", b.dn)
		default:
			line("ok", b.key, "%s exists", b.dn)
		}
	}
	return done()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown vendor"
	}
	return s
}
