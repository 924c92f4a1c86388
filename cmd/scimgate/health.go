package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/scimgate/scimgate/gateway/config"
)

// health asks the gateway configured like this process (server.listen)
// whether it serves: for container health checks in images without a
// shell or curl. It exits 0 when /healthz answers 200.
func health(ctx context.Context, configFile string) error {
	cfg, err := config.Load(configFile, os.Environ())
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	host, port, err := net.SplitHostPort(cfg.Server.Listen)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %s", res.Status)
	}
	return nil
}
