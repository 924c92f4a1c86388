// Package deploy_test checks the deployment files in CI: that they parse,
// that the configurations they carry load and validate, and that they keep
// the properties the docs promise (non-root, read-only root filesystem,
// probes on /healthz and /readyz, sandboxing). No container runtime or
// cluster is needed.
package deploy_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scimgate/scimgate/gateway/config"
)

// load validates a scimgate configuration file with the secrets it names
// supplied from the environment, as a deployment mounts them.
func load(t *testing.T, path string, content []byte) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "scimgate.yaml")
	os.WriteFile(file, content, 0o600)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("secret\n"), 0o600)
	tokens := filepath.Join(dir, "tokens.yaml")
	os.WriteFile(tokens, []byte("- {name: t, sha256: 41c7049f1537e006a99ec2de20b014c8ceabda41505d9f6ab599f7b5e2d10a1d, scopes: [x]}\n"), 0o600)
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, caPEM(t), 0o600)
	env := []string{"SCIMGATE_LDAP_BIND_PASSWORD_FILE=" + pw}
	if bytes.Contains(content, []byte("tokens_file")) {
		env = append(env, "SCIMGATE_AUTH_TOKENS_FILE="+tokens)
	}
	if bytes.Contains(content, []byte("ca_file")) {
		env = append(env, "SCIMGATE_LDAP_CA_FILE="+ca)
	}
	if bytes.Contains(content, []byte("cursor_key_file: /")) {
		key := filepath.Join(dir, "cursor-key")
		os.WriteFile(key, []byte("a-random-key-of-32-bytes-in-base64=\n"), 0o600)
		env = append(env, "SCIMGATE_SERVER_CURSOR_KEY_FILE="+key)
	}
	if _, err := config.Load(file, env); err != nil {
		t.Errorf("%s does not load:\n%v", path, err)
	}
}

// caPEM is a throwaway self-signed CA certificate.
func caPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestExampleConfigurations(t *testing.T) {
	files, _ := filepath.Glob("examples/*.yaml")
	if len(files) < 3 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		load(t, f, b)
	}
}

// docs decodes every YAML document of a file.
func docs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			if err.Error() == "EOF" {
				return out
			}
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, d)
	}
}

func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func TestKubernetesBase(t *testing.T) {
	kust := docs(t, "kubernetes/base/kustomization.yaml")[0]
	kinds := map[string]map[string]any{}
	for _, r := range kust["resources"].([]any) {
		for _, d := range docs(t, filepath.Join("kubernetes/base", r.(string))) {
			if d["apiVersion"] == nil || d["kind"] == nil || dig(d, "metadata", "name") == nil {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", r)
			}
			kinds[d["kind"].(string)] = d
		}
	}
	for _, k := range []string{"Deployment", "Service", "ConfigMap", "Secret", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} {
		if kinds[k] == nil {
			t.Errorf("the base has no %s", k)
		}
	}
	c := dig(kinds["Deployment"], "spec", "template", "spec", "containers", 0)
	for path, want := range map[string]any{
		"livenessProbe.httpGet.path":               "/healthz",
		"readinessProbe.httpGet.path":              "/readyz",
		"securityContext.readOnlyRootFilesystem":   true,
		"securityContext.allowPrivilegeEscalation": false,
	} {
		var keys []any
		for _, k := range strings.Split(path, ".") {
			keys = append(keys, k)
		}
		if got := dig(c, keys...); got != want {
			t.Errorf("container %s = %v, want %v", path, got, want)
		}
	}
	if dig(c, "resources", "requests", "cpu") == nil || dig(c, "resources", "requests", "memory") == nil {
		t.Error("the container has no resource requests")
	}
	if dig(kinds["Deployment"], "spec", "template", "spec", "securityContext", "runAsNonRoot") != true {
		t.Error("the pod may run as root")
	}
	configText := dig(kinds["ConfigMap"], "data", "scimgate.yaml").(string)
	load(t, "configmap scimgate.yaml", []byte(configText))

	// Metrics are on the admin listener only: Prometheus scrapes its port,
	// which the container declares.
	var cfg struct {
		Server struct {
			AdminListen string `yaml:"admin_listen"`
		} `yaml:"server"`
	}
	if err := yaml.Unmarshal([]byte(configText), &cfg); err != nil {
		t.Fatal(err)
	}
	_, adminPort, _ := strings.Cut(cfg.Server.AdminListen, ":")
	annotations := dig(kinds["Deployment"], "spec", "template", "metadata", "annotations")
	if adminPort == "" || dig(annotations, "prometheus.io/port") != adminPort || dig(annotations, "prometheus.io/path") != "/metrics" {
		t.Errorf("server.admin_listen %q, scrape annotations %v: Prometheus must scrape the admin port", cfg.Server.AdminListen, annotations)
	}
	declared := false
	for _, p := range dig(c, "ports").([]any) {
		declared = declared || fmt.Sprint(dig(p, "containerPort")) == adminPort
	}
	if !declared {
		t.Errorf("the container does not declare the admin port %s", adminPort)
	}
}

func TestCompose(t *testing.T) {
	d := docs(t, "compose.yaml")[0]
	for _, s := range []string{"openldap", "scimgate"} {
		if dig(d, "services", s) == nil {
			t.Errorf("compose.yaml has no service %s", s)
		}
	}
	for name, s := range dig(d, "secrets").(map[string]any) {
		if _, err := os.Stat(dig(s, "file").(string)); err != nil {
			t.Errorf("secret %s: %v", name, err)
		}
	}
	if _, err := os.Stat(strings.Split(dig(d, "services", "openldap", "volumes", 0).(string), ":")[0]); err != nil {
		t.Errorf("the schema mounted into openldap: %v", err)
	}
}

// A Dockerfile lint: known instructions, a multi-stage build, a non-root
// user, a health check, nothing fetched with ADD, files copied that exist.
func TestDockerfile(t *testing.T) {
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := []string{"FROM", "WORKDIR", "COPY", "RUN", "ARG", "ENV", "USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD", "LABEL"}
	seen := map[string]int{}
	var user string
	var copied, exposed []string
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	cont, inEnv := false, false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		wasCont := cont
		cont = strings.HasSuffix(line, "\\")
		inEnv = strings.HasPrefix(line, "ENV ") || (wasCont && inEnv)
		if inEnv {
			for _, kv := range strings.Fields(strings.TrimPrefix(strings.TrimSuffix(line, "\\"), "ENV ")) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					env[k] = v
				}
			}
		}
		if line == "" || strings.HasPrefix(line, "#") || wasCont {
			continue
		}
		fields := strings.Fields(line)
		instr := strings.ToUpper(fields[0])
		if !slices.Contains(known, instr) {
			t.Errorf("unknown or unexpected instruction: %s", line)
		}
		seen[instr]++
		switch instr {
		case "USER":
			user = fields[1]
		case "EXPOSE":
			exposed = append(exposed, fields[1:]...)
		case "COPY":
			if !strings.HasPrefix(fields[1], "--from=") {
				for _, src := range fields[1 : len(fields)-1] {
					copied = append(copied, strings.TrimSuffix(src, "/"))
					if _, err := os.Stat(filepath.Join("..", src)); err != nil {
						t.Errorf("COPY %s: %v", src, err)
					}
				}
			}
		}
	}
	// Every package the binary is built from is copied into the build
	// stage, and nothing of the tests is.
	for _, src := range copied {
		if src == "test" || strings.HasPrefix(src, "test/") {
			t.Errorf("the Dockerfile copies %s: the binary must not need the tests", src)
		}
	}
	for _, dir := range binaryPackages(t) {
		if !slices.ContainsFunc(copied, func(src string) bool { return dir == src || strings.HasPrefix(dir, src+"/") }) {
			t.Errorf("the Dockerfile does not copy %s, which the binary needs", dir)
		}
	}
	if seen["FROM"] < 2 {
		t.Error("not a multi-stage build")
	}
	if user == "" || strings.HasPrefix(user, "root") || strings.HasPrefix(user, "0") {
		t.Errorf("the image runs as %q", user)
	}
	if _, port, ok := strings.Cut(env["SCIMGATE_SERVER_ADMIN_LISTEN"], ":"); !ok || !slices.Contains(exposed, port) {
		t.Errorf("the image's admin listener %q is not on an EXPOSEd port %v: metrics are served there only", env["SCIMGATE_SERVER_ADMIN_LISTEN"], exposed)
	}
	if seen["HEALTHCHECK"] != 1 || seen["ADD"] != 0 {
		t.Errorf("HEALTHCHECK %d, ADD %d", seen["HEALTHCHECK"], seen["ADD"])
	}
}

func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("systemd/scimgate.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{"[Unit]", "[Service]", "[Install]", "ExecStart=/usr/local/bin/scimgate serve", "DynamicUser=yes",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n", "KillSignal=SIGTERM"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
}

// TestBinaryImportsNoTest: the binary is built from none of the test
// harnesses' packages (test/...): what `scimgate dev` runs is under
// internal/.
func TestBinaryImportsNoTest(t *testing.T) {
	var bad []string
	for _, dir := range binaryPackages(t) {
		if dir == "test" || strings.HasPrefix(dir, "test/") {
			bad = append(bad, dir)
		}
	}
	if len(bad) > 0 {
		t.Errorf("cmd/scimgate imports %v", bad)
	}
}

// binaryPackages lists the packages of this module that cmd/scimgate is
// built from, as directories relative to the module's root.
func binaryPackages(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "../cmd/scimgate").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var dirs []string
	for _, pkg := range strings.Fields(string(out)) {
		if dir, ok := strings.CutPrefix(pkg, "github.com/scimgate/scimgate/"); ok {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}
