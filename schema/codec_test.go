package schema

import (
	"encoding/json"
	"testing"
)

func TestCodecs(t *testing.T) {
	tests := []struct {
		codec Codec
		scim  any
		ldap  string
		back  any // what Decode gives; nil means scim
	}{
		{CodecString, "Barbara", "Barbara", nil},
		{CodecBoolean, true, "TRUE", nil},
		{CodecBoolean, false, "FALSE", nil},
		{CodecBoolean, "False", "FALSE", false}, // Entra ID's string booleans
		{CodecInteger, json.Number("42"), "42", int64(42)},
		{CodecInteger, int64(-7), "-7", nil},
		{CodecDateTime, "2008-01-23T04:56:22Z", "20080123045622Z", nil},
		{CodecDateTime, "2008-01-23T05:56:22.25+01:00", "20080123045622.25Z", "2008-01-23T04:56:22.25Z"},
		{CodecBinary, "AAEC/w==", "\x00\x01\x02\xff", nil},
		// A GUID as Active Directory shows it, and the octets it stores.
		{CodecGUID, "dd5b2ed4-7e8f-4cab-8ca8-b41e46b1d3c6", "\xd4\x2e\x5b\xdd\x8f\x7e\xab\x4c\x8c\xa8\xb4\x1e\x46\xb1\xd3\xc6", nil},
		{CodecPostalAddress, "1 Main St\nSuite $5\nSpringfield", `1 Main St$Suite \245$Springfield`, nil},
		{CodecDN, "cn=x,dc=y", "cn=x,dc=y", nil},
	}
	for _, tt := range tests {
		got, err := tt.codec.Encode(tt.scim)
		if err != nil || got != tt.ldap {
			t.Errorf("%q.Encode(%#v) = %q, %v; want %q", tt.codec, tt.scim, got, err, tt.ldap)
			continue
		}
		back, err := tt.codec.Decode(got)
		want := tt.back
		if want == nil {
			want = tt.scim
		}
		if err != nil || back != want {
			t.Errorf("%q.Decode(%q) = %#v, %v; want %#v", tt.codec, got, back, err, want)
		}
	}
	for _, bad := range []struct {
		codec Codec
		v     any
	}{
		{CodecBoolean, "maybe"}, {CodecInteger, 1.5}, {CodecInteger, "x"}, {CodecDateTime, "yesterday"},
		{CodecBinary, "not base64!"}, {CodecGUID, "not-a-guid"}, {CodecString, map[string]any{}},
	} {
		if _, err := bad.codec.Encode(bad.v); err == nil {
			t.Errorf("%q.Encode(%#v) succeeded", bad.codec, bad.v)
		}
	}
	if _, err := CodecGUID.Decode("short"); err == nil {
		t.Error("a 5-octet GUID decoded")
	}
	if _, err := ParseCodec("nope"); err == nil {
		t.Error("ParseCodec(nope) succeeded")
	}
	if c, err := ParseCodec("String"); err != nil || c != CodecString {
		t.Errorf("ParseCodec(String) = %q, %v", c, err)
	}
}
