package schema

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Rules for the text of string values. RFC 7643 section 2.3.1 says only
// that strings are Unicode; these keep out what no provisioning client
// means to send: control characters, which end up in DNs and logs, and, in
// the names that identify a resource, invisible characters that make
// look-alike accounts.

// MultiLine reports whether the sub-attribute sub of attribute attr may
// hold line breaks: only addresses.formatted, which RFC 7643 section 4.1.2
// says "MAY contain newlines".
func MultiLine(attr, sub string) bool {
	return strings.EqualFold(attr, "addresses") && strings.EqualFold(sub, "formatted")
}

// CheckText refuses a control character in s: C0 (U+0000 to U+001F), DEL
// and C1 (U+0080 to U+009F). A multi-line value may hold tab, line feed and
// carriage return; never NUL.
func CheckText(s string, multiLine bool) error {
	for i, r := range s {
		if !isControl(r) || multiLine && (r == '\t' || r == '\n' || r == '\r') {
			continue
		}
		return fmt.Errorf("holds the control character U+%04X (at byte %d)", r, i)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }

// NormalizeName returns a name that identifies a resource (a user's
// userName, a group's displayName) in Unicode Normalization Form C, so that
// the same name typed two ways is one name, and refuses one holding a
// control character or a default-ignorable code point (U+200B ZERO WIDTH
// SPACE, U+00AD SOFT HYPHEN, ...), which would make an account look like
// another. Letter case and spaces are left as they are: the directory
// compares names without regard to them (caseIgnoreMatch).
func NormalizeName(s string) (string, error) {
	if err := CheckText(s, false); err != nil {
		return "", err
	}
	for i, r := range s {
		if DefaultIgnorable(r) {
			return "", fmt.Errorf("holds the invisible character U+%04X (at byte %d)", r, i)
		}
	}
	return norm.NFC.String(s), nil
}

// DefaultIgnorable reports whether r has the Unicode property
// Default_Ignorable_Code_Point, which package unicode does not provide.
func DefaultIgnorable(r rune) bool { return unicode.Is(defaultIgnorable, r) }

// defaultIgnorable is Default_Ignorable_Code_Point of DerivedCoreProperties.txt
// (Unicode 15.0; unchanged since 9.0). A lookup table, never written.
var defaultIgnorable = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x00ad, Hi: 0x00ad, Stride: 1},
		{Lo: 0x034f, Hi: 0x034f, Stride: 1},
		{Lo: 0x061c, Hi: 0x061c, Stride: 1},
		{Lo: 0x115f, Hi: 0x1160, Stride: 1},
		{Lo: 0x17b4, Hi: 0x17b5, Stride: 1},
		{Lo: 0x180b, Hi: 0x180f, Stride: 1},
		{Lo: 0x200b, Hi: 0x200f, Stride: 1},
		{Lo: 0x202a, Hi: 0x202e, Stride: 1},
		{Lo: 0x2060, Hi: 0x206f, Stride: 1},
		{Lo: 0x3164, Hi: 0x3164, Stride: 1},
		{Lo: 0xfe00, Hi: 0xfe0f, Stride: 1},
		{Lo: 0xfeff, Hi: 0xfeff, Stride: 1},
		{Lo: 0xffa0, Hi: 0xffa0, Stride: 1},
		{Lo: 0xfff0, Hi: 0xfff8, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x1bca0, Hi: 0x1bca3, Stride: 1},
		{Lo: 0x1d173, Hi: 0x1d17a, Stride: 1},
		{Lo: 0xe0000, Hi: 0xe0fff, Stride: 1},
	},
}
