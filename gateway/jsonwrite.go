package gateway

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// appendJSON appends v, a tree of maps, slices and scalars as responses
// are built, encoded as encoding/json would encode it (keys sorted, invalid
// UTF-8 replaced) but without reflection: list responses encode a hundred
// resources per request, and encoding/json's map encoder was a tenth of
// the gateway's CPU. Other types fall back to encoding/json.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case map[string]any:
		var small [32]string // the keys of most maps, without an allocation
		b, err := appendFields(append(b, '{'), v, appendSortedKeys(small[:0], v))
		if err != nil {
			return nil, err
		}
		return append(b, '}'), nil
	case []any:
		return appendArray(b, v, appendJSON)
	case []string:
		return appendArray(b, v, func(b []byte, s string) ([]byte, error) { return appendString(b, s), nil })
	}
	out, err := json.Marshal(v)
	return append(b, out...), err
}

// appendSortedKeys appends the keys of m to keys, sorted.
func appendSortedKeys(keys []string, m map[string]any) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendFields appends the members "key":value of m for keys, comma
// separated, without braces.
func appendFields(b []byte, m map[string]any, keys []string) ([]byte, error) {
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSON(b, m[k]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// appendArray appends the elements of xs, each by appendElem, as a JSON array.
func appendArray[T any](b []byte, xs []T, appendElem func([]byte, T) ([]byte, error)) ([]byte, error) {
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendElem(b, x); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// bufferPool keeps response buffers between requests: a page of 100
// users is about 150 KB, which a new buffer reaches by growing seven
// times. Buffers over maxPooledBuffer are left to the collector.
type bufferPool struct{ p sync.Pool }

const maxPooledBuffer = 1 << 20

func (bp *bufferPool) get() *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 4096)
	return &b
}

func (bp *bufferPool) put(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		*b = (*b)[:0]
		bp.p.Put(b)
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters included).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
