package test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scimgate/scimgate/test/slapd"
)

// SIGTERM during load: scimgate answers /readyz with 503 for
// server.shutdown_delay while serving on, then stops accepting, lets every
// request in flight finish, and exits 0. The load comes as through a load
// balancer, which sends only while /readyz says ready: then every request
// is answered in full, none cut off.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	token := "shutdown-test-token"
	tokens := filepath.Join(t.TempDir(), "tokens.yaml")
	os.WriteFile(tokens, []byte(fmt.Sprintf("- name: load\n  sha256: %s\n  scopes: [https://jans.io/scim/users.read, https://jans.io/scim/users.write]\n", sha256hex(token))), 0o600)
	cmd, _ := start(t, cleanEnv(append(directoryEnv(t, dir, addr),
		"SCIMGATE_AUTH_MODE=token", "SCIMGATE_AUTH_TOKENS_FILE="+tokens, "SCIMGATE_SERVER_SHUTDOWN_TIMEOUT=10s", "SCIMGATE_SERVER_SHUTDOWN_DELAY=1s", "SCIMGATE_AUDIT_OUTPUT=off",
	)...), "serve")
	base := "http://" + addr
	waitReady(t, base)

	// The load balancer's health check, every 50ms.
	var ready atomic.Bool
	ready.Store(true)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			res, err := http.Get(base + "/readyz")
			ready.Store(err == nil && res.StatusCode == 200)
			if err == nil {
				res.Body.Close()
			}
		}
	})
	// No keep-alive: a request after the listener closed is refused at
	// connect, which tells "not accepted" from "cut off".
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	var sent, ok, refused, cut, held atomic.Int64
	var firstCut atomic.Value
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !ready.Load() {
					held.Add(1) // the balancer sends elsewhere
					time.Sleep(10 * time.Millisecond)
					continue
				}
				req, _ := http.NewRequest("GET", base+"/scim/v2/Users?count=200", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				sent.Add(1)
				res, err := client.Do(req)
				switch {
				case err != nil && errors.Is(err, syscall.ECONNREFUSED):
					refused.Add(1)
				case err != nil:
					cut.Add(1)
					firstCut.CompareAndSwap(nil, err.Error())
				default:
					var n int64
					buf := make([]byte, 32<<10)
					for {
						m, rerr := res.Body.Read(buf)
						n += int64(m)
						if rerr != nil {
							if rerr.Error() != "EOF" || res.StatusCode != 200 || (res.ContentLength >= 0 && n != res.ContentLength) {
								cut.Add(1)
								firstCut.CompareAndSwap(nil, fmt.Sprintf("status %d, %d of %d bytes, %v", res.StatusCode, n, res.ContentLength, rerr))
							} else {
								ok.Add(1)
							}
							break
						}
					}
					res.Body.Close()
				}
			}
		})
	}
	time.Sleep(time.Second)
	// A request in flight across the moment the listener closes: its body
	// comes slowly, the last half after the shutdown delay.
	slow := make(chan string, 1)
	go func() {
		pr, pw := io.Pipe()
		go func() {
			pw.Write([]byte(`{"userName":"slow.`))
			time.Sleep(1500 * time.Millisecond)
			pw.Write([]byte(`writer"}`))
			pw.Close()
		}()
		req, _ := http.NewRequest("POST", base+"/scim/v2/Users", pr)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := client.Do(req)
		if err != nil {
			slow <- err.Error()
			return
		}
		res.Body.Close()
		slow <- res.Status
	}()
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("scimgate exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("scimgate did not exit within 15s of SIGTERM")
	}
	if got := <-slow; got != "201 Created" {
		t.Errorf("the request in flight when the listener closed: %s, want 201 Created", got)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("sent %d: answered in full %d, refused at connect %d, cut off %d (held back by the balancer: %d times)",
		sent.Load(), ok.Load(), refused.Load(), cut.Load(), held.Load())
	if cut.Load() > 0 || refused.Load() > 0 {
		t.Errorf("%d requests were cut off and %d refused; the first cut: %v", cut.Load(), refused.Load(), firstCut.Load())
	}
	if ok.Load() == 0 || held.Load() == 0 {
		t.Error("the load did not span the shutdown")
	}
}
