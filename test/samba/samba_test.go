package samba

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/internal/proc"
	"github.com/scimgate/scimgate/test/directory"
)

// bindAs dials s over LDAPS, verifying its certificate with CAFile
// for serverName, and binds as dn.
func bindAs(t *testing.T, s *Server, serverName, dn, password string) (*ldap.Conn, error) {
	t.Helper()
	cfg, err := s.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	cfg.ServerName = serverName
	c, err := ldap.DialURL(s.URL, ldap.DialWithTLSConfig(cfg))
	if err != nil {
		return nil, err
	}
	if err := c.Bind(dn, password); err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// rss is the resident memory of process pid, in MiB.
func rss(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return fmt.Sprintf("%d MiB", kb/1024)
		}
	}
	return "?"
}

// templateBuildTime is what the template's build took, as it recorded.
func templateBuildTime(t *testing.T) string {
	bin, tool, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := template(t.Context(), bin, tool)
	if err != nil {
		t.Fatal(err)
	}
	return proc.BuildTime(dir)
}

// TestServer: a server starts, on a loopback address of its own, with a
// certificate for that address and the DC's host name; the Administrator
// and the service account bind; the units exist; the root DSE lists the
// controls Samba 4.17 has, and no extended operation. Start and stop times
// and memory are logged.
func TestServer(t *testing.T) {
	t0 := time.Now()
	s := New(t, Options{})
	t.Logf("clone and start: %v, on %s (RSS %s; template built once in %s)", time.Since(t0), s.URL, rss(t, s.Pid()), templateBuildTime(t))
	for _, c := range []struct {
		name, serverName, dn, password string
		wantErr                        string
	}{
		{"admin, by address", s.Addr, s.RootDN, s.Password, ""},
		{"service account, by host name", HostName, s.ServiceDN, s.ServicePassword, ""},
		{"service account, wrong password", s.Addr, s.ServiceDN, "wrong", "Invalid Credentials"},
		{"certificate for another name", "localhost", s.ServiceDN, s.ServicePassword, "certificate is valid for"},
	} {
		_, err := bindAs(t, s, c.serverName, c.dn, c.password)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s: %v, want error %q", c.name, err, c.wantErr)
		}
	}
	if _, err := ldap.DialURL(s.URL, ldap.DialWithTLSConfig(&tls.Config{ServerName: s.Addr})); err == nil {
		t.Error("the certificate verified without the harness's CA")
	}
	c, err := bindAs(t, s, s.Addr, s.ServiceDN, s.ServicePassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, dn := range []string{s.PeopleDN, s.GroupsDN} {
		if _, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=organizationalUnit)", nil, nil)); err != nil {
			t.Errorf("unit %s: %v", dn, err)
		}
	}
	checkRootDSE(t, c)
	checkSchema(t, c)
	t0 = time.Now()
	s.Stop()
	t.Logf("stop: %v", time.Since(t0))
}

// samba417Controls are the controls Samba 4.17's root DSE lists, each once:
// paged results, server-side sort, VLV, DirSync, show deleted, permissive
// modify, ... (it lists some twice).
var samba417Controls = []string{
	"1.2.840.113556.1.4.1338", // verify name
	"1.2.840.113556.1.4.1339", // domain scope
	"1.2.840.113556.1.4.1340", // search options
	"1.2.840.113556.1.4.1341", // RODC DCPROMO
	"1.2.840.113556.1.4.1413", // permissive modify
	"1.2.840.113556.1.4.1504", // attribute scoped query
	"1.2.840.113556.1.4.2064", // show recycled
	"1.2.840.113556.1.4.319",  // paged results
	"1.2.840.113556.1.4.417",  // show deleted
	"1.2.840.113556.1.4.473",  // server-side sort
	"1.2.840.113556.1.4.528",  // notification
	"1.2.840.113556.1.4.529",  // extended DN
	"1.2.840.113556.1.4.801",  // SD flags
	"1.2.840.113556.1.4.805",  // tree delete
	"1.2.840.113556.1.4.841",  // DirSync
	"2.16.840.1.113730.3.4.9", // VLV
}

func checkRootDSE(t *testing.T, c *ldap.Conn) {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)",
		[]string{"supportedControl", "supportedExtension", "supportedCapabilities"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	e := res.Entries[0]
	controls := slices.Compact(slices.Sorted(slices.Values(e.GetAttributeValues("supportedControl"))))
	if !slices.Equal(controls, samba417Controls) {
		t.Errorf("supportedControl %q, want %q", controls, samba417Controls)
	}
	// No Password Modify, no WhoAmI: passwords go to unicodePwd.
	if ext := e.GetAttributeValues("supportedExtension"); len(ext) != 0 {
		t.Errorf("supportedExtension %q, want none", ext)
	}
	t.Logf("supportedCapabilities %q", e.GetAttributeValues("supportedCapabilities"))
}

// samba417Types are the subschema's definitions of attributes scimgate
// maps: as in AD, with no matching rule (no EQUALITY, ORDERING or SUBSTR:
// AD matches by the syntax alone), and mail single-valued.
var samba417Types = map[string]string{
	"userPrincipalName": "( 1.2.840.113556.1.4.656 NAME 'userPrincipalName' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' SINGLE-VALUE )",
	"sAMAccountName":    "( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' SINGLE-VALUE )",
	"mail":              "( 0.9.2342.19200300.100.1.3 NAME 'mail' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' SINGLE-VALUE )",
	"member":            "( 2.5.4.31 NAME 'member' SYNTAX '1.3.6.1.4.1.1466.115.121.1.12' )",
	"memberOf":          "( 1.2.840.113556.1.2.102 NAME 'memberOf' SYNTAX '1.3.6.1.4.1.1466.115.121.1.12' NO-USER-MODIFICATION )",
	"objectGUID":        "( 1.2.840.113556.1.4.2 NAME 'objectGUID' SYNTAX '1.3.6.1.4.1.1466.115.121.1.40' SINGLE-VALUE NO-USER-MODIFICATION )",
}

func checkSchema(t *testing.T, c *ldap.Conn) {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest("CN=Aggregate,CN=Schema,CN=Configuration,"+Suffix, ldap.ScopeBaseObject, 0, 0, 0, false,
		"(objectClass=*)", []string{"attributeTypes"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range res.Entries[0].GetAttributeValues("attributeTypes") {
		for name := range samba417Types {
			if strings.Contains(v, " NAME '"+name+"' ") {
				got[name] = v
			}
		}
	}
	if !maps.Equal(got, samba417Types) {
		t.Errorf("attributeTypes %q, want %q", got, samba417Types)
	}
}

// TestTwoServers: two servers run at once, each on its own address with
// its own data: Options.LDIF (a UserLDIF) added to one alone, whose user
// binds there with its password, and is unknown to the other. Both are
// directory.Servers.
func TestTwoServers(t *testing.T) {
	user := "CN=carol," + PeopleDN
	a := New(t, Options{LDIF: UserLDIF("carol", "Passw0rd-c")})
	b := New(t, Options{})
	if a.Addr == b.Addr {
		t.Fatalf("both on %s", a.Addr)
	}
	for _, c := range []struct {
		s    directory.Server
		want uint16
	}{{a, ldap.LDAPResultSuccess}, {b, ldap.LDAPResultInvalidCredentials}} {
		info := c.s.Directory()
		conn, err := info.Dial()
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if got := resultCode(conn.Bind(user, "Passw0rd-c")); got != c.want {
			t.Errorf("%s: bind as %s: %d, want %d", info.URL, user, got, c.want)
		}
	}
}

// TestSID: binary SIDs as AD writes them (MS-DTYP 2.4.2).
func TestSID(t *testing.T) {
	for _, c := range []struct {
		raw  []byte
		want string
	}{
		{[]byte{1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}, "S-1-5-18"},
		{[]byte{1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0x52, 0xb2, 0xdf, 0x7e, 0x9f, 0x73, 0x28, 0x6d, 0x87, 0xe2, 0xa8, 0x4c, 0x4e, 0x04, 0, 0},
			"S-1-5-21-2128589394-1831367583-1286136455-1102"},
	} {
		if got, err := sidString(c.raw); got != c.want || err != nil {
			t.Errorf("sidString(%x) = %q, %v; want %q", c.raw, got, err, c.want)
		}
	}
	if _, err := sidString([]byte{1, 2, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0}); err == nil {
		t.Error("a SID shorter than its count of sub-authorities was taken")
	}
}

// TestServiceAccountRights: the service account does what scimgate does in
// the units (users with passwords, enabled and disabled, renamed; groups
// and their members; deletes) and reads what scimgate reads, and nothing is
// delegated to it elsewhere (50 insufficientAccessRights). Steps run in
// order, each on what the previous left.
func TestServiceAccountRights(t *testing.T) {
	s := New(t, Options{})
	c, err := bindAs(t, s, s.Addr, s.ServiceDN, s.ServicePassword)
	if err != nil {
		t.Fatal(err)
	}
	user, renamed, group := "CN=alice,"+s.PeopleDN, "CN=alice2,"+s.PeopleDN, "CN=devs,"+s.GroupsDN
	add := func(dn string, attrs map[string]string) func() error {
		return func() error {
			r := ldap.NewAddRequest(dn, nil)
			for _, k := range slices.Sorted(maps.Keys(attrs)) {
				r.Attribute(k, []string{attrs[k]})
			}
			return c.Add(r)
		}
	}
	modify := func(dn, op, attr, value string) func() error {
		return func() error {
			r := ldap.NewModifyRequest(dn, nil)
			map[string]func(string, []string){"add": r.Add, "replace": r.Replace, "delete": r.Delete}[op](attr, []string{value})
			return c.Modify(r)
		}
	}
	userAttrs := map[string]string{"objectClass": "user", "sAMAccountName": "alice", "userPrincipalName": "alice@example.org",
		"unicodePwd": UnicodePwd("Passw0rd-one"), "userAccountControl": "512"}
	for _, step := range []struct {
		name string
		do   func() error
		want uint16 // result code
	}{
		{"create a user with a password", add(user, userAttrs), ldap.LDAPResultSuccess},
		{"the user binds", func() error { _, err := bindAs(t, s, s.Addr, user, "Passw0rd-one"); return err }, ldap.LDAPResultSuccess},
		{"disable", modify(user, "replace", "userAccountControl", "514"), ldap.LDAPResultSuccess},
		{"a disabled user does not bind", func() error { _, err := bindAs(t, s, s.Addr, user, "Passw0rd-one"); return err }, ldap.LDAPResultInvalidCredentials},
		{"enable", modify(user, "replace", "userAccountControl", "512"), ldap.LDAPResultSuccess},
		{"reset the password", modify(user, "replace", "unicodePwd", UnicodePwd("Passw0rd-two")), ldap.LDAPResultSuccess},
		{"rename", func() error { return c.ModifyDN(ldap.NewModifyDNRequest(user, "CN=alice2", true, "")) }, ldap.LDAPResultSuccess},
		{"the user binds with the new password", func() error { _, err := bindAs(t, s, s.Addr, renamed, "Passw0rd-two"); return err }, ldap.LDAPResultSuccess},
		{"not with the old one", func() error { _, err := bindAs(t, s, s.Addr, renamed, "Passw0rd-one"); return err }, ldap.LDAPResultInvalidCredentials},
		{"create a group", add(group, map[string]string{"objectClass": "group", "sAMAccountName": "devs"}), ldap.LDAPResultSuccess},
		{"add a member", modify(group, "add", "member", renamed), ldap.LDAPResultSuccess},
		// Samba answers 68 (entryAlreadyExists) where RFC 4511 says 20.
		{"add it again", modify(group, "add", "member", renamed), ldap.LDAPResultEntryAlreadyExists},
		{"read what scimgate reads", func() error { return checkReadable(c, renamed, group) }, ldap.LDAPResultSuccess},
		{"remove the member", modify(group, "delete", "member", renamed), ldap.LDAPResultSuccess},
		{"a user outside the units", add("CN=bob,CN=Users,"+Suffix, map[string]string{"objectClass": "user", "sAMAccountName": "bob"}),
			ldap.LDAPResultInsufficientAccessRights},
		{"a group among the users", add("CN=ops,"+s.PeopleDN, map[string]string{"objectClass": "group", "sAMAccountName": "ops"}),
			ldap.LDAPResultInsufficientAccessRights},
		{"the Administrator", modify(AdminDN, "replace", "description", "x"), ldap.LDAPResultInsufficientAccessRights},
		{"delete the user", func() error { return c.Del(ldap.NewDelRequest(renamed, nil)) }, ldap.LDAPResultSuccess},
		{"delete the group", func() error { return c.Del(ldap.NewDelRequest(group, nil)) }, ldap.LDAPResultSuccess},
	} {
		err := step.do()
		if got := resultCode(err); got != step.want {
			t.Fatalf("%s: %v (%d), want %d (%s)", step.name, err, got, step.want, ldap.LDAPResultCodeMap[step.want])
		}
	}
}

func resultCode(err error) uint16 {
	var e *ldap.Error
	switch {
	case err == nil:
		return ldap.LDAPResultSuccess
	case errors.As(err, &e):
		return e.ResultCode
	}
	return ldap.ErrorNetwork
}

// checkReadable reads, as c, the attributes scimgate reads of a user and a
// group of which it is a member.
func checkReadable(c *ldap.Conn, user, group string) error {
	for dn, want := range map[string]map[string]string{
		user:  {"memberOf": group, "userAccountControl": "512"},
		group: {"member": user},
	} {
		res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)",
			[]string{"objectGUID", "uSNChanged", "whenCreated", "whenChanged", "memberOf", "member", "userAccountControl"}, nil))
		if err != nil {
			return err
		}
		e := res.Entries[0]
		if n := len(e.GetRawAttributeValue("objectGUID")); n != 16 {
			return fmt.Errorf("%s: objectGUID of %d bytes", dn, n)
		}
		for _, a := range []string{"uSNChanged", "whenCreated", "whenChanged"} {
			if e.GetAttributeValue(a) == "" {
				return fmt.Errorf("%s: no %s", dn, a)
			}
		}
		for a, v := range want {
			if got := e.GetAttributeValues(a); !slices.Equal(got, []string{v}) {
				return fmt.Errorf("%s: %s %q, want %q", dn, a, got, v)
			}
		}
	}
	return nil
}

// TestNoSizeLimit: the service account's searches are not cut, so there is
// no limit to lift for it: Samba applies neither its query policy's
// MaxPageSize (lowered here to 10) to searches without paging, nor the
// size limit a request asks for (scimgate must not count on either).
func TestNoSizeLimit(t *testing.T) {
	var ldif strings.Builder
	for i := range 11 {
		fmt.Fprintf(&ldif, "dn: CN=contact%d,%s\nobjectClass: contact\n\n", i, PeopleDN)
	}
	s := New(t, Options{LDIF: ldif.String()})
	admin, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	policy := ldap.NewModifyRequest("CN=Default Query Policy,CN=Query-Policies,CN=Directory Service,CN=Windows NT,CN=Services,CN=Configuration,"+Suffix, nil)
	policy.Delete("lDAPAdminLimits", []string{"MaxPageSize=1000"})
	policy.Add("lDAPAdminLimits", []string{"MaxPageSize=10"})
	if err := admin.Modify(policy); err != nil {
		t.Fatal(err)
	}
	c, err := bindAs(t, s, s.Addr, s.ServiceDN, s.ServicePassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, sizeLimit := range []int{0, 5} {
		res, err := c.Search(ldap.NewSearchRequest(s.PeopleDN, ldap.ScopeSingleLevel, 0, sizeLimit, 0, false, "(objectClass=contact)", []string{"1.1"}, nil))
		if err != nil || len(res.Entries) != 11 {
			t.Errorf("size limit %d: %v, %d entries; want all 11", sizeLimit, err, len(res.Entries))
		}
	}
}
