package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
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
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	l, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("server.listen: %w", err)
	}
	return serveConfig(ctx, cfg, l, log)
}

// serveConfig serves cfg on l until ctx ends: the part of serve that dev shares.
func serveConfig(ctx context.Context, cfg config.Config, l net.Listener, log *zap.Logger) error {
	pool, err := ldapstore.Open(cfg.LDAP)
	if err != nil {
		return err
	}
	defer pool.Close()
	profile, err := schema.Preset(cfg.Directory.Profile)
	if err != nil {
		return err
	}
	store, err := ldapstore.NewStore(pool, ldapstore.Options{Users: cfg.Users, Groups: cfg.Groups, Profile: profile})
	if err != nil {
		return err
	}
	srv, err := gateway.New(gateway.Options{Server: cfg.Server, Auth: cfg.Auth, Store: store, Logger: log})
	if err != nil {
		return err
	}
	// The directory may come up after us: say so, and serve anyway (503
	// until it answers; /readyz tells load balancers).
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := pool.Ping(pctx); err != nil {
		log.Warn("the directory does not answer yet", zap.Error(err))
	}
	cancel()
	log.Info("serving", zap.String("address", l.Addr().String()), zap.String("base_path", cfg.Server.BasePath),
		zap.Strings("ldap", cfg.LDAP.URLs), zap.String("auth", cfg.Auth.Mode), zap.String("profile", profile.Name))
	return srv.Serve(ctx, l)
}

func newLogger(c config.Log, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
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
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)), nil
}

func printEnv(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\t%s\n", config.EnvConfigFile, "the configuration file (like --config)")
	for _, kv := range config.EnvVars() {
		fmt.Fprintf(tw, "%s\t%s\n", kv[0], kv[1])
	}
	tw.Flush()
}
