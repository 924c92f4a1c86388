package gateway

import (
	"encoding/json"
	"testing"
)

// appendJSON writes what encoding/json writes.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	values := []any{
		nil, true, false, 0, -7, int64(1) << 60, 1.5, json.Number("12"), "",
		"plain", "quote\" back\\slash", "nul\x00 tab\t nl\n cr\r bell\x07", "<html>&amp;", "zoë ü€ 😀",
		"bad utf-8 \xff\xfe end", "line sep \u2028 para \u2029",
		[]string{"a", "b"}, []any{}, map[string]any{},
		map[string]any{"z": 1, "a": []any{map[string]any{"y": "x", "b": nil}}, "m": map[string]any{"k": true}},
		struct{ A int }{3},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON(nil, v)
		if err != nil || string(got) != string(want) {
			t.Errorf("appendJSON(%#v) = %s, %v; want %s", v, got, err, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028", "<&>", "\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}
