package test

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/scimgate/scimgate/test/slapd"
)

// memoryUsers is the directory size of the bounded-memory test.
const memoryUsers = 60_000

// Parallel lists over a large directory keep the gateway's memory bounded:
// 12 parallel first pages of the whole directory and 8 distinct sorted
// queries at once, over 60,000 users, all answered 200 with the gateway's
// peak RSS under 256 MiB (it once reached 1 GiB, and 1.8 GiB with 503s over
// 200,000 users: a pod limit of 512Mi killed by one client with a read
// token). The gateway is built without the race detector, which multiplies
// memory. No timing is asserted.
func TestParallelListsStayBounded(t *testing.T) {
	work := t.TempDir()
	ldif := filepath.Join(work, "users.ldif")
	if err := slapd.WriteUsersLDIF(ldif, memoryUsers, 1000); err != nil {
		t.Fatal(err)
	}
	dir := slapd.New(t, slapd.Options{ServiceAccount: true, Preload: ldif})
	bin := filepath.Join(work, "scimgate")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/scimgate/scimgate/cmd/scimgate").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = cleanEnv(append(dir.GatewayEnv(), "SCIMGATE_SERVER_LISTEN="+addr, "SCIMGATE_AUTH_MODE=bypass", "SCIMGATE_LOG_LEVEL=warn")...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	waitReady(t, base)

	var paths []string
	for range 12 {
		paths = append(paths, "/Users?count=1")
	}
	for _, sortBy := range []string{"userName", "name.familyName", "name.givenName", "displayName", "title", "emails", "meta.created", "meta.lastModified"} {
		paths = append(paths, "/Users?count=10&sortBy="+sortBy+"&filter="+url.QueryEscape(`userName sw "user"`))
	}
	statuses := make([]string, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, doc := call(t, "GET", base+"/scim/v2"+p, "", "")
			statuses[i] = fmt.Sprint(status)
			if status == 200 && doc["totalResults"] != float64(memoryUsers) {
				statuses[i] = fmt.Sprintf("%d totalResults %v", status, doc["totalResults"])
			}
		}()
	}
	wg.Wait()
	peak := vmHWM(t, cmd.Process.Pid)
	t.Logf("gateway peak RSS %d MiB over %d parallel lists of %d users", peak>>20, len(paths), memoryUsers)
	for i, s := range statuses {
		if s != "200" {
			t.Errorf("GET %s: %s, want 200 with totalResults %d", paths[i], s, memoryUsers)
		}
	}
	if peak > 256<<20 {
		t.Errorf("gateway peak RSS %d MiB, want under 256 MiB", peak>>20)
	}
}

// vmHWM is a process's peak resident set size, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
