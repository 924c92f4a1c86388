package directory

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// Entry is one record of an LDIF text.
type Entry struct {
	DN         string
	Attributes []Attribute
}

// Attribute is one attribute of an Entry, with its values in order.
type Attribute struct {
	Name   string
	Values []string
}

// ParseLDIF parses the content records of an LDIF text (RFC 2849 without
// change records, URLs or options).
func ParseLDIF(text string) ([]Entry, error) {
	var entries []Entry
	var cur *Entry
	var lines []string
	// Unfold continuation lines first.
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(l, " ") && len(lines) > 0 && lines[len(lines)-1] != "" {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	for n, l := range lines {
		switch {
		case strings.HasPrefix(l, "#"):
			continue
		case strings.TrimSpace(l) == "":
			cur = nil
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("ldif line %d: no ':' in %q", n+1, l)
		}
		if strings.HasPrefix(value, ":") {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[1:]))
			if err != nil {
				return nil, fmt.Errorf("ldif line %d: %w", n+1, err)
			}
			value = string(b)
		} else {
			value = strings.TrimLeft(value, " ")
		}
		if cur == nil {
			if !strings.EqualFold(name, "dn") {
				return nil, fmt.Errorf("ldif line %d: a record must start with dn:, not %q", n+1, name)
			}
			entries = append(entries, Entry{DN: value})
			cur = &entries[len(entries)-1]
			continue
		}
		found := false
		for i := range cur.Attributes {
			if strings.EqualFold(cur.Attributes[i].Name, name) {
				cur.Attributes[i].Values = append(cur.Attributes[i].Values, value)
				found = true
				break
			}
		}
		if !found {
			cur.Attributes = append(cur.Attributes, Attribute{Name: name, Values: []string{value}})
		}
	}
	return entries, nil
}
