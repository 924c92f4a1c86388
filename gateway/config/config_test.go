package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

const minimal = `
ldap:
  urls: [ldap://127.0.0.1:389]
  bind_dn: cn=admin,dc=example,dc=org
  bind_password: secret
users:
  base_dn: ou=people,dc=example,dc=org
groups:
  base_dn: ou=groups,dc=example,dc=org
auth:
  mode: bypass
`

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFileAndEnvironment(t *testing.T) {
	pw := write(t, "pw", "from-a-file\n")
	cfg, err := Load(write(t, "c.yaml", strings.Replace(minimal, "users:\n", "users:\n  patch_response: 204\n", 1)), []string{
		"SCIMGATE_SERVER_LISTEN=0.0.0.0:9000",
		"SCIMGATE_SERVER_REQUEST_TIMEOUT=5s",
		"SCIMGATE_LDAP_URLS=ldap://a:389, ldaps://b:636",
		"SCIMGATE_LDAP_BIND_PASSWORD=",
		"SCIMGATE_LDAP_BIND_PASSWORD_FILE=" + pw,
		"SCIMGATE_LDAP_MAX_OPEN=4",
		"SCIMGATE_LDAP_MAX_IDLE=2",
		"SCIMGATE_LDAP_ALLOW_PLAINTEXT_BIND=true", // ldap://a is another host
		"SCIMGATE_LOG_FORMAT=console",
		"SCIMGATE_PATCH_MAX_OPERATIONS=50",
		"SCIMGATE_LIMITS_MAX_VALUES=20",
		"SCIMGATE_GROUPS_PATCH_RESPONSE=200",
		"SCIMGATE_CONFIG=ignored-here",
		"OTHER=ignored",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "0.0.0.0:9000" || cfg.Server.RequestTimeout != 5*time.Second ||
		!reflect.DeepEqual(cfg.LDAP.URLs, []string{"ldap://a:389", "ldaps://b:636"}) ||
		cfg.LDAP.BindPasswordFile != pw || cfg.LDAP.MaxOpen != 4 || cfg.Log.Format != "console" ||
		cfg.Patch.MaxOperations != 50 || cfg.Limits.MaxValues != 20 || cfg.Users.PatchResponse != 204 || cfg.Groups.PatchResponse != 200 ||
		cfg.Users.BaseDN != "ou=people,dc=example,dc=org" {
		t.Errorf("config = %+v", cfg)
	}
	if cfg.Server.BasePath != "/scim/v2" || cfg.Server.MaxResults != 200 || cfg.Directory.Profile != "openldap" {
		t.Errorf("defaults lost: %+v", cfg)
	}
}

func TestLimitDefaults(t *testing.T) {
	cfg, err := Load(write(t, "c.yaml", minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Patch.MaxOperations != 1000 || cfg.Limits.MaxValues != 1000 {
		t.Errorf("patch %+v, limits %+v: want 1000 and 1000", cfg.Patch, cfg.Limits)
	}
	if cfg.Users.PatchResponse != 200 || cfg.Groups.PatchResponse != 204 {
		t.Errorf("users.patch_response %d, groups.patch_response %d: want 200 and 204", cfg.Users.PatchResponse, cfg.Groups.PatchResponse)
	}
}

func TestLoadFromEnvironmentAlone(t *testing.T) {
	cfg, err := Load("", []string{
		"SCIMGATE_LDAP_URLS=ldap://127.0.0.1:389",
		"SCIMGATE_USERS_BASE_DN=ou=people,dc=example,dc=org",
		"SCIMGATE_GROUPS_BASE_DN=ou=groups,dc=example,dc=org",
		"SCIMGATE_AUTH_MODE=bypass",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Users.BaseDN != "ou=people,dc=example,dc=org" {
		t.Errorf("users.base_dn = %q", cfg.Users.BaseDN)
	}
}

func TestLoadNamesTheWrongKey(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		want    []string
	}{
		{"misspelt key", minimal + "server:\n  lisen: x\n", nil, []string{"field lisen not found"}},
		{"unknown variable", minimal, []string{"SCIMGATE_LDAP_BIND_DNN=x"}, []string{"SCIMGATE_LDAP_BIND_DNN: no such setting"}},
		{"bad duration", minimal, []string{"SCIMGATE_LDAP_DIAL_TIMEOUT=5"}, []string{"SCIMGATE_LDAP_DIAL_TIMEOUT (ldap.dial_timeout): \"5\" is not a duration"}},
		{"bad number", minimal, []string{"SCIMGATE_LDAP_MAX_OPEN=many"}, []string{"ldap.max_open"}},
		{"many problems at once", "ldap:\n  urls: [http://x]\nlog:\n  level: loud\nauth:\n  mode: magic\nserver:\n  base_path: scim\n", nil, []string{
			"ldap.urls[0]", "users.base_dn: required", "groups.base_dn: required", "auth.mode: \"magic\"", "log.level", "server.base_path",
		}},
		{"default auth needs a choice", strings.Replace(minimal, "mode: bypass", "mode: oauth", 1), nil, []string{"auth.issuer: oauth mode needs the authorization server"}},
		{"oauth secrets", strings.Replace(minimal, "mode: bypass", "mode: oauth\n  issuer: https://as.example\n  introspection_auth: client_secret_post\n  jwt_algorithms: [RS256, none, HS256]", 1), nil,
			[]string{"auth.client_id: introspection_auth client_secret_post needs", "auth.client_secret: introspection_auth", "auth.jwt_algorithms: none would accept", "auth.jwt_algorithms: HS256 needs the shared key"}},
		{"oauth from the environment", minimal, []string{"SCIMGATE_AUTH_MODE=oauth", "SCIMGATE_AUTH_ISSUER=ftp://as", "SCIMGATE_AUTH_SCOPES_BULK=two words"}, []string{"auth.issuer: \"ftp://as\" is not an http(s) URL", "auth.scopes.bulk"}},
		{"granted scopes need an audience", strings.Replace(minimal, "mode: bypass", "mode: oauth\n  issuer: https://sts.windows.net/t/\n  granted_scopes: [x]", 1), nil, []string{"auth.granted_scopes: granting scopes"}},
		{"token mode without tokens", strings.Replace(minimal, "mode: bypass", "mode: token", 1), nil, []string{"auth.tokens: token mode needs at least one token"}},
		{"bad token hash", strings.Replace(minimal, "mode: bypass", "mode: token\n  tokens: [{name: okta, sha256: abc, scopes: [x]}]", 1), nil, []string{"auth.tokens[0].sha256"}},
		{"unknown profile", minimal + "directory:\n  profile: novell\n", nil, []string{"directory.profile"}},
		{"client addresses", minimal, []string{"SCIMGATE_SERVER_TRUSTED_PROXIES=10.0.0.0/8,proxy.example", "SCIMGATE_SERVER_CLIENT_IP_HEADER=X-Client"},
			[]string{"server.client_ip_header: \"X-Client\" is not one of", "server.trusted_proxies[1]: \"proxy.example\" is neither"}},
		{"authentication limits", minimal, []string{"SCIMGATE_AUTH_MAX_TOKEN_BYTES=100", "SCIMGATE_AUTH_FAILURE_BURST=-1"},
			[]string{"auth.max_token_bytes: 100 is too small", "auth.failure_rate: failure_rate and failure_burst must not be negative"}},
		{"password in clear to another host", minimal, []string{"SCIMGATE_LDAP_URLS=ldap://127.0.0.1:389,ldap://ldap.example.org"},
			[]string{"ldap.urls[1]: \"ldap://ldap.example.org\": the bind password would cross the network in clear"}},
		{"half a client certificate", minimal, []string{"SCIMGATE_LDAP_CLIENT_CERT_FILE=/etc/hostname"}, []string{"ldap.client_cert_file: set both"}},
		{"bad base dn", minimal, []string{"SCIMGATE_USERS_BASE_DN=not a dn"}, []string{"users.base_dn: \"not a dn\" is not a DN"}},
		{"missing password file", minimal, []string{"SCIMGATE_LDAP_BIND_PASSWORD=", "SCIMGATE_LDAP_BIND_PASSWORD_FILE=/nonexistent"}, []string{"ldap.bind_password_file: open /nonexistent"}},
		{"limits out of range", minimal, []string{"SCIMGATE_PATCH_MAX_OPERATIONS=0", "SCIMGATE_LIMITS_MAX_VALUES=-1"},
			[]string{"patch.max_operations: 0 is not between 1 and 100000", "limits.max_values: -1 is not between 1 and 1000000"}},
		{"patch response", minimal, []string{"SCIMGATE_USERS_PATCH_RESPONSE=201"}, []string{"users.patch_response: 201 is not 200 or 204"}},
		{"patch response not a number", minimal, []string{"SCIMGATE_GROUPS_PATCH_RESPONSE=none"}, []string{"SCIMGATE_GROUPS_PATCH_RESPONSE (groups.patch_response)"}},
		{"manager settings", minimal, []string{"SCIMGATE_USERS_MANAGER_UNRESOLVED=ignore", "SCIMGATE_USERS_MANAGER_RESOLVE=id,name[x"},
			[]string{"users.manager.unresolved: \"ignore\" is not keep, reject or drop", "users.manager.resolve: \"name[x\" is not a SCIM attribute"}},
		{"groups have no manager", minimal, []string{"SCIMGATE_GROUPS_MANAGER_UNRESOLVED=keep"}, []string{"SCIMGATE_GROUPS_MANAGER_UNRESOLVED: no such setting"}},
		{"groups have no user keys", minimal, []string{"SCIMGATE_GROUPS_PASSWORD_STRATEGY=none", "SCIMGATE_GROUPS_ACTIVE_BIT=2", "SCIMGATE_GROUPS_MEMBER_OF=memberOf"},
			[]string{"SCIMGATE_GROUPS_PASSWORD_STRATEGY: no such setting", "SCIMGATE_GROUPS_ACTIVE_BIT: no such setting", "SCIMGATE_GROUPS_MEMBER_OF: no such setting"}},
		{"users have no group keys", minimal, []string{"SCIMGATE_USERS_MEMBERS=member", "SCIMGATE_USERS_MEMBER_PLACEHOLDER=none", "SCIMGATE_USERS_MEMBER_VALUE=uid", "SCIMGATE_USERS_REMOVE_DELETED_MEMBERS=true"},
			[]string{"SCIMGATE_USERS_MEMBERS: no such setting", "SCIMGATE_USERS_MEMBER_PLACEHOLDER: no such setting", "SCIMGATE_USERS_MEMBER_VALUE: no such setting", "SCIMGATE_USERS_REMOVE_DELETED_MEMBERS: no such setting"}},
		{"password has no active keys", minimal, []string{"SCIMGATE_USERS_PASSWORD_BIT=2"}, []string{"SCIMGATE_USERS_PASSWORD_BIT: no such setting"}},
		{"groups have no member_of in the file", strings.Replace(minimal, "groups:\n", "groups:\n  member_of: memberOf\n", 1), nil, []string{"field member_of not found"}},
		{"groups have no active in the file", strings.Replace(minimal, "groups:\n", "groups:\n  active: {strategy: none}\n", 1), nil, []string{"field active not found"}},
		{"users have no members in the file", strings.Replace(minimal, "users:\n", "users:\n  member_placeholder: none\n", 1), nil, []string{"field member_placeholder not found"}},
		{"password has no lock_value in the file", strings.Replace(minimal, "users:\n", "users:\n  password: {strategy: extended, lock_value: x}\n", 1), nil, []string{"field lock_value not found"}},
		{"both password forms", minimal, []string{"SCIMGATE_LDAP_BIND_PASSWORD_FILE=/etc/hostname"}, []string{"ldap.bind_password_file: set either"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(write(t, "c.yaml", tt.file), tt.environ)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not mention %q", err, w)
				}
			}
		})
	}
}

func TestEveryKeyHasAnEnvironmentVariable(t *testing.T) {
	vars := map[string]string{}
	for _, kv := range EnvVars() {
		vars[kv[0]] = kv[1]
	}
	for name, key := range map[string]string{
		"SCIMGATE_SERVER_LISTEN":           "server.listen",
		"SCIMGATE_SERVER_BASE_PATH":        "server.base_path",
		"SCIMGATE_LDAP_URLS":               "ldap.urls",
		"SCIMGATE_LDAP_BIND_DN":            "ldap.bind_dn",
		"SCIMGATE_LDAP_BIND_PASSWORD":      "ldap.bind_password",
		"SCIMGATE_LDAP_BIND_PASSWORD_FILE": "ldap.bind_password_file",
		"SCIMGATE_USERS_BASE_DN":           "users.base_dn",
		"SCIMGATE_GROUPS_BASE_DN":          "groups.base_dn",
		"SCIMGATE_DIRECTORY_PROFILE":       "directory.profile",
		"SCIMGATE_AUTH_MODE":               "auth.mode",
		"SCIMGATE_AUTH_TOKENS_FILE":        "auth.tokens_file",
		"SCIMGATE_LOG_LEVEL":               "log.level",
	} {
		if vars[name] != key {
			t.Errorf("%s sets %q, want %q", name, vars[name], key)
		}
	}
	if _, ok := vars["SCIMGATE_AUTH_TOKENS"]; ok {
		t.Error("auth.tokens, a list of structures, has an environment variable")
	}
}

// The example in deploy/ documents every key: it must load, and must hold
// every key there is.
func TestExampleConfiguration(t *testing.T) {
	const example = "../../deploy/scimgate.example.yaml"
	pw := write(t, "pw", "secret")
	cfg, err := Load(example, []string{"SCIMGATE_LDAP_BIND_PASSWORD_FILE=" + pw})
	if err != nil {
		t.Fatalf("the example configuration does not load: %v", err)
	}
	if cfg.Auth.Mode != "oauth" || cfg.Auth.Issuer == "" || len(cfg.Auth.Tokens) != 1 {
		t.Errorf("auth = %+v", cfg.Auth)
	}
	text, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range EnvVars() {
		key := kv[1][strings.LastIndex(kv[1], ".")+1:]
		if !regexp.MustCompile(`\n\s+` + key + `:`).MatchString(string(text)) {
			t.Errorf("the example does not show %s", kv[1])
		}
	}
}
