package schema

import (
	"reflect"
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
			for _, m := range r.Attributes {
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

func TestAdvertisedShowsOnlyMappedAttributes(t *testing.T) {
	p, _ := Preset("openldap")
	core, ext := p.Users.Advertised()

	var names []string
	for _, a := range core.Attributes {
		names = append(names, a.Name)
	}
	want := []string{"userName", "name", "displayName", "title", "preferredLanguage", "emails", "phoneNumbers"}
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
	phones, _ := core.Attribute("phoneNumbers")
	typ, _ := phones.SubAttribute("type")
	if !reflect.DeepEqual(typ.CanonicalValues, []string{"work", "mobile"}) {
		t.Errorf("phoneNumbers.type canonical values = %v, want the mapped ones", typ.CanonicalValues)
	}
	if len(ext) != 1 || ext[0].ID != EnterpriseUserURN || len(ext[0].Attributes) != 3 {
		t.Errorf("extensions = %+v, want the enterprise extension with 3 attributes", ext)
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
