package ds389

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/internal/proc"
	"github.com/scimgate/scimgate/test/directory"
)

// dialAs connects to s's ldaps:// URL, verified with its CAFile, bound as
// dn.
func dialAs(t *testing.T, s *Server, dn, password string) *ldap.Conn {
	t.Helper()
	cfg, err := s.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	c, err := ldap.DialURL(s.URL, ldap.DialWithTLSConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(dn, password); err != nil {
		t.Fatalf("bind as %s: %v", dn, err)
	}
	return c
}

func search(t *testing.T, c *ldap.Conn, base string, scope int, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	res, err := c.Search(ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	if err != nil {
		t.Fatalf("search %s %s: %v", base, filter, err)
	}
	return res.Entries
}

func dns(entries []*ldap.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, strings.ToLower(e.DN))
	}
	slices.Sort(out)
	return out
}

func TestStartBindsAndUnits(t *testing.T) {
	start := time.Now()
	s := New(t, Options{})
	t.Logf("389 started in %v (template built once in %s)", time.Since(start), templateBuildTime(t))
	// The plain listener and the TLS one, on loopback.
	if !strings.HasPrefix(s.URL, "ldaps://127.0.0.1:") || !strings.HasPrefix(s.LDAPURL, "ldap://127.0.0.1:") {
		t.Errorf("URL %s, LDAPURL %s", s.URL, s.LDAPURL)
	}
	admin := dialAs(t, s, s.RootDN, s.Password) // verified with CAFile
	got := dns(search(t, admin, s.Suffix, ldap.ScopeWholeSubtree, "(objectClass=*)"))
	want := []string{serviceDN, s.Suffix, s.GroupsDN, s.PeopleDN} // sorted
	if !slices.Equal(got, want) {
		t.Errorf("entries %v, want %v", got, want)
	}
	svc := dialAs(t, s, s.ServiceDN, s.ServicePassword)
	if got := dns(search(t, svc, s.Suffix, ldap.ScopeSingleLevel, "(objectClass=organizationalUnit)")); !slices.Equal(got, []string{s.GroupsDN, s.PeopleDN}) {
		t.Errorf("the service account sees the units %v", got)
	}
}

// templateBuildTime is what the template's build took, as it recorded.
func templateBuildTime(t *testing.T) string {
	p, err := findPrograms()
	if err != nil {
		t.Fatal(err)
	}
	root, err := templateRoot(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return proc.BuildTime(root)
}

// The controls and extended operations scimgate may use are advertised.
func TestRootDSE(t *testing.T) {
	s := New(t, Options{})
	c, err := ldap.DialURL(s.LDAPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := search(t, c, "", ldap.ScopeBaseObject, "(objectClass=*)", "supportedControl", "supportedExtension", "vendorVersion")[0]
	t.Logf("vendorVersion: %s", e.GetAttributeValue("vendorVersion"))
	for attr, want := range map[string][]string{
		"supportedControl": {
			"1.2.840.113556.1.4.319",   // paged results
			"1.2.840.113556.1.4.473",   // server-side sort
			"2.16.840.1.113730.3.4.9",  // VLV
			"1.3.6.1.4.1.4203.1.9.1.1", // content synchronisation (the plugin)
			"1.3.6.1.1.13.1",           // pre-read
			"1.3.6.1.1.13.2",           // post-read
		},
		"supportedExtension": {
			"1.3.6.1.4.1.4203.1.11.1", // Password Modify
			"1.3.6.1.4.1.4203.1.11.3", // Who am I?
			"1.3.6.1.4.1.1466.20037",  // StartTLS (TLS on)
		},
	} {
		got := e.GetAttributeValues(attr)
		t.Logf("%s: %v", attr, got)
		for _, oid := range want {
			if !slices.Contains(got, oid) {
				t.Errorf("%s lacks %s", attr, oid)
			}
		}
	}
}

// The service account does what scimgate does, with the plugins at work:
// entries added with the scimgate schema, memberOf kept, the operational
// attributes read, an account locked, a password set with Password Modify,
// a deleted member taken out of its group, every change in the retro
// changelog and in a content synchronisation.
func TestServiceAccountAndPlugins(t *testing.T) {
	s := New(t, Options{ScimgateSchema: true, LDIF: fmt.Sprintf(`dn: uid=ada,%s
objectClass: inetOrgPerson
uid: ada
cn: Ada
sn: Lovelace
`, "ou=people,"+suffix)})
	svc := dialAs(t, s, s.ServiceDN, s.ServicePassword)
	bob := "uid=bob," + s.PeopleDN
	add := ldap.NewAddRequest(bob, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson", "scimgateUser"})
	add.Attribute("uid", []string{"bob"})
	add.Attribute("cn", []string{"Bob"})
	add.Attribute("sn", []string{"B"})
	add.Attribute("scimExternalId", []string{"ext-1"})
	if err := svc.Add(add); err != nil {
		t.Fatal(err)
	}
	group := "cn=staff," + s.GroupsDN
	addGroup := ldap.NewAddRequest(group, nil)
	addGroup.Attribute("objectClass", []string{"groupOfNames"})
	addGroup.Attribute("cn", []string{"staff"})
	addGroup.Attribute("member", []string{bob, "uid=ada," + s.PeopleDN})
	if err := svc.Add(addGroup); err != nil {
		t.Fatal(err)
	}
	lock := ldap.NewModifyRequest(bob, nil)
	lock.Replace("nsAccountLock", []string{"true"})
	if err := svc.Modify(lock); err != nil {
		t.Fatal(err)
	}
	checkOperational(t, svc, bob, group)
	checkPasswordModify(t, s, svc)
	checkRefint(t, svc, bob, group)
	checkChangelog(t, s)
	checkContentSync(t, svc, s.PeopleDN)
}

// checkOperational reads, as the service account, what scimgate's 389ds
// profile reads.
func checkOperational(t *testing.T, svc *ldap.Conn, user, group string) {
	t.Helper()
	attrs := strings.Split(strings.ReplaceAll(serviceAttributes, " ", ""), "||")
	e := search(t, svc, user, ldap.ScopeBaseObject, "(objectClass=*)", append(attrs, "objectClass", "scimExternalId")...)[0]
	for _, a := range attrs {
		if len(e.GetAttributeValues(a)) == 0 {
			t.Errorf("%s: no %s for the service account", user, a)
		}
	}
	if got := e.GetAttributeValues("memberOf"); !slices.Equal(got, []string{group}) {
		t.Errorf("memberOf %v, want [%s]", got, group)
	}
	if !slices.ContainsFunc(e.GetAttributeValues("objectClass"), func(v string) bool { return strings.EqualFold(v, "nsMemberOf") }) {
		t.Errorf("objectClass %v: memberOfAutoAddOC did not add nsMemberOf", e.GetAttributeValues("objectClass"))
	}
	if e.GetAttributeValue("scimExternalId") != "ext-1" || e.GetAttributeValue("nsAccountLock") != "true" {
		t.Errorf("scimExternalId %q, nsAccountLock %q", e.GetAttributeValue("scimExternalId"), e.GetAttributeValue("nsAccountLock"))
	}
}

// checkPasswordModify sets ada's password as the service account, over
// TLS, and binds with it.
func checkPasswordModify(t *testing.T, s *Server, svc *ldap.Conn) {
	t.Helper()
	ada := "uid=ada," + s.PeopleDN
	if _, err := svc.PasswordModify(ldap.NewPasswordModifyRequest(ada, "", "ada-Secret-1")); err != nil {
		t.Fatalf("Password Modify: %v", err)
	}
	dialAs(t, s, ada, "ada-Secret-1")
}

// checkRefint deletes user and finds it gone from group.
func checkRefint(t *testing.T, svc *ldap.Conn, user, group string) {
	t.Helper()
	if err := svc.Del(ldap.NewDelRequest(user, nil)); err != nil {
		t.Fatal(err)
	}
	got := search(t, svc, group, ldap.ScopeBaseObject, "(objectClass=*)", "member")[0].GetAttributeValues("member")
	if want := []string{"uid=ada,ou=people," + suffix}; !slices.Equal(got, want) {
		t.Errorf("members after deleting %s: %v, want %v", user, got, want)
	}
}

// checkChangelog finds the writes of the test in cn=changelog, each with
// the nsUniqueId of its target.
func checkChangelog(t *testing.T, s *Server) {
	t.Helper()
	admin := dialAs(t, s, s.RootDN, s.Password)
	var got []string
	for _, e := range search(t, admin, "cn=changelog", ldap.ScopeSingleLevel, "(targetDN=*)", "targetDN", "changeType", "targetUniqueId") {
		if e.GetAttributeValue("targetUniqueId") == "" {
			t.Errorf("change %s has no targetUniqueId", e.DN)
		}
		got = append(got, e.GetAttributeValue("changeType")+" "+strings.ToLower(e.GetAttributeValue("targetDN")))
	}
	slices.Sort(got)
	t.Logf("changelog: %v", got)
	want := []string{"add cn=staff,ou=groups,dc=example,dc=org", "add uid=ada,ou=people,dc=example,dc=org",
		"add uid=bob,ou=people,dc=example,dc=org", "delete uid=bob,ou=people,dc=example,dc=org"}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("changelog lacks %q", w)
		}
	}
}

// checkContentSync reads base with an RFC 4533 refreshOnly search.
func checkContentSync(t *testing.T, c *ldap.Conn, base string) {
	t.Helper()
	req := ldap.NewSearchRequest(base, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)",
		[]string{"uid"}, []ldap.Control{ldap.NewControlSyncRequest(ldap.SyncRequestModeRefreshOnly, nil, false)})
	res, err := c.Search(req)
	if err != nil {
		t.Fatalf("content sync: %v", err)
	}
	if got := dns(res.Entries); !slices.Equal(got, []string{"uid=ada," + strings.ToLower(base)}) {
		t.Errorf("content sync entries %v", got)
	}
	if ldap.FindControl(res.Controls, ldap.ControlTypeSyncDone) == nil {
		t.Errorf("no sync done control (cookie) in %v", res.Controls)
	}
}

// The service account's searches pass 389's limits, which stop another
// account: here the server-wide size limit is lowered to 3 for a quick test.
func TestServiceAccountUnlimited(t *testing.T) {
	ldif := "dn: cn=reader," + suffix + "\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\ncn: reader\nuserPassword: reader-secret\n"
	var want []string
	for i := range 5 {
		dn := fmt.Sprintf("uid=u%d,ou=people,%s", i, suffix)
		want = append(want, dn)
		ldif += fmt.Sprintf("\ndn: %s\nobjectClass: inetOrgPerson\nuid: u%d\ncn: u\nsn: u\n", dn, i)
	}
	s := New(t, Options{LDIF: ldif})
	err := s.ModifyLDIF(context.Background(), `dn: cn=config
changetype: modify
replace: nsslapd-sizelimit
nsslapd-sizelimit: 3

dn: `+suffix+`
changetype: modify
add: aci
aci: (targetattr = "*")(version 3.0; acl "reader"; allow (read, search) userdn = "ldap:///cn=reader,`+suffix+`";)
`)
	if err != nil {
		t.Fatal(err)
	}
	reader := dialAs(t, s, "cn=reader,"+suffix, "reader-secret")
	_, err = reader.Search(ldap.NewSearchRequest(s.PeopleDN, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false, "(uid=*)", nil, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("another account's search: %v, want size limit exceeded", err)
	}
	svc := dialAs(t, s, s.ServiceDN, s.ServicePassword)
	if got := dns(search(t, svc, s.PeopleDN, ldap.ScopeSingleLevel, "(uid=*)")); !slices.Equal(got, want) {
		t.Errorf("the service account found %v, want %v", got, want)
	}
	admin := dialAs(t, s, s.RootDN, s.Password)
	e := search(t, admin, s.ServiceDN, ldap.ScopeBaseObject, "(objectClass=*)", "nsSizeLimit", "nsLookThroughLimit", "nsPagedSizeLimit", "nsIDListScanLimit")[0]
	for attr, v := range map[string]string{"nsSizeLimit": "-1", "nsLookThroughLimit": "-1", "nsPagedSizeLimit": "-1", "nsIDListScanLimit": "1000000"} {
		if got := e.GetAttributeValues(attr); !slices.Equal(got, []string{v}) {
			t.Errorf("%s = %v, want %s", attr, got, v)
		}
	}
}

// Two servers run at once, each with its own data; the start of each is
// measured.
func TestTwoAtOnce(t *testing.T) {
	var servers [2]*Server
	var errs [2]error
	var took [2]time.Duration
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() {
			start := time.Now()
			ldif := fmt.Sprintf("dn: uid=only%d,ou=people,%s\nobjectClass: inetOrgPerson\nuid: only%d\ncn: o\nsn: o\n", i, suffix, i)
			servers[i], errs[i] = Start(t.Context(), Options{LDIF: ldif})
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i, s := range servers {
		directory.CheckStarted(t, errs[i], ErrNotInstalled, "389 Directory Server")
		t.Cleanup(func() { s.Stop() })
	}
	t.Logf("two servers started at once in %v and %v", took[0], took[1])
	if servers[0].URL == servers[1].URL || servers[0].Dir == servers[1].Dir {
		t.Fatalf("both on %s in %s", servers[0].URL, servers[0].Dir)
	}
	for i, s := range servers {
		c := dialAs(t, s, s.RootDN, s.Password)
		want := []string{fmt.Sprintf("uid=only%d,ou=people,%s", i, suffix)}
		if got := dns(search(t, c, s.PeopleDN, ldap.ScopeSingleLevel, "(uid=*)")); !slices.Equal(got, want) {
			t.Errorf("server %d holds %v, want %v", i, got, want)
		}
	}
}
