package ldap

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/ldapstore"
)

// definitions returns the attribute type and object class definitions of a
// file, in whichever of the three formats, without 389's X-ORIGIN.
func definitions(t *testing.T, file string) (attrs, classes []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`\n[ \t]+`).ReplaceAllString(string(b), " ") // unfold continuation lines
	re := regexp.MustCompile(`(?mi)^(attributetype|olcAttributeTypes:|attributeTypes:|objectclass|olcObjectClasses:|objectClasses:)\s*(\(.*\))\s*$`)
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		def := strings.Replace(m[2], " X-ORIGIN 'scimgate'", "", 1)
		if strings.HasPrefix(strings.ToLower(m[1]), "attribute") || strings.HasPrefix(strings.ToLower(m[1]), "olcattribute") {
			attrs = append(attrs, def)
		} else {
			classes = append(classes, def)
		}
	}
	return attrs, classes
}

// The three files say the same thing, and it parses as RFC 4512 says.
func TestSchemaFilesAgree(t *testing.T) {
	attrs, classes := definitions(t, "scimgate.schema")
	if len(attrs) != 26 || len(classes) != 2 {
		t.Fatalf("scimgate.schema: %d attribute types, %d object classes", len(attrs), len(classes))
	}
	for _, f := range []string{"scimgate.ldif", "99scimgate-389ds.ldif"} {
		a, c := definitions(t, f)
		if !slices.Equal(a, attrs) || !slices.Equal(c, classes) {
			t.Errorf("%s differs from scimgate.schema", f)
		}
	}
	ds, err := ldapstore.ParseSchema(attrs, classes)
	if err != nil {
		t.Fatal(err)
	}
	if !ds.Allows([]string{"scimgateUser"}, "scimExternalId") || !ds.Allows([]string{"scimgateGroup"}, "scimExternalId") {
		t.Error("the classes do not allow their attributes")
	}
	if x, _ := ds.Attribute("scimExternalId"); !x.CaseExact() || !x.SingleValue {
		t.Errorf("scimExternalId = %+v: externalId is case-exact and single", x)
	}
	if Schema == "" || Schema389DS == "" {
		t.Error("the embedded schema is empty")
	}
}
