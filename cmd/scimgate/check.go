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
	r := &checkReport{w: w}
	cfg, ok := r.config(configFile)
	if !ok {
		return r.done()
	}
	r.auth(ctx, cfg)
	pool, err := ldapstore.Open(cfg.LDAP)
	if err != nil {
		r.line("FAIL", "connect", "%v", err)
		return r.done()
	}
	defer pool.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, ok := r.connect(ctx, cfg, pool)
	if !ok {
		return r.done()
	}
	defer conn.Release()
	dse, ok := r.rootDSE(ctx, conn)
	if !ok {
		return r.done()
	}
	r.mapping(ctx, cfg, pool, conn, dse)
	r.baseDNs(ctx, cfg, conn)
	return r.done()
}

// checkReport is what check prints: one line per step and per problem.
type checkReport struct {
	w        io.Writer
	problems int
}

func (r *checkReport) line(status, step, format string, args ...any) {
	if status == "FAIL" {
		r.problems++
	}
	fmt.Fprintf(r.w, "%-4s  %-15s %s\n", status, step, fmt.Sprintf(format, args...))
}

// done prints the verdict: errReported when there was a problem.
func (r *checkReport) done() error {
	if r.problems == 0 {
		fmt.Fprintln(r.w, "no problems found")
		return nil
	}
	fmt.Fprintf(r.w, "%d problem(s)\n", r.problems)
	return errReported
}

// config loads the configuration file and the environment.
func (r *checkReport) config(configFile string) (config.Config, bool) {
	source := configFile
	if source == "" {
		source = "the environment alone"
	}
	cfg, err := config.Load(configFile, os.Environ())
	if err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			r.line("FAIL", "config", "%s", e)
		}
		return cfg, false
	}
	r.line("ok", "config", "%s is valid", source)
	return cfg, true
}

// auth checks the authentication settings (the OAuth server answers, the
// token files read).
func (r *checkReport) auth(ctx context.Context, cfg config.Config) {
	actx, acancel := context.WithTimeout(ctx, cfg.Auth.Timeout+time.Second)
	defer acancel()
	if how, err := auth.Check(actx, cfg.Auth); err != nil {
		r.line("FAIL", "auth", "%v", err)
	} else if cfg.Auth.Mode == auth.ModeBypass {
		r.line("warn", "auth", "bypass: %s", how)
	} else {
		r.line("ok", "auth", "%s: %s", cfg.Auth.Mode, how)
	}
}

// connect borrows a connection: the directory answers and takes the bind.
func (r *checkReport) connect(ctx context.Context, cfg config.Config, pool *ldapstore.Pool) (*ldapstore.Conn, bool) {
	conn, err := pool.Conn(ctx)
	switch {
	case errors.Is(err, ldapstore.ErrBindRefused):
		r.line("FAIL", "bind", "ldap.bind_dn/ldap.bind_password: the directory refused the bind as %s: %v", cfg.LDAP.BindDN, ldapstore.Reason(err))
		return nil, false
	case err != nil:
		r.line("FAIL", "connect", "ldap.urls: cannot reach %s: %v", strings.Join(cfg.LDAP.URLs, ", "), ldapstore.Reason(err))
		return nil, false
	}
	who := "anonymously"
	if cfg.LDAP.BindDN != "" {
		who = "as " + cfg.LDAP.BindDN
	}
	r.line("ok", "connect", "%s, bound %s", conn.URL(), who)
	return conn, true
}

// rootDSE reads what the directory says of itself and the controls it
// lists.
func (r *checkReport) rootDSE(ctx context.Context, conn *ldapstore.Conn) (*ldapstore.RootDSE, bool) {
	dse, err := conn.ReadRootDSE(ctx)
	if err != nil {
		r.line("FAIL", "root DSE", "%v", err)
		return nil, false
	}
	vendor := strings.TrimSpace(dse.VendorName + " " + dse.VendorVersion)
	if vendor == "" && dse.IsOpenLDAP() {
		vendor = "OpenLDAP"
	}
	r.line("ok", "root DSE", "%s; naming contexts: %s", orUnknown(vendor), strings.Join(dse.NamingContexts, ", "))
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
	r.line("", "controls", "%s", strings.Join(support, "; "))
	return dse, true
}

// mapping reads the directory's schema and loads the store over it: what
// the mapping cannot hold, and what the directory makes weaker.
func (r *checkReport) mapping(ctx context.Context, cfg config.Config, pool *ldapstore.Pool, conn *ldapstore.Conn, dse *ldapstore.RootDSE) {
	ds, err := conn.ReadSchema(ctx, dse)
	if err != nil {
		r.line("FAIL", "schema", "%v", err)
		return
	}
	at, oc := ds.Counts()
	r.line("ok", "schema", "%d attribute types, %d object classes", at, oc)
	profile, _ := schema.Preset(cfg.Directory.Profile)
	store, err := ldapstore.NewStore(pool, ldapstore.Options{Users: cfg.Users.UsersConfig, Groups: cfg.Groups.GroupsConfig, Manager: cfg.Users.Manager, Profile: profile, Search: cfg.Search, Limits: cfg.Limits})
	if err != nil {
		r.line("FAIL", "mapping", "%v", err)
		return
	}
	report, err := store.Load(ctx)
	if err != nil {
		r.line("FAIL", "mapping", "%v", err)
		return
	}
	for _, p := range report.Problems {
		r.line("FAIL", "mapping", "%v", p)
	}
	for _, d := range report.Dropped {
		r.line("note", "mapping", "not stored, so not advertised: %s", d)
	}
	for _, l := range report.Limits {
		r.line("note", "directory", "%s", l)
	}
	if len(report.Dropped) > 0 {
		r.line("", "", "(the directory lacks these attributes; deploy/ldap/scimgate.schema adds the scim* ones)")
	}
	switch {
	case len(report.Problems) > 0:
	case len(report.Dropped) == 0:
		r.line("ok", "mapping", "profile %s: every mapped attribute type and object class exists", profile.Name)
	default:
		r.line("ok", "mapping", "profile %s: usable, with the %d mapping(s) above left out", profile.Name, len(report.Dropped))
	}
}

// baseDNs checks that the users' and groups' units exist.
func (r *checkReport) baseDNs(ctx context.Context, cfg config.Config, conn *ldapstore.Conn) {
	for _, b := range []struct{ key, dn string }{{"users.base_dn", cfg.Users.BaseDN}, {"groups.base_dn", cfg.Groups.BaseDN}} {
		ok, err := conn.Exists(ctx, b.dn)
		switch {
		case err != nil:
			r.line("FAIL", b.key, "%s: %v", b.dn, ldapstore.Reason(err))
		case !ok:
			r.line("FAIL", b.key, "%s: no such entry in the directory", b.dn)
		default:
			r.line("ok", b.key, "%s exists", b.dn)
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown vendor"
	}
	return s
}
