// Package test holds scimgate's end-to-end tests: they build the scimgate
// binary and run it as a user would, against real slapd servers started by
// the shared harness in test/slapd.
package test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/test/slapd"
)

// binary is the scimgate program built for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scimgate-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "scimgate")
	build := exec.Command("go", "build", "-race", "-o", binary, "github.com/scimgate/scimgate/cmd/scimgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build scimgate:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cleanEnv is the environment without any SCIMGATE_ variable of the caller.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCIMGATE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs scimgate with args and env; the process is killed when the
// test ends, and its stderr is shown if the test failed.
func start(t *testing.T, env []string, args ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd, stdout, _ := startLogged(t, env, args...)
	return cmd, stdout
}

// lockedBuffer is a process's stderr, read while it is written.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged is start, also returning the process's stderr (its log).
func startLogged(t *testing.T, env []string, args ...string) (*exec.Cmd, io.Reader, *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("scimgate stderr:\n%s", stderr.String())
		}
	})
	return cmd, stdout, stderr
}

// directoryEnv configures, through the environment, a gateway on addr for
// dir (the bind password in a file, as deployments keep it).
func directoryEnv(t *testing.T, dir *slapd.Server, addr string) []string {
	t.Helper()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(dir.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"SCIMGATE_SERVER_LISTEN=" + addr,
		"SCIMGATE_LDAP_URLS=" + dir.URL,
		"SCIMGATE_LDAP_BIND_DN=" + dir.RootDN,
		"SCIMGATE_LDAP_BIND_PASSWORD_FILE=" + pwFile,
		"SCIMGATE_USERS_BASE_DN=" + dir.PeopleDN,
		"SCIMGATE_GROUPS_BASE_DN=" + dir.GroupsDN,
	}
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s/readyz never answered 200", url)
}

// call does a request; extra headers as pairs.
func call(t *testing.T, method, url, token, body string, headers ...string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc map[string]any
	raw, _ := io.ReadAll(res.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s %s: %q is not JSON", method, url, raw)
		}
	}
	return res.StatusCode, res.Header, doc
}

func TestServeConfiguredByTheEnvironmentAlone(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	addr := freeAddr(t)
	token := "e2e-secret-token"
	tokens := filepath.Join(t.TempDir(), "tokens.yaml")
	os.WriteFile(tokens, []byte(fmt.Sprintf("- name: e2e\n  sha256: %s\n  scopes: [https://jans.io/scim/users.read, https://jans.io/scim/users.write]\n", sha256hex(token))), 0o600)
	cmd, _, stderr := startLogged(t, cleanEnv(append(directoryEnv(t, dir, addr),
		"SCIMGATE_AUTH_MODE=token",
		"SCIMGATE_AUTH_TOKENS_FILE="+tokens,
	)...), "serve")
	base := "http://" + addr
	waitReady(t, base)
	// Without server.public_url, locations come from the Host header: said at start.
	if !strings.Contains(stderr.String(), `"msg":"server.public_url is not set`) {
		t.Errorf("serve without server.public_url gave no warning:\n%s", stderr.String())
	}
	users := base + "/scim/v2/Users"
	env := cleanEnv(append(directoryEnv(t, dir, addr), "SCIMGATE_AUTH_MODE=token", "SCIMGATE_AUTH_TOKENS_FILE="+tokens)...)
	if out, err := runScimgate(t, env, "health"); err != nil {
		t.Errorf("scimgate health against a running gateway: %v %s", err, out)
	}
	if _, err := runScimgate(t, append(env, "SCIMGATE_SERVER_LISTEN="+freeAddr(t)), "health"); err == nil {
		t.Error("scimgate health against no gateway succeeded")
	}

	status, header, doc := call(t, "POST", users, token, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"e2e.user","name":{"givenName":"End","familyName":"ToEnd"},"emails":[{"value":"e2e@example.org","type":"work"}]}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, doc)
	}
	id := doc["id"].(string)
	if header.Get("Location") != users+"/"+id {
		t.Errorf("Location = %q", header.Get("Location"))
	}
	c, err := dir.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(dir.PeopleDN, ldap.ScopeWholeSubtree, 0, 0, 0, false,
		"(entryUUID="+id+")", []string{"uid", "givenName", "sn", "mail"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("the created user is not in the directory: %v %v", res, err)
	}
	if e := res.Entries[0]; e.DN != "uid=e2e.user,"+dir.PeopleDN || e.GetAttributeValue("mail") != "e2e@example.org" || e.GetAttributeValue("sn") != "ToEnd" {
		t.Errorf("entry %s %v", e.DN, e.Attributes)
	}

	if status, _, doc := call(t, "GET", users+"/"+id, token, ""); status != 200 || doc["userName"] != "e2e.user" {
		t.Errorf("get: %d %v", status, doc)
	}
	if status, _, doc := call(t, "GET", users+"?filter=userName%20eq%20%22e2e.user%22", token, ""); status != 200 || doc["totalResults"] != 1.0 {
		t.Errorf("list: %d %v", status, doc)
	}
	if status, _, _ := call(t, "DELETE", users+"/"+id, token, ""); status != 204 {
		t.Errorf("delete: %d", status)
	}
	res, _ = c.Search(ldap.NewSearchRequest(dir.PeopleDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(entryUUID="+id+")", nil, nil))
	if len(res.Entries) != 0 {
		t.Error("the deleted user is still in the directory")
	}
	if status, _, _ := call(t, "GET", users+"/"+id, token, ""); status != 404 {
		t.Errorf("get after delete: %d", status)
	}

	// SIGTERM: a graceful stop, exit status 0.
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("scimgate serve after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("scimgate serve did not stop on SIGTERM")
	}
}

func TestServeRefusesABadConfiguration(t *testing.T) {
	out, err := runScimgate(t, cleanEnv("SCIMGATE_LDAP_URLS=http://x", "SCIMGATE_AUTH_MODE=bypass"), "serve")
	if err == nil {
		t.Fatal("serve started with a bad configuration")
	}
	for _, want := range []string{"ldap.urls[0]", "users.base_dn: required", "groups.base_dn: required"} {
		if !strings.Contains(out, want) {
			t.Errorf("output does not name %q:\n%s", want, out)
		}
	}
}

func runScimgate(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestCheck(t *testing.T) {
	dir := slapd.New(t, slapd.Options{ScimgateSchema: true, PPolicy: true})
	good := cleanEnv(
		"SCIMGATE_LDAP_URLS="+dir.URL,
		"SCIMGATE_LDAP_BIND_DN="+dir.RootDN,
		"SCIMGATE_LDAP_BIND_PASSWORD="+dir.Password,
		"SCIMGATE_USERS_BASE_DN="+dir.PeopleDN,
		"SCIMGATE_GROUPS_BASE_DN="+dir.GroupsDN,
		"SCIMGATE_AUTH_MODE=bypass",
	)
	out, err := runScimgate(t, good, "check")
	if err != nil {
		t.Fatalf("check of a good setup failed: %v\n%s", err, out)
	}
	for _, want := range []string{"paged results: yes", "server-side sort: yes", "virtual list view: yes", "assertion: yes", "permissive modify:", "password modify: yes", "every mapped attribute"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	plain := slapd.New(t, slapd.Options{})
	out, err = runScimgate(t, append(append([]string(nil), good...), "SCIMGATE_LDAP_URLS="+plain.URL), "check")
	if err != nil {
		t.Fatalf("check of a directory without scimgate's schema failed: %v\n%s", err, out)
	}
	for _, want := range []string{"note  mapping         not stored, so not advertised: users: nickName → scimNickName", "users: active → pwdAccountLockedTime", "deploy/ldap/scimgate.schema", "usable, with the 26 mapping(s) above left out",
		"content sync (change stream): no", "the directory streams no changes"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}

	tests := []struct {
		name string
		env  string
		want string
	}{
		{"a configured class the directory lacks", "SCIMGATE_USERS_OBJECT_CLASSES=inetOrgPerson,noSuchClass", `FAIL  mapping         users mapping: new entries: the directory has no object class "noSuchClass"`},
		{"wrong password", "SCIMGATE_LDAP_BIND_PASSWORD=wrong", "FAIL  bind            ldap.bind_dn/ldap.bind_password: the directory refused the bind as cn=admin,dc=example,dc=org: invalid credentials (LDAP result 49)"},
		{"unreachable", "SCIMGATE_LDAP_URLS=ldap://" + freeAddr(t), "FAIL  connect         ldap.urls: cannot reach ldap://127.0.0.1:"},
		{"missing base DN", "SCIMGATE_GROUPS_BASE_DN=ou=missing,dc=example,dc=org", "FAIL  groups.base_dn  ou=missing,dc=example,dc=org: no such entry in the directory"},
		{"invalid config", "SCIMGATE_LDAP_MAX_OPEN=-1", "FAIL  config          ldap.max_open: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runScimgate(t, append(append([]string(nil), good...), tt.env), "check")
			if err == nil {
				t.Fatalf("check passed:\n%s", out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

func TestDevPrintsACurlCommandThatWorks(t *testing.T) {
	if _, err := slapd.Binary(); err != nil && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	cmd, stdout, stderr := startLogged(t, cleanEnv(), "dev", "--listen", "127.0.0.1:0")
	curlRE := regexp.MustCompile(`curl -s -H 'Authorization: Bearer ([^']+)' '([^']+)'`)
	var token, url, tempDir string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && (token == "" || tempDir == "") {
		if m := curlRE.FindStringSubmatch(sc.Text()); m != nil && token == "" {
			token, url = m[1], m[2]
		}
		if _, after, ok := strings.Cut(sc.Text(), "Ctrl-C stops both and removes "); ok {
			tempDir = strings.TrimSuffix(after, ".")
		}
	}
	if token == "" {
		t.Fatal("dev printed no curl command")
	}
	go io.Copy(io.Discard, stdout)
	status, _, doc := call(t, "GET", url, token, "")
	if status != 200 || doc["totalResults"] != float64(slapd.DemoUsers) || len(doc["Resources"].([]any)) != 3 {
		t.Fatalf("the printed command answered %d %v", status, doc)
	}
	if strings.Contains(stderr.String(), "public_url") {
		t.Errorf("dev warns of server.public_url, which a throwaway gateway on loopback does not need:\n%s", stderr.String())
	}
	if _, err := os.Stat(tempDir); err != nil {
		t.Fatalf("dev's directory %q: %v", tempDir, err)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("dev after Ctrl-C: %v", err)
	}
	if _, err := os.Stat(tempDir); !os.IsNotExist(err) {
		t.Errorf("dev left %s behind", tempDir)
	}
}

func TestVersion(t *testing.T) {
	out, err := runScimgate(t, cleanEnv(), "version")
	if err != nil || !strings.HasPrefix(out, "scimgate ") {
		t.Fatalf("version: %v %q", err, out)
	}
}

func sha256hex(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }

// writeFile writes content to a new file name in the test's temporary
// directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
