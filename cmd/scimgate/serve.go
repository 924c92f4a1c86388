package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scimgate/scimgate/gateway"
	"github.com/scimgate/scimgate/gateway/config"
	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

func serve(ctx context.Context, configFile string, stderr io.Writer) error {
	cfg, err := config.Load(configFile, os.Environ())
	if err != nil {
		return fmt.Errorf("configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	log, level, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	if cfg.Server.PublicURL == "" { // not in dev: a gateway on loopback for its own user
		log.Warn("server.public_url is not set: Location headers and meta.location are built from each request's Host header, " +
			"which clients choose. Set it to the URL clients reach scimgate at, e.g. https://scim.example.org")
	}
	l, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	return serveConfig(ctx, cfg, l, log, level)
}

// serveConfig serves cfg on l until ctx ends: the part of serve that dev shares.
func serveConfig(ctx context.Context, cfg config.Config, l net.Listener, log *zap.Logger, level zap.AtomicLevel) error {
	audit, closeAudit, err := newAuditLogger(cfg.Audit.Output)
	if err != nil {
		return err
	}
	defer closeAudit()
	tracer, stopTracer, err := newTracer(cfg.Tracing, version)
	if err != nil {
		return err
	}
	defer stopTracer()
	pool, err := ldapstore.Open(cfg.LDAP)
	if err != nil {
		return err
	}
	defer pool.Close()
	profile, err := schema.Preset(cfg.Directory.Profile)
	if err != nil {
		return err
	}
	store, err := ldapstore.NewStore(pool, ldapstore.Options{Users: cfg.Users.UsersConfig, Groups: cfg.Groups.GroupsConfig, Manager: cfg.Users.Manager, Profile: profile, Search: cfg.Search, Limits: cfg.Limits})
	if err != nil {
		return err
	}
	srv, err := gateway.New(gateway.Options{Server: cfg.Server, Auth: cfg.Auth, Bulk: cfg.Bulk, Patch: cfg.Patch, Me: cfg.Me, Store: store,
		Users: cfg.Users.ResponseConfig, Groups: cfg.Groups.ResponseConfig,
		Logger: log, LogLevel: &level, Audit: audit, Tracer: tracer})
	if err != nil {
		return err
	}
	if cfg.Server.AdminListen != "" {
		al, err := net.Listen("tcp", cfg.Server.AdminListen)
		if err != nil {
			return fmt.Errorf("server.admin_listen: %w", err)
		}
		admin := &http.Server{Handler: srv.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		go admin.Serve(al)
		defer admin.Close()
		log.Info("admin endpoints", zap.String("address", al.Addr().String()), zap.Strings("paths", []string{"/metrics", "/loglevel", "/healthz", "/debug/pprof/"}))
	} else {
		log.Info("server.admin_listen is not set: no /metrics, /loglevel or profiler")
	}
	// Read the directory's schema now, to say at once what the mapping
	// can store. The directory may come up after us: then serve anyway
	// (503 until it answers; /readyz tells load balancers) and keep trying.
	go loadStore(ctx, store, log)
	// Keep the order indexes from the directory's change stream, where it
	// offers one (docs/search.md); lists take snapshots meanwhile.
	go store.Run(ctx)
	// Likewise reach the authorization server now (oauth mode), so that
	// a wrong issuer shows in the log at start, not at the first request.
	go srv.CheckAuthServer(ctx)
	log.Info("serving", zap.String("address", l.Addr().String()), zap.String("base_path", cfg.Server.BasePath),
		zap.Strings("ldap", cfg.LDAP.URLs), zap.String("auth", cfg.Auth.Mode), zap.String("profile", profile.Name),
		zap.String("memory_limit", memoryLimit()))
	return srv.Serve(ctx, l)
}

// memoryLimit describes the Go runtime's soft memory limit, for the log.
func memoryLimit() string {
	if n := debug.SetMemoryLimit(-1); n != math.MaxInt64 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return "none"
}

// loadStore reads the directory's schema, retrying until it answers, and
// logs how it shaped the mapping.
func loadStore(ctx context.Context, store *ldapstore.Store, log *zap.Logger) {
	for wait := time.Second; ; wait = min(2*wait, time.Minute) {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		report, err := store.Load(lctx)
		cancel()
		if err == nil {
			for _, p := range report.Problems {
				log.Error("mapping problem", zap.Error(p))
			}
			for _, l := range report.Limits {
				log.Warn("directory limit", zap.String("limit", l))
			}
			if len(report.Dropped) > 0 {
				log.Info("mapped attributes the directory cannot hold are not served", zap.Strings("left_out", report.Dropped))
			}
			return
		}
		log.Warn("the directory does not answer yet", zap.Error(err), zap.Duration("retry_in", wait))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func newLogger(c config.Log, w io.Writer) (*zap.Logger, zap.AtomicLevel, error) {
	l, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("log.level: %w", err)
	}
	level := zap.NewAtomicLevelAt(l)
	var enc zapcore.Encoder
	if c.Format == "console" {
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	}
	ws := zapcore.Lock(zapcore.AddSync(w))
	if c.BufferSize == 0 {
		return zap.New(zapcore.NewCore(enc, ws, level)), level, nil
	}
	buf := &zapcore.BufferedWriteSyncer{WS: ws, Size: c.BufferSize, FlushInterval: c.FlushInterval}
	return zap.New(flushOnWarn{zapcore.NewCore(enc, buf, level), buf}), level, nil
}

// flushOnWarn is a core writing to a buffer that it writes out after a
// warning or an error, so that those are seen when they happen (and a
// line before a crash is not left in the buffer).
type flushOnWarn struct {
	zapcore.Core
	buf zapcore.WriteSyncer
}

func (c flushOnWarn) With(fields []zapcore.Field) zapcore.Core {
	return flushOnWarn{c.Core.With(fields), c.buf}
}

func (c flushOnWarn) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c flushOnWarn) Write(e zapcore.Entry, fields []zapcore.Field) error {
	err := c.Core.Write(e, fields)
	if e.Level >= zapcore.WarnLevel {
		err = errors.Join(err, c.buf.Sync())
	}
	return err
}

// newAuditLogger returns the audit log's logger (JSON, one line per write)
// writing to output, nil for "off", and what closes its file.
func newAuditLogger(output string) (*zap.Logger, func(), error) {
	var w zapcore.WriteSyncer
	closer := func() {}
	switch output {
	case "off":
		return nil, closer, nil
	case "stdout":
		w = zapcore.Lock(os.Stdout)
	case "stderr":
		w = zapcore.Lock(os.Stderr)
	default:
		f, err := os.OpenFile(output, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("audit.output: %w", err)
		}
		w, closer = zapcore.Lock(f), func() { f.Sync(); f.Close() }
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(ec), w, zap.InfoLevel)).Named("audit"), closer, nil
}

func printEnv(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\n", config.EnvConfigFile, "the configuration file (like --config)")
	for _, kv := range config.EnvVars() {
		fmt.Fprintf(tw, "%s\t%s\n", kv[0], kv[1])
	}
	tw.Flush()
}
