package gateway

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
	"github.com/scimgate/scimgate/test/slapd"
)

// adStandIns holds what Debian's msuser schema lacks of Active Directory's
// (OIDs from the documentation arc of RFC 5612): securityPrincipal, AD's
// system auxiliary class holding sAMAccountName, and the attributes that
// AD's organizationalPerson adds to RFC 4519's.
const adStandIns = `objectclass ( 1.3.6.1.4.1.32473.1.1 NAME 'securityPrincipal' SUP top AUXILIARY MAY ( sAMAccountName ) )
objectclass ( 1.3.6.1.4.1.32473.1.2 NAME 'adOrganizationalPerson' SUP top AUXILIARY MAY ( company $ department $ division $ otherMailbox ) )
`

// The activedirectory profile, over slapd with Active Directory's user
// schema (Debian's msuser). What slapd cannot play is overridden: it makes
// no objectGUID or uSNChanged (so entryUUID and entryCSN stand in), and
// the attributes AD generates for every object are given as constants.
func TestActiveDirectoryProfile(t *testing.T) {
	u := newADEnv(t)
	dir := u.dir

	id, r := u.create(`{"userName":"bjensen@example.com","name":{"givenName":"Barbara","familyName":"Jensen"},"displayName":"Babs Jensen",
		"title":"Tour Guide","userType":"Contractor","password":"t1meMa$heen","emails":[{"value":"bjensen@example.com","type":"work"},{"value":"b@other.org","type":"other"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Tours","organization":"Universal","division":"Parks"}}`)
	e := u.entry(id)
	if e == nil || e.DN != "cn=bjensen@example.com,"+dir.PeopleDN {
		t.Fatalf("entry %v", e)
	}
	for attr, want := range map[string][]string{
		"userPrincipalName": {"bjensen@example.com"}, "sAMAccountName": {"bjensen"},
		"userAccountControl": {"512"}, "givenName": {"Barbara"}, "sn": {"Jensen"}, "displayName": {"Babs Jensen"},
		"title": {"Tour Guide"}, "employeeType": {"Contractor"}, "mail": {"bjensen@example.com"}, "otherMailbox": {"b@other.org"},
		"department": {"Tours"}, "company": {"Universal"}, "division": {"Parks"}, "instanceType": {"4"},
	} {
		wantAttr(t, e, attr, want...)
	}
	classes := e.GetAttributeValues("objectClass")
	slices.Sort(classes)
	if !slices.Equal(classes, []string{"adOrganizationalPerson", "organizationalPerson", "person", "securityPrincipal", "top", "user"}) {
		t.Errorf("objectClass = %v", classes)
	}
	// unicodePwd is the password in double quotes, UTF-16LE (slapd keeps
	// what it is given; AD would hash it).
	pw := utf16.Encode([]rune(`"t1meMa$heen"`))
	want := make([]byte, 2*len(pw))
	for i, c := range pw {
		want[2*i], want[2*i+1] = byte(c), byte(c>>8)
	}
	if got := e.GetRawAttributeValue("unicodePwd"); string(got) != string(want) {
		t.Errorf("unicodePwd = %q, want %q", got, want)
	}
	if _, ok := r.body["password"]; ok {
		t.Error("the password is returned")
	}

	// active is bit 0x2 of userAccountControl; other bits are kept.
	patch := func(ops string) response {
		return u.send("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":`+ops+`}`)
	}
	if r := patch(`[{"op":"Replace","path":"active","value":"False"}]`); r.status != 200 || r.body["active"] != false {
		t.Fatalf("deactivate: %s", r.raw)
	}
	wantAttr(t, u.entry(id), "userAccountControl", "514")
	if r := u.send("GET", "/Users?filter="+urlQuery(`active eq false`), ""); r.body["totalResults"] != 1.0 {
		t.Errorf("active eq false, through the bitwise-AND matching rule: %s", r.raw)
	}
	if r := patch(`[{"op":"Replace","path":"active","value":true}]`); r.status != 200 {
		t.Fatalf("activate: %s", r.raw)
	}
	wantAttr(t, u.entry(id), "userAccountControl", "512")

	// Renaming the user moves the RDN and the derived logon name.
	if r := patch(`[{"op":"replace","path":"userName","value":"barbara@example.com"}]`); r.status != 200 {
		t.Fatalf("rename: %s", r.raw)
	}
	e = u.entry(id)
	if e.DN != "cn=barbara@example.com,"+dir.PeopleDN {
		t.Errorf("DN = %s", e.DN)
	}
	wantAttr(t, e, "sAMAccountName", "barbara")
	wantAttr(t, e, "userPrincipalName", "barbara@example.com")
}

// The 389ds profile's ids, versions and strategies are 389's own
// (nsUniqueId, modifyTimestamp, nsAccountLock): they are checked here; its
// mapping runs on slapd stand-ins in TestRoundTrip (new389Env).
func Test389Profile(t *testing.T) {
	p, err := schema.Preset("389ds")
	if err != nil {
		t.Fatal(err)
	}
	u := p.Users
	if u.ID != "nsUniqueId" || u.Active == nil || u.Active.Attribute != "nsAccountLock" || !u.Active.Invert ||
		u.Password == nil || u.Password.Kind != schema.PasswordExtended || p.DNAttribute != "entrydn" || u.MemberOf != "memberOf" {
		t.Errorf("389ds users = %+v", u)
	}
	core, _ := u.Advertised()
	if _, ok := core.Attribute("active"); !ok {
		t.Error("389ds does not advertise active")
	}
	if g := p.Groups; g.ID != "nsUniqueId" || g.Members != "member" {
		t.Errorf("389ds groups = %+v", g)
	}
}

const gluuURN = "urn:ietf:params:scim:schemas:extension:gluu:2.0:User"

// A configuration can declare an extension, as Janssen does with its gluu
// extension, and change strategies: here active as a boolean that says
// "disabled" (389's nsAccountLock logic, on scimActive), and groups found by
// searching the groups, where the configured memberOf attribute is absent.
// The extension's required attribute is required while the extension is
// there: named when missing, removed with the whole extension only.
func TestConfiguredMapping(t *testing.T) {
	dir := slapd.New(t, slapd.Options{ScimgateSchema: true})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	hs := newGateway(t, dir, zap.NewNop(), ldapstore.Options{Users: ldapstore.UsersConfig{UserMappingConfig: schema.UserMappingConfig{
		MemberOf: "isMemberOf",
		Active:   schema.ActiveConfig{Strategy: "boolean", Attribute: "scimActive", Invert: true},
		MappingConfig: schema.MappingConfig{Extensions: []schema.ExtensionConfig{{URN: gluuURN, Name: "GluuUser", Attributes: []schema.ExtensionAttributeConfig{
			{Name: "favoriteColor", LDAP: "employeeType", Required: true},
			{Name: "roomNumber", Type: "integer", LDAP: "roomNumber"},
		}}}},
	}}})
	u := &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/scim/v2"}

	sch := u.send("GET", "/Schemas/"+gluuURN, "")
	if sch.status != 200 || len(sch.body["attributes"].([]any)) != 2 {
		t.Fatalf("extension schema: %s", sch.raw)
	}
	rt := u.send("GET", "/ResourceTypes/User", "")
	if !strings.Contains(rt.raw, gluuURN) {
		t.Errorf("the User resource type does not list the extension: %s", rt.raw)
	}
	id, r := u.create(`{"userName":"ext","active":false,"` + gluuURN + `":{"favoriteColor":"green","roomNumber":101}}`)
	e := u.entry(id)
	wantAttr(t, e, "employeeType", "green")
	wantAttr(t, e, "roomNumber", "101")
	wantAttr(t, e, "scimActive", "TRUE")
	if ext := r.body[gluuURN].(map[string]any); ext["roomNumber"] != 101.0 || r.body["active"] != false {
		t.Errorf("read back: %s", r.raw)
	}
	p := u.send("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","path":"`+gluuURN+`:favoriteColor","value":"blue"},{"op":"replace","path":"active","value":true}]}`)
	if p.status != 200 {
		t.Fatalf("PATCH: %s", p.raw)
	}
	e = u.entry(id)
	wantAttr(t, e, "employeeType", "blue")
	wantAttr(t, e, "scimActive") // absent: active
	if r := u.send("GET", "/Users?filter="+urlQuery(gluuURN+`:favoriteColor eq "blue" and active eq true`), ""); r.body["totalResults"] != 1.0 {
		t.Errorf("filter on the extension: %s", r.raw)
	}
	// groups, found by searching the groups for the user.
	ada := u.send("GET", "/Users/"+u.idOf("alovelace"), "")
	if groups, _ := ada.body["groups"].([]any); len(groups) != 2 {
		t.Errorf("groups by search = %v", ada.body["groups"])
	}

	u.refuseAll(t, []refusal{
		{"create without the required attribute", "POST", "/Users", `{"userName":"ext2","` + gluuURN + `":{"roomNumber":102}}`, 400, "invalidValue",
			gluuURN + ":favoriteColor is required."},
		{"remove the required attribute alone", "PATCH", "/Users/" + id, patchBody(`{"op":"remove","path":"` + gluuURN + `:favoriteColor"}`), 400, "mutability",
			gluuURN + ":favoriteColor is required while the extension holds other attributes"},
	})
	if r := u.send("PATCH", "/Users/"+id, patchBody(`{"op":"remove","path":"`+gluuURN+`"}`)); r.status != 200 || r.body[gluuURN] != nil {
		t.Errorf("remove the whole extension: %d %s", r.status, r.raw)
	}
	e = u.entry(id)
	wantAttr(t, e, "employeeType")
	wantAttr(t, e, "roomNumber")
	if _, r := u.create(`{"userName":"ext3"}`); r.body[gluuURN] != nil {
		t.Errorf("created without the extension: %s", r.raw)
	}
}

// ds389StandIns holds what slapd lacks of 389's schema for the 389ds
// profile: nsAccountLock (389's OID and syntax; 389 allows it on any
// entry, slapd through this auxiliary class, from RFC 5612's documentation
// arc).
const ds389StandIns = `attributetype ( 2.16.840.1.113730.3.1.610 NAME 'nsAccountLock' SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.32473.1.3 NAME 'nsAccountLockStandIn' SUP top AUXILIARY MAY ( nsAccountLock ) )
`

// new389Env serves the 389ds profile over slapd with scimgate's schema and
// ds389StandIns. What slapd cannot play is overridden: entryUUID stands in
// for nsUniqueId, entryDN for entrydn, and an empty groupOfNames keeps a
// placeholder member as on OpenLDAP (389 lets the group be empty).
func new389Env(t *testing.T) *userEnv {
	t.Helper()
	standIns := filepath.Join(t.TempDir(), "ds389.schema")
	if err := os.WriteFile(standIns, []byte(ds389StandIns), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := slapd.New(t, slapd.Options{ScimgateSchema: true, Schemas: []string{standIns}})
	profile, err := schema.Preset("389ds")
	if err != nil {
		t.Fatal(err)
	}
	profile.DNAttribute = "entryDN"
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{Profile: profile,
		Users: ldapstore.UsersConfig{UserMappingConfig: schema.UserMappingConfig{MappingConfig: schema.MappingConfig{IDAttribute: "entryUUID",
			AuxiliaryClasses: []string{"scimgateUser", "nsAccountLockStandIn"}}}},
		Groups: ldapstore.GroupsConfig{GroupMappingConfig: schema.GroupMappingConfig{MappingConfig: schema.MappingConfig{IDAttribute: "entryUUID"},
			MemberPlaceholder: schema.DefaultMemberPlaceholder}},
	})
	return &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/scim/v2"}
}

// newADEnv serves the activedirectory profile over slapd with Active
// Directory's user schema (Debian's msuser) and adStandIns; what slapd
// cannot play is overridden: it makes no objectGUID or uSNChanged (so
// entryUUID and entryCSN stand in), and the attributes AD generates for
// every object are given as constants.
func newADEnv(t *testing.T) *userEnv {
	t.Helper()
	spFile := filepath.Join(t.TempDir(), "sp.schema")
	if err := os.WriteFile(spFile, []byte(adStandIns), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := slapd.New(t, slapd.Options{Schemas: []string{"msuser", spFile}})
	profile, err := schema.Preset("activedirectory")
	if err != nil {
		t.Fatal(err)
	}
	generated := map[string][]string{
		"instanceType": {"4"}, "nTSecurityDescriptor": {"\x01\x00\x04\x80"},
		"objectCategory": {"CN=Person,CN=Schema,CN=Configuration," + dir.Suffix},
	}
	groupGenerated := maps.Clone(generated)
	groupGenerated["objectCategory"] = []string{"CN=Group,CN=Schema,CN=Configuration," + dir.Suffix}
	groupGenerated["groupType"] = []string{"-2147483646"} // a global security group
	// slapd names an entry's DN entryDN; AD distinguishedName.
	profile.DNAttribute = "entryDN"
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{Profile: profile,
		Users: ldapstore.UsersConfig{UserMappingConfig: schema.UserMappingConfig{MappingConfig: schema.MappingConfig{
			IDAttribute: "entryUUID", VersionAttribute: "entryCSN",
			AuxiliaryClasses: []string{"securityPrincipal", "adOrganizationalPerson"}, CreateAttributes: generated,
			// slapd's userCertificate takes values with ;binary, AD's as they are.
			Attributes: []schema.AttributeConfig{{SCIM: "x509Certificates.value", LDAP: "userCertificate;binary", Codec: "binary"}},
		}}},
		Groups: ldapstore.GroupsConfig{GroupMappingConfig: schema.GroupMappingConfig{MappingConfig: schema.MappingConfig{IDAttribute: "entryUUID", VersionAttribute: "entryCSN",
			CreateAttributes: groupGenerated}}},
	})
	return &userEnv{t: t, dir: dir.Directory(), base: hs.URL + "/scim/v2"}
}
