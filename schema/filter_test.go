package schema

import (
	"errors"
	"fmt"
	"testing"

	"github.com/scim2/filter-parser/v2"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in   string
		want string // the tree printed by filter-parser's String methods
	}{
		{`userName eq "bjensen"`, `userName eq "bjensen"`},
		{`USERNAME Eq "x" AND title PR`, `USERNAME eq "x" and title pr`},
		{`name.familyName co "O'Malley"`, `name.familyName co "O'Malley"`},
		{`userName sw "J"`, `userName sw "J"`},
		{`title pr and userType eq "Employee"`, `title pr and userType eq "Employee"`},
		{`a eq 1 or b eq 2 and c eq 3`, `a eq 1 or b eq 2 and c eq 3`},
		{`(a eq 1 or b eq 2) and c eq 3`, `(a eq 1 or b eq 2) and c eq 3`},
		{`not (a eq 1)`, `not(a eq 1)`},
		{`not(a eq 1) and b pr`, `not(a eq 1) and b pr`},
		{`  a   eq   true  `, `a eq true`},
		{`a eq false`, `a eq false`},
		{`a eq null`, `a eq`},
		{`a gt 1.5`, `a gt 1.5`},
		{`a lt -3`, `a lt -3`},
		{`a le 1e3`, `a le 1000`},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "1"`,
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "1"`},
		{`emails[type eq "work"]`, `emails[type eq "work"]`},
		// What filter-parser v2.2.1 rejects although RFC 7644 allows it.
		{`emails[type eq "work" and value co "@x" and primary eq true]`, `emails[type eq "work" and value co "@x" and primary eq true]`},
		{`emails[type eq "work" and (value co "@x" or value co "@y")]`, `emails[type eq "work" and (value co "@x" or value co "@y")]`},
		{`emails[type eq "work" or type eq "home" or type eq "other"]`, `emails[type eq "work" or type eq "home" or type eq "other"]`},
		{`userName eq "a\u00e9"`, `userName eq "aé"`},
		{`userName eq "a\"b\\c\/d"`, `userName eq "a\"b\\c/d"`},
		{`emails[type eq "work"].value eq "x"`, `emails[type eq "work" and value eq "x"]`},
		{`emails[not (type eq "work")]`, `emails[not(type eq "work")]`},
		{`members[value eq "1"] and displayName eq "g"`, `members[value eq "1"] and displayName eq "g"`},
		{`members.$ref pr`, `members.$ref pr`},
		{`userName eq "ü€ (*) \\ "`, `userName eq "ü€ (*) \\ "`},
		{`not eq "x"`, `not eq "x"`}, // an attribute named "not"
	}
	for _, tt := range tests {
		e, err := ParseFilter(tt.in)
		if err != nil {
			t.Errorf("ParseFilter(%s): %v", tt.in, err)
			continue
		}
		if got := fmt.Sprint(e); got != tt.want {
			t.Errorf("ParseFilter(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseFilterValues(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`a eq "x\u0000y"`, "x\x00y"},
		{`a eq "\ud83d\ude00"`, "😀"},
		{`a eq 7`, 7},
		{`a eq 7.25`, 7.25},
		{`a eq TRUE`, true},
		{`a eq bareword`, "bareword"}, // not RFC 7644's grammar; clients send it (Microsoft's tests do)
		{`meta.created gt 2015-10-10T14:38:21.8617979-07:00`, "2015-10-10T14:38:21.8617979-07:00"},
	}
	for _, tt := range tests {
		e, err := ParseFilter(tt.in)
		if err != nil {
			t.Fatalf("ParseFilter(%s): %v", tt.in, err)
		}
		if got := e.(*filter.AttributeExpression).CompareValue; got != tt.want {
			t.Errorf("ParseFilter(%s) value = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	deep := ""
	for range 60 {
		deep += "("
	}
	for _, in := range []string{
		``, `   `, `userName`, `userName eq`, `userName eq "x`, `userName eq "\x"`, `userName xx "y"`,
		`userName eq "x" and`, `(userName eq "x"`, `userName eq "x")`, `emails[type eq "work"`,
		`emails[type[value eq "x"] eq "y"]`, `emails[a.b eq "x"]`, `1abc eq "x"`, `a eq bare"word`, `a eq it's`,
		`a eq "x" or or b pr`, `name.givenName[type eq "x"]`, `emails[type eq "work"].`, `a.b.c eq "x"`,
		deep + `a pr`, `userName eq"x"`, `a eq 1e999`,
	} {
		_, err := ParseFilter(in)
		var se *FilterSyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseFilter(%s) = %v, want a FilterSyntaxError", in, err)
		}
	}
}
