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
	for n, l := range unfold(text) {
		switch {
		case strings.HasPrefix(l, "#"):
			continue
		case strings.TrimSpace(l) == "":
			cur = nil
			continue
		}
		name, value, err := field(n, l)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			if !strings.EqualFold(name, "dn") {
				return nil, fmt.Errorf("ldif line %d: a record must start with dn:, not %q", n+1, name)
			}
			entries = append(entries, Entry{DN: value})
			cur = &entries[len(entries)-1]
			continue
		}
		cur.add(name, value)
	}
	return entries, nil
}

// add appends value to the entry's attribute name.
func (e *Entry) add(name, value string) {
	for i := range e.Attributes {
		if strings.EqualFold(e.Attributes[i].Name, name) {
			e.Attributes[i].Values = append(e.Attributes[i].Values, value)
			return
		}
	}
	e.Attributes = append(e.Attributes, Attribute{Name: name, Values: []string{value}})
}

// unfold returns the lines of an LDIF text with continuation lines joined.
func unfold(text string) []string {
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(l, " ") && len(lines) > 0 && lines[len(lines)-1] != "" {
			lines[len(lines)-1] += l[1:]
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// field splits line n (from 0) into an attribute name and its value,
// decoded when it is base64 ("name:: ...").
func field(n int, l string) (name, value string, err error) {
	name, value, ok := strings.Cut(l, ":")
	if !ok {
		return "", "", fmt.Errorf("ldif line %d: no ':' in %q", n+1, l)
	}
	if strings.HasPrefix(value, ":") {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value[1:]))
		if err != nil {
			return "", "", fmt.Errorf("ldif line %d: %w", n+1, err)
		}
		return name, string(b), nil
	}
	return name, strings.TrimLeft(value, " "), nil
}
