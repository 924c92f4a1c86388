package schema

import (
	"strings"
	"testing"
	"unicode"
)

// The hand table is DerivedCoreProperties' Default_Ignorable_Code_Point:
// checked here against its derivation, as that file states it, from the
// properties package unicode does have.
func TestDefaultIgnorableTable(t *testing.T) {
	derived := func(r rune) bool {
		in := unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Cf, r) ||
			unicode.Is(unicode.Variation_Selector, r)
		out := unicode.Is(unicode.White_Space, r) || r >= 0xfff9 && r <= 0xfffb || r >= 0x13430 && r <= 0x1343f ||
			unicode.Is(unicode.Prepended_Concatenation_Mark, r)
		return in && !out
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if DefaultIgnorable(r) != derived(r) {
			t.Errorf("U+%04X: table says %v, the derivation %v", r, DefaultIgnorable(r), derived(r))
		}
	}
}

func TestCheckText(t *testing.T) {
	tests := []struct {
		s         string
		multiLine bool
		ok        bool
	}{
		{"plain", false, true},
		{"Ünïcödé 名前 😀", false, true},
		{"a\x00b", false, false},
		{"a\x00b", true, false}, // never NUL
		{"a\nb", false, false},
		{"a\nb", true, true},
		{"a\r\n\tb", true, true},
		{"a\x7fb", false, false},
		{"a\u0085b", true, false}, // C1 NEXT LINE
		{"a\u009fb", false, false},
		{"a\u00a0b", false, true}, // NO-BREAK SPACE is not a control
		{"a\x1bb", true, false},
	}
	for _, tt := range tests {
		if err := CheckText(tt.s, tt.multiLine); (err == nil) != tt.ok {
			t.Errorf("CheckText(%q, %v) = %v, want ok %v", tt.s, tt.multiLine, err, tt.ok)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"alice", "alice", ""},
		{"Alice Smith ", "Alice Smith ", ""},             // case and spaces are the directory's to compare
		{"jose\u0301", "jos\u00e9", ""},                  // NFC
		{"\u212bngstr\u00f6m", "\u00c5ngstr\u00f6m", ""}, // ANGSTROM SIGN is canonically Å
		{"ali\u200bce", "", "U+200B"},
		{"al\u00adice", "", "U+00AD"},
		{"alice\ufeff", "", "U+FEFF"},
		{"a\u2060b", "", "U+2060"},
		{"a\U000e0041b", "", "U+E0041"}, // TAG LATIN CAPITAL LETTER A
		{"a\x00b", "", "U+0000"},
		{"a\nb", "", "U+000A"},
	}
	for _, tt := range tests {
		got, err := NormalizeName(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("NormalizeName(%q) = %q, %v; want an error naming %s", tt.in, got, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
