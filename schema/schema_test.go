package schema

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want Path
		bad  bool
	}{
		{in: "userName", want: Path{Attr: "userName"}},
		{in: "name.givenName", want: Path{Attr: "name", Sub: "givenName"}},
		{in: `emails[type eq "work"].value`, want: Path{Attr: "emails", Type: "work", Sub: "value"}},
		{in: EnterpriseUserURN + ":department", want: Path{URN: EnterpriseUserURN, Attr: "department"}},
		{in: EnterpriseUserURN + ":manager.value", want: Path{URN: EnterpriseUserURN, Attr: "manager", Sub: "value"}},
		{in: "", bad: true},
		{in: "emails[value eq \"x\"].value", bad: true},
		{in: "emails[type eq \"work\"", bad: true},
		{in: "a.b.c", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePath(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParsePath(%q) = %+v, want error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePath(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if back, _ := ParsePath(got.String()); back != got {
				t.Errorf("String() = %q does not parse back to %+v", got.String(), got)
			}
		})
	}
}

func TestPresetsNameRealAttributes(t *testing.T) {
	for _, name := range Profiles() {
		p, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []Resource{p.Users, p.Groups} {
			if _, _, err := r.RDNAttribute(); err != nil {
				t.Errorf("%s %s: %v", name, r.Schema.Name, err)
			}
			schemas := map[string]Schema{"": r.Schema}
			for _, e := range r.Extensions {
				schemas[e.ID] = e
			}
			seen := map[string]string{}
			for _, m := range r.Attributes {
				if other, dup := seen[strings.ToLower(m.LDAP)]; dup {
					t.Errorf("%s: %s and %s both map to %s", name, other, m.SCIM, m.LDAP)
				}
				seen[strings.ToLower(m.LDAP)] = m.SCIM.String()
				if m.SCIM == (Path{Attr: "externalId"}) {
					continue // a common attribute of every resource (RFC 7643 3.1)
				}
				s, ok := schemas[m.SCIM.URN]
				if !ok {
					t.Errorf("%s: %s: unknown schema", name, m.SCIM)
					continue
				}
				a, ok := s.Attribute(m.SCIM.Attr)
				if !ok {
					t.Errorf("%s: %s: no such attribute", name, m.SCIM)
					continue
				}
				if m.SCIM.Sub != "" {
					if _, ok := a.SubAttribute(m.SCIM.Sub); !ok {
						t.Errorf("%s: %s: no such sub-attribute", name, m.SCIM)
					}
				}
			}
		}
	}
	if _, err := Preset("nope"); err == nil {
		t.Error("Preset(nope) succeeded")
	}
}

func TestAdvertisedShowsOnlyWhatTheDirectoryStores(t *testing.T) {
	p, _ := Preset("openldap")
	// A directory without scimgate's auxiliary schema and without ppolicy.
	users, dropped := p.Users.Filter(func(a string) bool {
		return !strings.HasPrefix(a, "scim") && a != "pwdAccountLockedTime"
	})
	for _, d := range []string{"nickName → scimNickName", "active → pwdAccountLockedTime", `emails[type eq "home"].value → scimHomeEmail`} {
		if !slices.Contains(dropped, d) {
			t.Errorf("dropped = %v, lacks %q", dropped, d)
		}
	}
	exact := true
	for i, m := range users.Attributes {
		if m.LDAP == "mail" {
			users.Attributes[i].CaseExact = &exact // as a directory might say
		}
		if m.LDAP == "employeeNumber" {
			users.Attributes[i].ReadOnly = true
		}
	}
	core, ext := users.Advertised()

	var names []string
	for _, a := range core.Attributes {
		names = append(names, a.Name)
	}
	want := []string{"userName", "name", "displayName", "title", "preferredLanguage", "password", "emails", "phoneNumbers", "addresses", "groups", "x509Certificates"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("advertised User attributes = %v, want %v", names, want)
	}
	name, _ := core.Attribute("name")
	if got := len(name.SubAttributes); got != 3 {
		t.Errorf("name has %d sub-attributes, want 3 (formatted, familyName, givenName)", got)
	}
	emails, _ := core.Attribute("emails")
	var subs []string
	for _, sa := range emails.SubAttributes {
		subs = append(subs, sa.Name)
	}
	if !reflect.DeepEqual(subs, []string{"value", "type", "primary"}) {
		t.Errorf("emails sub-attributes = %v", subs)
	}
	if typ, _ := emails.SubAttribute("type"); !reflect.DeepEqual(typ.CanonicalValues, []string{"work"}) {
		t.Errorf("emails.type canonical values = %v, want only the stored type", typ.CanonicalValues)
	}
	if v, _ := emails.SubAttribute("value"); !v.CaseExact {
		t.Error("emails.value does not take caseExact from the directory")
	}
	if len(ext) != 1 || ext[0].ID != EnterpriseUserURN {
		t.Fatalf("extensions = %v", ext)
	}
	var extNames []string
	for _, a := range ext[0].Attributes {
		extNames = append(extNames, a.Name)
	}
	if !reflect.DeepEqual(extNames, []string{"employeeNumber", "organization", "department", "manager"}) {
		t.Errorf("enterprise attributes = %v", extNames)
	}
	if en, _ := ext[0].Attribute("employeeNumber"); en.Mutability != ReadOnly {
		t.Errorf("employeeNumber mutability %s, want readOnly as the directory says", en.Mutability)
	}
	mgr, _ := ext[0].Attribute("manager")
	var mgrSubs []string // value; $ref and displayName read from the manager, read-only
	for _, sa := range mgr.SubAttributes {
		mgrSubs = append(mgrSubs, sa.Name+":"+string(sa.Mutability))
	}
	if !reflect.DeepEqual(mgrSubs, []string{"value:readWrite", "$ref:readOnly", "displayName:readOnly"}) {
		t.Errorf("manager sub-attributes = %v", mgrSubs)
	}

	g, _ := p.Groups.Advertised()
	if _, ok := g.Attribute("members"); !ok {
		t.Error("Group schema does not advertise members")
	}
	// The complete schema is untouched.
	if len(User().Attributes) != 21 {
		t.Errorf("User() has %d attributes, want the 21 of RFC 7643", len(User().Attributes))
	}
}

func TestSAMAccountName(t *testing.T) {
	long := strings.Repeat("Engineering ", 6) // 72 characters
	tests := []struct {
		t       Transform
		in, out string
	}{
		{SAMAccountName, "bjensen@example.com", "bjensen"},
		{SAMAccountName, "a/b\\c[d]e:f;g|h=i,j+k*l?m<n>o\"p", "a_b_c_d_e_f_g_h_i_j_"},
		{SAMAccountName, "averyveryverylongusername@x", "averyveryverylonguse"},
		{SAMAccountName, "plain", "plain"},
		{GroupSAMAccountName, "Sales EMEA", "Sales EMEA"},
		{GroupSAMAccountName, "R&D: a/b", "R&D_ a_b"},
		{GroupSAMAccountName, "ops@hq", "ops@hq"},
		{GroupSAMAccountName, long, long[:64]},
	}
	for _, tt := range tests {
		if got := tt.t.Apply(tt.in); got != tt.out {
			t.Errorf("%s(%q) = %q, want %q", tt.t, tt.in, got, tt.out)
		}
	}
}

func TestApplyMappingConfig(t *testing.T) {
	p, _ := Preset("openldap")
	users, err := p.Users.ApplyUsers("users", UserMappingConfig{
		MappingConfig: MappingConfig{
			RDN:         "cn={displayName}",
			IDAttribute: "uid",
			Attributes: []AttributeConfig{
				{SCIM: "externalId", LDAP: "employeeNumber"},
				{SCIM: "nickName", LDAP: ""},
				{SCIM: `emails[type eq "home"].value`, LDAP: "otherMailbox"},
				{SCIM: "urn:x:gluu:User:favoriteColor", LDAP: "favColor"},
			},
			Extensions: []ExtensionConfig{{URN: "urn:x:gluu:User", Attributes: []ExtensionAttributeConfig{
				{Name: "favoriteColor", LDAP: "favColor"}, {Name: "shoeSize", Type: "integer", LDAP: "shoeSize"},
			}}},
			CreateAttributes: map[string][]string{"description": {"via scimgate"}},
		},
		MemberOf: "none",
		Active:   ActiveConfig{Strategy: "boolean", Attribute: "scimActive"},
		Password: PasswordConfig{Strategy: "none"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]AttributeMap{}
	for _, m := range users.Attributes {
		got[m.SCIM.String()] = m
	}
	if got["externalId"].LDAP != "employeeNumber" || got[`emails[type eq "home"].value`].LDAP != "otherMailbox" {
		t.Errorf("overrides not applied: %v", got)
	}
	if _, ok := got["nickName"]; ok {
		t.Error("nickName still mapped")
	}
	if got["urn:x:gluu:User:shoeSize"].Codec != CodecInteger || got["urn:x:gluu:User:favoriteColor"].LDAP != "favColor" {
		t.Errorf("extension mappings: %v", got)
	}
	if users.ID != "uid" || users.RDN != "cn={displayName}" || users.Password != nil || users.MemberOf != "" ||
		users.Active.Kind != ActiveBoolean || users.Create["description"][0] != "via scimgate" {
		t.Errorf("resource = %+v", users)
	}
	_, ext := users.Advertised()
	if len(ext) != 2 || ext[1].ID != "urn:x:gluu:User" || len(ext[1].Attributes) != 2 {
		t.Errorf("extensions advertised = %+v", ext)
	}
	if len(p.Users.Extensions) != 1 || len(p.Users.Lookup("", "nickName", "")) != 1 || p.Users.MemberOf == "" {
		t.Error("Apply changed the preset it was given")
	}

	_, err = p.Users.ApplyUsers("users", UserMappingConfig{
		MappingConfig: MappingConfig{
			RDN:        "uid=userName",
			Attributes: []AttributeConfig{{SCIM: "favoriteColor", LDAP: "x"}, {SCIM: "title", LDAP: "t", Codec: "weird"}},
			Extensions: []ExtensionConfig{{URN: "nope"}},
		},
		Active:   ActiveConfig{Strategy: "sometimes"},
		Password: PasswordConfig{Strategy: "attribute"},
	})
	for _, want := range []string{"users.rdn", "users.attributes[0].scim: favoriteColor is not an attribute", "users.attributes[1].codec", "users.active.strategy", "users.password.attribute", "users.extensions"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

func TestApplyGroupMappingConfig(t *testing.T) {
	p, _ := Preset("openldap")
	tests := []struct {
		name string
		in   GroupMappingConfig
		want func(Resource) bool
		err  string
	}{
		{"posixGroup", GroupMappingConfig{MappingConfig: MappingConfig{ObjectClasses: []string{"posixGroup"}}, Members: "memberUid", MemberValue: "uid", RemoveDeletedMembers: true},
			func(r Resource) bool {
				return r.Members == "memberUid" && r.MemberValue == "uid" && r.MemberPlaceholder == "" && r.RemoveDeletedMembers &&
					r.ObjectClasses[0] == "posixGroup"
			}, ""},
		{"placeholder", GroupMappingConfig{MemberPlaceholder: "cn=nobody"},
			func(r Resource) bool { return r.MemberPlaceholder == "cn=nobody" && r.Members == "member" }, ""},
		{"no placeholder", GroupMappingConfig{MemberPlaceholder: "None"},
			func(r Resource) bool { return r.MemberPlaceholder == "" }, ""},
		{"placeholder not a DN", GroupMappingConfig{MemberPlaceholder: "nobody"}, nil, `groups.member_placeholder: "nobody" is not a DN`},
		{"shared keys checked too", GroupMappingConfig{MappingConfig: MappingConfig{IDCodec: "base64"}, MemberPlaceholder: "nobody"}, nil,
			"groups.id_codec: must be string or guid\ngroups.member_placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Groups.ApplyGroups("groups", tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v does not mention %q", err, tt.err)
				}
				return
			}
			if err != nil || !tt.want(got) {
				t.Errorf("ApplyGroups = %+v, %v", got, err)
			}
		})
	}
	if p.Groups.MemberPlaceholder != DefaultMemberPlaceholder {
		t.Error("ApplyGroups changed the preset it was given")
	}
}

func TestDerive(t *testing.T) {
	d := Derivation{From: []string{"{name.formatted}", "{name.givenName} {name.familyName}", "{userName}"}}
	tests := []struct {
		values map[string]string
		want   string
		ok     bool
	}{
		{map[string]string{"name.formatted": "Ms. B", "userName": "b"}, "Ms. B", true},
		{map[string]string{"name.givenName": "Barbara", "name.familyName": "Jensen", "userName": "b"}, "Barbara Jensen", true},
		{map[string]string{"name.givenName": "Barbara", "userName": "b"}, "b", true}, // a template needs all its parts
		{map[string]string{}, "", false},
	}
	for _, tt := range tests {
		got, ok := d.Derive(func(p Path) string { return tt.values[p.String()] })
		if got != tt.want || ok != tt.ok {
			t.Errorf("Derive(%v) = %q, %v; want %q, %v", tt.values, got, ok, tt.want, tt.ok)
		}
	}
}

func TestReadAndWrittenAttributes(t *testing.T) {
	p, _ := Preset("openldap")
	u := p.Users
	for i, m := range u.Attributes {
		if m.LDAP == "employeeNumber" {
			u.Attributes[i].ReadOnly = true // as a directory may say
		}
	}
	read, written := u.LDAPAttributes(), u.WrittenAttributes()
	for _, a := range []string{"entryUUID", "entryCSN", "memberOf", "employeeNumber", "uid", "pwdAccountLockedTime", "objectClass"} {
		if !slices.Contains(read, a) {
			t.Errorf("%s is not read", a)
		}
	}
	for _, a := range []string{"employeeNumber", "entryUUID", "memberOf", "objectClass"} {
		if slices.Contains(written, a) {
			t.Errorf("%s is written", a)
		}
	}
	for _, a := range []string{"uid", "cn", "sn", "pwdAccountLockedTime"} {
		if !slices.Contains(written, a) {
			t.Errorf("%s is not written", a)
		}
	}
	if len(read) != len(uniqueFold(read)) {
		t.Errorf("attributes read twice: %v", read)
	}
}

func TestMatchesResource(t *testing.T) {
	s := Schemas{Core: User(), Extensions: []Schema{EnterpriseUser()}}
	res := map[string]any{
		"userName": "bjensen", "title": "Tour Guide",
		"emails": []any{
			map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true},
			map[string]any{"value": "babs@jensen.org", "type": "home"},
		},
		"phoneNumbers":    []any{map[string]any{"value": "555-555-8377", "type": "work"}},
		EnterpriseUserURN: map[string]any{"department": "Tour Operations"},
	}
	for _, tt := range []struct {
		filter string
		want   bool
	}{
		{`userName eq "BJENSEN"`, true}, // userName is not caseExact
		{`emails.value eq "babs@jensen.org"`, true},
		{`emails co "jensen.org"`, true},
		{`emails[type eq "work" and value ew "example.com"]`, true},
		{`emails[type eq "home" and value ew "example.com"]`, false},
		{`phoneNumbers.value eq "555-555-8377" and title sw "Tour"`, true},
		{`phoneNumbers.value eq "555"`, false},
		{`phoneNumbers.value ne "555"`, true},
		{`phoneNumbers.value ne "555-555-8377"`, false},
		{`ims pr`, false},
		{`ims.value ne "x"`, true},
		{`not (emails.value co "example")`, false},
		{`nickName eq "x" or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw "tour"`, true},
		{`emails[primary eq true].value eq "bjensen@example.com"`, true},
	} {
		e, err := ParseFilter(tt.filter)
		if err != nil {
			t.Fatalf("%s: %v", tt.filter, err)
		}
		if got, err := MatchesResource(s, res, e); err != nil || got != tt.want {
			t.Errorf("%s = %v, %v; want %v", tt.filter, got, err, tt.want)
		}
	}
}

// Paths lists every path of every template, each once, in order.
func TestDerivationPaths(t *testing.T) {
	d := Derivation{LDAP: "cn", From: []string{"{name.givenName} {name.familyName}", "{displayName}", "{name.familyName}, {userName}", "no paths"}}
	want := []Path{{Attr: "name", Sub: "givenName"}, {Attr: "name", Sub: "familyName"}, {Attr: "displayName"}, {Attr: "userName"}}
	got := d.Paths()
	if len(got) != len(want) {
		t.Fatalf("Paths() = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Paths()[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// Applying a config, with extensions or without, leaves the preset it
// started from as it was.
func TestApplyLeavesThePreset(t *testing.T) {
	for _, exts := range [][]ExtensionConfig{nil, {{URN: "urn:x:gluu:User", Attributes: []ExtensionAttributeConfig{{Name: "shoeSize", LDAP: "shoeSize"}}}}} {
		p, _ := Preset("openldap")
		before := fmt.Sprint(p.Users.Attributes)
		_, err := p.Users.ApplyUsers("users", UserMappingConfig{MappingConfig: MappingConfig{
			Attributes: []AttributeConfig{{SCIM: "nickName", LDAP: ""}, {SCIM: "title", LDAP: "description"}},
			Extensions: exts,
		}})
		if err != nil {
			t.Fatal(err)
		}
		if after := fmt.Sprint(p.Users.Attributes); after != before {
			t.Errorf("with %d extensions the preset's mappings changed:\nbefore %s\nafter  %s", len(exts), before, after)
		}
	}
}
