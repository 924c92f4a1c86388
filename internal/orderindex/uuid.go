package orderindex

import "bytes"

const hexDigits = "0123456789abcdef"

// formatUUID writes the canonical text of a 16-byte UUID
// ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower case) into dst.
func formatUUID(dst *[36]byte, u []byte) []byte {
	j := 0
	for i, c := range u[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst[j] = '-'
			j++
		}
		dst[j], dst[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return dst[:]
}

// ParseUUID returns the 16 bytes of a UUID in canonical (lower-case)
// text, and false for any other text: FormatUUID gives such text back
// exactly.
func ParseUUID(s string) ([16]byte, bool) { return parseUUID(s) }

// FormatUUID is the canonical text of a 16-byte UUID.
func FormatUUID(u []byte) string {
	var buf [36]byte
	return string(formatUUID(&buf, u))
}

// parseUUID returns the 16 bytes of a UUID in canonical text, and false
// for any other text (upper case included: it is not canonical, and
// compares as the bytes it is).
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 {
		return u, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return u, false
			}
			i++
			continue
		}
		hi, lo := hexValue(s[i]), hexValue(s[i+1])
		if hi < 0 || lo < 0 {
			return u, false
		}
		u[j] = byte(hi<<4 | lo)
		j++
		i += 2
	}
	return u, true
}

func hexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// isCanonical reports whether id is the canonical text of key.
func isCanonical(key *[16]byte, id string) bool {
	if len(id) != 36 {
		return false
	}
	var buf [36]byte
	return string(formatUUID(&buf, key[:])) == id
}

// compareID orders two ids as their texts order. A canonical id is held as
// its 16 bytes, which order as their canonical texts do (hex digits and the
// dashes at fixed places keep the order of the bytes).
func compareID(a, b *fields) int {
	switch {
	case a.uuid != nil && b.uuid != nil:
		return bytes.Compare(a.uuid, b.uuid)
	case a.uuid != nil:
		var buf [36]byte
		return bytes.Compare(formatUUID(&buf, a.uuid), b.id)
	case b.uuid != nil:
		var buf [36]byte
		return bytes.Compare(a.id, formatUUID(&buf, b.uuid))
	}
	return bytes.Compare(a.id, b.id)
}
