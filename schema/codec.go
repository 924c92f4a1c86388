package schema

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Codec says how a SCIM value is written as an LDAP value and read back.
type Codec string

// The codecs. Values on the LDAP side are strings holding the raw octets.
const (
	// CodecString: text, as is (the default).
	CodecString Codec = ""
	// CodecBoolean: JSON true/false ↔ LDAP TRUE/FALSE (RFC 4517 3.3.3).
	CodecBoolean Codec = "boolean"
	// CodecInteger: JSON integer ↔ decimal text.
	CodecInteger Codec = "integer"
	// CodecDateTime: xsd:dateTime ↔ GeneralizedTime (RFC 4517 3.3.13).
	CodecDateTime Codec = "datetime"
	// CodecBinary: base64 in SCIM ↔ raw octets in LDAP.
	CodecBinary Codec = "binary"
	// CodecGUID: a UUID string ↔ the 16 octets of Active Directory's
	// objectGUID, whose first three fields are little-endian.
	CodecGUID Codec = "guid"
	// CodecPostalAddress: lines separated by newlines ↔ RFC 4517 3.3.28
	// Postal Address, lines separated by '$'.
	CodecPostalAddress Codec = "postaladdress"
	// CodecDN: a reference; the SCIM value is a resource id, the LDAP
	// value that resource's DN. The store resolves it; Encode and Decode
	// pass it through.
	CodecDN Codec = "dn"
	// CodecJSON: a whole element of a multi-valued complex attribute ↔ one
	// JSON document per LDAP value (the Janssen Server's jansEmail,
	// jansAddres, ...). Decoding drops nulls, which SCIM responses never
	// hold.
	CodecJSON Codec = "json"
)

// Codecs lists the valid codec names for configuration messages.
func Codecs() []string {
	return []string{"string", "boolean", "integer", "datetime", "binary", "guid", "postaladdress", "dn", "json"}
}

// ParseCodec accepts a codec name from configuration; "" and "string" are
// both the string codec.
func ParseCodec(s string) (Codec, error) {
	c := Codec(strings.ToLower(s))
	if c == "string" {
		c = CodecString
	}
	switch c {
	case CodecString, CodecBoolean, CodecInteger, CodecDateTime, CodecBinary, CodecGUID, CodecPostalAddress, CodecDN:
		return c, nil
	}
	return "", fmt.Errorf("unknown codec %q (known: %s)", s, strings.Join(Codecs(), ", "))
}

// Encode turns a SCIM value (as decoded from JSON) into an LDAP value. An
// empty result means "no value".
func (c Codec) Encode(v any) (string, error) {
	switch c {
	case CodecBoolean:
		b, err := asBool(v)
		if err != nil {
			return "", err
		}
		if b {
			return "TRUE", nil
		}
		return "FALSE", nil
	case CodecInteger:
		n, err := asInt(v)
		if err != nil {
			return "", err
		}
		return strconv.FormatInt(n, 10), nil
	case CodecDateTime:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a dateTime string, got %T", v)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return "", fmt.Errorf("%q is not an xsd:dateTime such as 2008-01-23T04:56:22Z", s)
		}
		t = t.UTC()
		out := t.Format("20060102150405")
		if ns := t.Nanosecond(); ns != 0 {
			out += strings.TrimRight(fmt.Sprintf(".%09d", ns), "0")
		}
		return out + "Z", nil
	case CodecBinary:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a base64 string, got %T", v)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return "", fmt.Errorf("not base64: %v", err)
		}
		return string(b), nil
	case CodecGUID:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a UUID string, got %T", v)
		}
		return guidBytes(s)
	case CodecJSON:
		obj, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Errorf("want an object, got %T", v)
		}
		b, err := json.Marshal(obj)
		return string(b), err
	case CodecPostalAddress:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a string, got %T", v)
		}
		var lines []string
		for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
			l = strings.NewReplacer(`\`, `\5C`, `$`, `\24`).Replace(l)
			lines = append(lines, l)
		}
		return strings.Join(lines, "$"), nil
	default:
		return scalarString(v)
	}
}

// Decode turns an LDAP value into a SCIM value.
func (c Codec) Decode(s string) (any, error) {
	switch c {
	case CodecBoolean:
		switch strings.ToUpper(s) {
		case "TRUE":
			return true, nil
		case "FALSE":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not TRUE or FALSE", s)
	case CodecInteger:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	case CodecDateTime:
		t, err := ParseGeneralizedTime(s)
		if err != nil {
			return nil, err
		}
		return t.Format(time.RFC3339Nano), nil
	case CodecBinary:
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case CodecJSON:
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return nil, fmt.Errorf("not a JSON object")
		}
		for k, v := range obj {
			if v == nil {
				delete(obj, k)
			}
		}
		return obj, nil
	case CodecGUID:
		return FormatGUID([]byte(s))
	case CodecPostalAddress:
		lines := strings.Split(s, "$")
		r := strings.NewReplacer(`\24`, `$`, `\5C`, `\`, `\5c`, `\`)
		for i, l := range lines {
			lines[i] = r.Replace(l)
		}
		return strings.Join(lines, "\n"), nil
	default:
		return s, nil
	}
}

// FormatGUID formats the 16 octets of an objectGUID as a UUID string.
func FormatGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("a GUID has 16 octets, not %d", len(b))
	}
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]), nil
}

func guidBytes(s string) (string, error) {
	h := strings.ReplaceAll(strings.Trim(s, "{}"), "-", "")
	if len(h) != 32 {
		return "", fmt.Errorf("%q is not a UUID", s)
	}
	var u [16]byte
	for i := range u {
		n, err := strconv.ParseUint(h[2*i:2*i+2], 16, 8)
		if err != nil {
			return "", fmt.Errorf("%q is not a UUID", s)
		}
		u[i] = byte(n)
	}
	le := []byte{u[3], u[2], u[1], u[0], u[5], u[4], u[7], u[6], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]}
	return string(le), nil
}

func asBool(v any) (bool, error) {
	switch v := v.(type) {
	case bool:
		return v, nil
	case string: // Entra ID sends "True" and "False"
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("%q is not a boolean", v)
		}
		return b, nil
	}
	return false, fmt.Errorf("want a boolean, got %T", v)
}

func asInt(v any) (int64, error) {
	switch v := v.(type) {
	case json.Number:
		return v.Int64()
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, fmt.Errorf("%v is not an integer", v)
		}
		return int64(v), nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	}
	return 0, fmt.Errorf("want an integer, got %T", v)
}

// scalarString formats a JSON scalar as text.
func scalarString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		if v {
			return "TRUE", nil
		}
		return "FALSE", nil
	case json.Number:
		return v.String(), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("want a string, got %T", v)
}
