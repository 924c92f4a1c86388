package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/test/directory"
	"github.com/scimgate/scimgate/test/ds389"
	"github.com/scimgate/scimgate/test/samba"
)

// The presets as a new user runs them: the built binary configured by
// deploy/examples/<directory>.yaml, pointed at a real directory by the
// environment (address, account, units; the token file instead of the
// example's OAuth server). `scimgate check` finds nothing wrong and names
// what the directory lacks; then a user and a group go through their life
// cycle. The deeper suites run in package gateway (directories_test.go).

// exampleDirectory is a real directory and the example configuration for
// it.
type exampleDirectory struct {
	name, example string
	// start returns the running directory and the URL the example's
	// transport reaches it at.
	start func(t *testing.T) (*directory.Info, string)
	// lacks are lines check prints of what the directory lacks;
	// inClear what it says without TLS ("": not tried).
	lacks   []string
	inClear string
	// limit puts back a search limit on the service account (nil: the
	// directory has none to lift); limited is what check then says.
	limit   func(t *testing.T, dir *directory.Info)
	limited string
}

var exampleDirectories = []exampleDirectory{
	{
		name: "389ds", example: "389ds.yaml",
		start: func(t *testing.T) (*directory.Info, string) {
			s := ds389.New(t, ds389.Options{ScimgateSchema: true})
			return s.Directory(), s.LDAPURL // the example: ldap:// with StartTLS
		},
		lacks: []string{"assertion: no", "permissive modify: no", "matched values: no", "content sync (change stream): yes",
			"the directory lacks the assertion control: If-Match is checked when the entry is read"},
		inClear: "389 Directory Server refuses the Password Modify operation in clear",
		limit: func(t *testing.T, dir *directory.Info) {
			if err := dir.ModifyLDIF(context.Background(), "dn: "+dir.ServiceDN+"\nchangetype: modify\ndelete: nsSizeLimit\n-\ndelete: nsIDListScanLimit\n"); err != nil {
				t.Fatal(err)
			}
		},
		limited: "389 Directory Server limits the bind DN's searches: set on cn=scimgate,dc=example,dc=org " +
			"nsSizeLimit: -1 (searches stop after 2,000 entries (400 tooMany)); " +
			"nsIDListScanLimit: 1000000 (a filter matching more than 4,000 entries in an index is run unindexed)",
	},
	{
		name: "activedirectory", example: "active-directory.yaml",
		start: func(t *testing.T) (*directory.Info, string) {
			s := samba.New(t, samba.Options{})
			return s.Directory(), s.URL // the example: ldaps://
		},
		lacks: []string{"assertion: no", "matched values: no", "password modify: no", "content sync (change stream): no",
			"DirSync (Active Directory's change stream): yes",
			"the directory lacks the assertion control: If-Match is checked when the entry is read",
			"Active Directory: permissive modify does not cover member values"},
	},
}

func TestExamplesOnRealDirectories(t *testing.T) {
	for _, d := range exampleDirectories {
		t.Run(d.name, func(t *testing.T) {
			dir, url := d.start(t)
			addr := freeAddr(t)
			env := exampleEnv(t, dir, url, addr)
			config := filepath.Join("..", "deploy", "examples", d.example)
			out, err := runScimgate(t, env, "check", "--config", config)
			if err != nil {
				t.Fatalf("check: %v\n%s", err, out)
			}
			t.Logf("check:\n%s", out)
			for _, want := range d.lacks {
				if !strings.Contains(out, want) {
					t.Errorf("check does not say %q:\n%s", want, out)
				}
			}
			if d.limited != "" && strings.Contains(out, d.limited[:40]) {
				t.Errorf("check reports limits the account does not have:\n%s", out)
			}
			if strings.Contains(out, "the directory streams no changes") {
				t.Errorf("check says there is no change stream:\n%s", out)
			}
			start(t, env, "serve", "--config", config)
			waitReady(t, "http://"+addr)
			lifeCycle(t, "http://"+addr+"/scim/v2", dir)
			if d.inClear != "" {
				out, _ := runScimgate(t, append(env, "SCIMGATE_LDAP_START_TLS=false"), "check", "--config", config)
				if !strings.Contains(out, d.inClear) {
					t.Errorf("check in clear does not say %q:\n%s", d.inClear, out)
				}
			}
			if d.limit == nil {
				return
			}
			d.limit(t, dir)
			if out, _ := runScimgate(t, env, "check", "--config", config); !strings.Contains(out, d.limited) {
				t.Errorf("check does not say %q:\n%s", d.limited, out)
			}
		})
	}
}

const exampleToken = "example-token"

// exampleEnv points an example configuration at dir, reached at url, and
// serves on addr with exampleToken.
func exampleEnv(t *testing.T, dir *directory.Info, url, addr string) []string {
	t.Helper()
	tmp := t.TempDir()
	pw, tokens := filepath.Join(tmp, "pw"), filepath.Join(tmp, "tokens.yaml")
	dn, password := dir.BindAccount()
	os.WriteFile(pw, []byte(password+"\n"), 0o600)
	os.WriteFile(tokens, []byte(fmt.Sprintf("- name: e2e\n  sha256: %s\n  scopes: [https://jans.io/scim/users.read, https://jans.io/scim/users.write, https://jans.io/scim/groups.read, https://jans.io/scim/groups.write]\n", sha256hex(exampleToken))), 0o600)
	return cleanEnv(
		"SCIMGATE_SERVER_LISTEN="+addr,
		"SCIMGATE_LDAP_URLS="+url,
		"SCIMGATE_LDAP_CA_FILE="+dir.CAFile,
		"SCIMGATE_LDAP_BIND_DN="+dn,
		"SCIMGATE_LDAP_BIND_PASSWORD_FILE="+pw,
		"SCIMGATE_USERS_BASE_DN="+dir.PeopleDN,
		"SCIMGATE_GROUPS_BASE_DN="+dir.GroupsDN,
		"SCIMGATE_AUTH_MODE=token",
		"SCIMGATE_AUTH_TOKENS_FILE="+tokens,
	)
}

// lifeCycle runs a user and a group through what an IdP does, checking
// each answer and the user's password against the directory.
func lifeCycle(t *testing.T, base string, dir *directory.Info) {
	t.Helper()
	status, h, u := call(t, "POST", base+"/Users", exampleToken, `{"userName":"ex-jane","name":{"givenName":"Jane","familyName":"Doe"},"password":"Ex4mple-Secret!","emails":[{"value":"jane@example.org","type":"work"}]}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, u)
	}
	id, etag := u["id"].(string), h.Get("Etag")
	status, _, list := call(t, "GET", base+"/Users?filter=userName%20eq%20%22EX-JANE%22", exampleToken, "")
	if status != 200 || list["totalResults"] != 1.0 {
		t.Errorf("filter: %d %v", status, list)
	}
	patch := func(op string, headers ...string) (int, http.Header, map[string]any) {
		return call(t, "PATCH", base+"/Users/"+id, exampleToken, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+op+`]}`, headers...)
	}
	status, h, u = patch(`{"op":"replace","path":"title","value":"Lead"}`, "If-Match", etag)
	if status != 200 || u["title"] != "Lead" || h.Get("Etag") == etag {
		t.Errorf("PATCH with If-Match: %d %v, ETag %q after %q", status, u, h.Get("Etag"), etag)
	}
	if status, _, _ := patch(`{"op":"replace","path":"title","value":"Stale"}`, "If-Match", etag); status != 412 {
		t.Errorf("PATCH with a stale If-Match: %d", status)
	}
	userDN := entryDN(t, dir, dir.PeopleDN, "(|(uid=ex-jane)(userPrincipalName=ex-jane))")
	if c, err := dir.DialAs(userDN, "Ex4mple-Secret!"); err != nil {
		t.Errorf("the password does not bind: %v", err)
	} else {
		c.Close()
	}
	if status, _, u := patch(`{"op":"replace","path":"active","value":false}`); status != 200 || u["active"] != false {
		t.Errorf("deactivate: %d %v", status, u)
	}
	status, _, g := call(t, "POST", base+"/Groups", exampleToken, `{"displayName":"ex-team","members":[{"value":"`+id+`"}]}`)
	if status != 201 {
		t.Fatalf("group: %d %v", status, g)
	}
	if status, _, got := call(t, "GET", base+"/Users/"+id+"?attributes=groups", exampleToken, ""); status != 200 || fmt.Sprint(got["groups"]) == "<nil>" {
		t.Errorf("the user's groups: %d %v", status, got)
	}
	for _, path := range []string{"/Groups/" + g["id"].(string), "/Users/" + id} {
		if status, _, _ := call(t, "DELETE", base+path, exampleToken, ""); status != 204 {
			t.Errorf("DELETE %s: %d", path, status)
		}
	}
}

// entryDN finds the one entry below base that filter matches.
func entryDN(t *testing.T, dir *directory.Info, base, filter string) string {
	t.Helper()
	c, err := dir.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, 0, 0, 0, false, filter, []string{"1.1"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("%s below %s: %v %v", filter, base, res, err)
	}
	return res.Entries[0].DN
}
