package ldapstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// DirectorySchema is what a directory's subschema subentry defines (RFC 4512
// section 4.1): attribute types and object classes, each findable by any of
// its names or its OID, case-insensitively.
type DirectorySchema struct {
	attributeTypes map[string]*AttributeType
	objectClasses  map[string]*ObjectClass
	contentRules   map[string]*contentRule // by the OID of the structural class
	nAttr, nClass  int
}

// contentRule is a DIT content rule (RFC 4512 section 4.1.6): what entries
// of a structural class may hold besides their classes' attributes. Active
// Directory publishes its system auxiliary classes this way (user has
// AUX securityPrincipal, which holds sAMAccountName): their attributes are
// allowed without the class being named in objectClass.
type contentRule struct {
	aux, must, may []string
}

// AttributeType is one attribute type definition.
type AttributeType struct {
	OID          string
	Names        []string
	Sup          string
	Equality     string // matching rules, inherited from Sup when absent
	Ordering     string
	Substr       string
	Syntax       string // OID, without a length bound
	SingleValue  bool
	NoUserModify bool
	Usage        string // userApplications unless operational
}

// ObjectClass is one object class definition.
type ObjectClass struct {
	OID   string
	Names []string
	Sup   []string
	Kind  string // STRUCTURAL, AUXILIARY or ABSTRACT
	Must  []string
	May   []string
}

// Name is the type's first name, or its OID.
func (a *AttributeType) Name() string { return firstName(a.Names, a.OID) }

// Name is the class's first name, or its OID.
func (o *ObjectClass) Name() string { return firstName(o.Names, o.OID) }

func firstName(names []string, oid string) string {
	if len(names) > 0 {
		return names[0]
	}
	return oid
}

// CaseExact reports whether values compare case-sensitively for equality.
// Types without an equality rule do not compare at all; they count as exact.
func (a *AttributeType) CaseExact() bool {
	switch strings.ToLower(a.Equality) {
	case "caseignorematch", "caseignoreia5match", "caseignorelistmatch", "telephonenumbermatch",
		"distinguishednamematch", "uniquemembermatch", "numericstringmatch", "uuidmatch",
		"integermatch", "booleanmatch", "generalizedtimematch", "objectidentifiermatch":
		return false
	}
	return true
}

// Binary reports whether the type's values are octet strings rather than
// text: such values travel base64-encoded in SCIM.
func (a *AttributeType) Binary() bool {
	switch a.Syntax {
	case "1.3.6.1.4.1.1466.115.121.1.40", // Octet String
		"1.3.6.1.4.1.1466.115.121.1.5",  // Binary
		"1.3.6.1.4.1.1466.115.121.1.8",  // Certificate
		"1.3.6.1.4.1.1466.115.121.1.28": // JPEG
		return true
	}
	return false
}

// Attribute returns the attribute type with the given name or OID.
func (s *DirectorySchema) Attribute(name string) (*AttributeType, bool) {
	a, ok := s.attributeTypes[strings.ToLower(name)]
	return a, ok
}

// ObjectClass returns the object class with the given name or OID.
func (s *DirectorySchema) ObjectClass(name string) (*ObjectClass, bool) {
	o, ok := s.objectClasses[strings.ToLower(name)]
	return o, ok
}

// HasAttribute reports whether the directory defines the attribute type.
func (s *DirectorySchema) HasAttribute(name string) bool { _, ok := s.Attribute(name); return ok }

// HasObjectClass reports whether the directory defines the object class.
func (s *DirectorySchema) HasObjectClass(name string) bool { _, ok := s.ObjectClass(name); return ok }

// Counts returns how many attribute types and object classes are defined.
func (s *DirectorySchema) Counts() (attributeTypes, objectClasses int) { return s.nAttr, s.nClass }

// Allows reports whether an entry of the given object classes (with their
// superclasses) may hold the attribute.
func (s *DirectorySchema) Allows(classes []string, attr string) bool {
	at, ok := s.Attribute(attr)
	if !ok {
		return false
	}
	if at.Usage != "" && at.Usage != "userApplications" {
		return true // operational attributes are not governed by object classes
	}
	seen := map[string]bool{}
	var allows func(name string) bool
	allows = func(name string) bool {
		oc, ok := s.ObjectClass(name)
		if !ok || seen[oc.OID] {
			return false
		}
		seen[oc.OID] = true
		if s.names(at, oc.Must, oc.May) {
			return true
		}
		for _, sup := range oc.Sup {
			if allows(sup) {
				return true
			}
		}
		return false
	}
	for _, c := range classes {
		if allows(c) {
			return true
		}
	}
	for _, c := range classes {
		oc, ok := s.ObjectClass(c)
		if !ok {
			continue
		}
		rule := s.contentRules[oc.OID]
		if rule == nil {
			continue
		}
		if s.names(at, rule.must, rule.may) {
			return true
		}
		for _, aux := range rule.aux {
			if allows(aux) {
				return true
			}
		}
	}
	return false
}

// names reports whether one of the lists names the attribute type at, by
// any of its names or its OID.
func (s *DirectorySchema) names(at *AttributeType, lists ...[]string) bool {
	for _, list := range lists {
		for _, a := range list {
			if other, ok := s.Attribute(a); ok && other == at {
				return true
			}
		}
	}
	return false
}

// AuxiliaryFor returns the name of an auxiliary object class that allows
// the attribute, preferring one among prefer, or "" if none does.
func (s *DirectorySchema) AuxiliaryFor(attr string, prefer []string) string {
	for _, p := range prefer {
		if oc, ok := s.ObjectClass(p); ok && oc.Kind == "AUXILIARY" && s.Allows([]string{p}, attr) {
			return oc.Name()
		}
	}
	seen := map[*ObjectClass]bool{}
	for _, oc := range s.objectClasses {
		if seen[oc] || oc.Kind != "AUXILIARY" {
			continue
		}
		seen[oc] = true
		if s.Allows([]string{oc.OID}, attr) {
			return oc.Name()
		}
	}
	return ""
}

// ReadSchema reads the subschema subentry named by the root DSE (RFC 4512
// section 4.2).
func (c *Conn) ReadSchema(ctx context.Context, dse *RootDSE) (*DirectorySchema, error) {
	dn := dse.SubschemaSubentry
	if dn == "" {
		dn = "cn=Subschema"
	}
	res, err := c.Search(ctx, ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
		"(objectClass=subschema)", []string{"attributeTypes", "objectClasses", "dITContentRules"}, nil))
	if err != nil {
		return nil, classify("read schema "+dn, err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("read schema %s: %d entries", dn, len(res.Entries))
	}
	e := res.Entries[0]
	ds, err := ParseSchema(e.GetEqualFoldAttributeValues("attributeTypes"), e.GetEqualFoldAttributeValues("objectClasses"))
	if err != nil {
		return nil, err
	}
	ds.addContentRules(e.GetEqualFoldAttributeValues("dITContentRules"))
	if dse.MatchesBySyntax() {
		ds.inferRules()
	}
	return ds, nil
}

// syntaxRules are the matching rules Active Directory applies to values of
// a syntax: it publishes attribute types without EQUALITY, ORDERING or
// SUBSTR, as its matching follows the syntax ([MS-ADTS] 3.1.1.2.2.2:
// Unicode strings compare without regard to case, IA5 and printable
// strings with it).
var syntaxRules = map[string][3]string{ // equality, ordering, substrings
	"1.3.6.1.4.1.1466.115.121.1.15": {"caseIgnoreMatch", "caseIgnoreOrderingMatch", "caseIgnoreSubstringsMatch"}, // Unicode (2.5.5.12)
	"1.2.840.113556.1.4.905":        {"caseIgnoreMatch", "caseIgnoreOrderingMatch", "caseIgnoreSubstringsMatch"}, // Teletex (2.5.5.4)
	"1.3.6.1.4.1.1466.115.121.1.26": {"caseExactIA5Match", "caseExactOrderingMatch", "caseExactSubstringsMatch"}, // IA5 (2.5.5.5)
	"1.3.6.1.4.1.1466.115.121.1.44": {"caseExactMatch", "caseExactOrderingMatch", "caseExactSubstringsMatch"},    // printable (2.5.5.5)
	"1.3.6.1.4.1.1466.115.121.1.36": {"numericStringMatch", "numericStringOrderingMatch", "numericStringSubstringsMatch"},
	"1.3.6.1.4.1.1466.115.121.1.50": {"telephoneNumberMatch", "", "telephoneNumberSubstringsMatch"},
	"1.3.6.1.4.1.1466.115.121.1.12": {"distinguishedNameMatch", "", ""},
	"1.3.6.1.4.1.1466.115.121.1.27": {"integerMatch", "integerOrderingMatch", ""},
	"1.2.840.113556.1.4.906":        {"integerMatch", "integerOrderingMatch", ""}, // large integer (2.5.5.16)
	"1.3.6.1.4.1.1466.115.121.1.7":  {"booleanMatch", "", ""},
	"1.3.6.1.4.1.1466.115.121.1.24": {"generalizedTimeMatch", "generalizedTimeOrderingMatch", ""},
	"1.3.6.1.4.1.1466.115.121.1.53": {"generalizedTimeMatch", "generalizedTimeOrderingMatch", ""}, // UTC time
	"1.3.6.1.4.1.1466.115.121.1.40": {"octetStringMatch", "octetStringOrderingMatch", ""},
	"1.3.6.1.4.1.1466.115.121.1.38": {"objectIdentifierMatch", "", ""},
}

// inferRules gives each attribute type without matching rules those of
// its syntax (syntaxRules), as Active Directory applies them.
func (s *DirectorySchema) inferRules() {
	seen := map[*AttributeType]bool{}
	for _, a := range s.attributeTypes {
		if seen[a] {
			continue
		}
		seen[a] = true
		rules, ok := syntaxRules[a.Syntax]
		if !ok {
			continue
		}
		for i, r := range []*string{&a.Equality, &a.Ordering, &a.Substr} {
			if *r == "" {
				*r = rules[i]
			}
		}
	}
}

// addContentRules records DIT content rules.
func (s *DirectorySchema) addContentRules(defs []string) {
	for _, d := range defs {
		f, ok := parseDescription(d)
		if !ok {
			continue
		}
		oid := f.oid
		if oc, ok := s.ObjectClass(oid); ok {
			oid = oc.OID
		}
		s.contentRules[oid] = &contentRule{aux: f.list("AUX"), must: f.list("MUST"), may: f.list("MAY")}
	}
}

// ParseSchema builds a DirectorySchema from attribute type and object class
// descriptions in the syntax of RFC 4512 section 4.1. Descriptions it cannot
// parse are skipped; a schema with none it can parse is an error.
func ParseSchema(attributeTypes, objectClasses []string) (*DirectorySchema, error) {
	s := &DirectorySchema{attributeTypes: map[string]*AttributeType{}, objectClasses: map[string]*ObjectClass{}, contentRules: map[string]*contentRule{}}
	var types []*AttributeType
	for _, d := range attributeTypes {
		f, ok := parseDescription(d)
		if !ok {
			continue
		}
		a := &AttributeType{
			OID: f.oid, Names: f.list("NAME"), Sup: f.one("SUP"), Equality: f.one("EQUALITY"),
			Ordering: f.one("ORDERING"), Substr: f.one("SUBSTR"), SingleValue: f.flag("SINGLE-VALUE"),
			NoUserModify: f.flag("NO-USER-MODIFICATION"), Usage: f.one("USAGE"),
		}
		a.Syntax, _, _ = strings.Cut(f.one("SYNTAX"), "{")
		types = append(types, a)
		s.nAttr++
		for _, k := range append([]string{a.OID}, a.Names...) {
			s.attributeTypes[strings.ToLower(k)] = a
		}
	}
	// Matching rules and syntax are inherited from the supertype.
	for _, a := range types {
		for sup, depth := a.Sup, 0; sup != "" && depth < 16; depth++ {
			p, ok := s.Attribute(sup)
			if !ok {
				break
			}
			if a.Equality == "" {
				a.Equality = p.Equality
			}
			if a.Ordering == "" {
				a.Ordering = p.Ordering
			}
			if a.Substr == "" {
				a.Substr = p.Substr
			}
			if a.Syntax == "" {
				a.Syntax = p.Syntax
			}
			sup = p.Sup
		}
	}
	for _, d := range objectClasses {
		f, ok := parseDescription(d)
		if !ok {
			continue
		}
		o := &ObjectClass{OID: f.oid, Names: f.list("NAME"), Sup: f.list("SUP"), Must: f.list("MUST"), May: f.list("MAY"), Kind: "STRUCTURAL"}
		for _, k := range []string{"AUXILIARY", "ABSTRACT"} {
			if f.flag(k) {
				o.Kind = k
			}
		}
		s.nClass++
		for _, k := range append([]string{o.OID}, o.Names...) {
			s.objectClasses[strings.ToLower(k)] = o
		}
	}
	if s.nAttr == 0 && s.nClass == 0 {
		return nil, fmt.Errorf("read schema: no definition could be parsed")
	}
	return s, nil
}

// description is one parsed RFC 4512 description: its OID and its fields,
// each a keyword with zero or more values.
type description struct {
	oid    string
	fields map[string][]string
}

func (d description) list(k string) []string { return d.fields[k] }
func (d description) flag(k string) bool     { _, ok := d.fields[k]; return ok }
func (d description) one(k string) string {
	if v := d.fields[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseDescription parses "( oid KEYWORD value KEYWORD ( v1 $ v2 ) FLAG ... )".
func parseDescription(s string) (description, bool) {
	toks := tokenize(s)
	if len(toks) < 3 || toks[0] != "(" || toks[len(toks)-1] != ")" {
		return description{}, false
	}
	d := description{oid: toks[1], fields: map[string][]string{}}
	toks = toks[2 : len(toks)-1]
	for i := 0; i < len(toks); {
		key := strings.ToUpper(toks[i])
		i++
		d.fields[key] = d.fields[key][:0:0]
		switch {
		case i < len(toks) && toks[i] == "(":
			for i++; i < len(toks) && toks[i] != ")"; i++ {
				if toks[i] != "$" {
					d.fields[key] = append(d.fields[key], strings.Trim(toks[i], "'"))
				}
			}
			i++
		case i < len(toks) && isValueToken(toks[i]):
			d.fields[key] = append(d.fields[key], strings.Trim(toks[i], "'"))
			i++
		}
	}
	return d, true
}

// isValueToken tells a value (a quoted string, an OID, or a name following a
// keyword that takes one) from the next keyword: keywords are upper case
// with '-' and contain no digits or lower case; a quoted string is a value.
func isValueToken(t string) bool {
	if strings.HasPrefix(t, "'") {
		return true
	}
	for _, r := range t {
		if (r < 'A' || r > 'Z') && r != '-' {
			return true
		}
	}
	return false
}

// tokenize splits a description into "(", ")", "$", quoted strings (quotes
// kept) and bare words.
func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '$':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				j = len(s) - i - 1
			}
			toks = append(toks, s[i:i+j+2])
			i += j + 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()$'", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}
