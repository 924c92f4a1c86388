package schema

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// ParseFilter parses a filter of RFC 7644 section 3.4.2.2 into the syntax
// tree of github.com/scim2/filter-parser, which the SCIM library and the
// PATCH engine share. It accepts what that parser rejects although the RFC
// allows it: any number of conditions and grouping inside a value filter
// (emails[type eq "work" and (value co "a" or value co "b")]), every JSON
// string escape (\u00e9), and a sub-attribute after a value filter, as in
// PATCH paths (emails[type eq "work"].value eq "x", which means the same as
// emails[type eq "work" and value eq "x"]). Keywords and operators are
// case-insensitive; string values come out unescaped.
func ParseFilter(s string) (filter.Expression, error) {
	p := &filterParser{s: s}
	p.space()
	if p.eof() {
		return nil, p.errorf("the filter is empty")
	}
	e, err := p.or(false)
	if err != nil {
		return nil, err
	}
	p.space()
	if !p.eof() {
		return nil, p.errorf("unexpected %q", p.rest(12))
	}
	return e, nil
}

// FilterSyntaxError is a filter that does not parse; Pos is the byte
// offset at which parsing stopped.
type FilterSyntaxError struct {
	Pos int
	Msg string
}

func (e *FilterSyntaxError) Error() string { return fmt.Sprintf("at position %d: %s", e.Pos, e.Msg) }

// maxFilterDepth bounds nesting, so that no filter can exhaust the stack.
const maxFilterDepth = 50

type filterParser struct {
	s     string
	i     int
	depth int
}

func (p *filterParser) errorf(format string, args ...any) error {
	return &FilterSyntaxError{Pos: p.i, Msg: fmt.Sprintf(format, args...)}
}

func (p *filterParser) eof() bool { return p.i >= len(p.s) }

func (p *filterParser) rest(n int) string {
	r := p.s[p.i:]
	if len(r) > n {
		r = r[:n] + "..."
	}
	return r
}

func (p *filterParser) space() {
	for !p.eof() && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// keyword consumes word (case-insensitively) when it stands alone at the
// current position, followed by a space, '(' or the end.
func (p *filterParser) keyword(word string) bool {
	end := p.i + len(word)
	if end > len(p.s) || !strings.EqualFold(p.s[p.i:end], word) {
		return false
	}
	if end < len(p.s) && isNameChar(p.s[end]) {
		return false
	}
	p.i = end
	return true
}

// or parses disjunctions of conjunctions: "and" binds tighter than "or".
// inValue says the parser is inside the brackets of a value filter.
func (p *filterParser) or(inValue bool) (filter.Expression, error) {
	return p.logical(inValue, filter.OR, p.and)
}

func (p *filterParser) and(inValue bool) (filter.Expression, error) {
	return p.logical(inValue, filter.AND, p.unary)
}

// logical parses operands joined by op, each parsed by operand, left to
// right.
func (p *filterParser) logical(inValue bool, op filter.LogicalOperator, operand func(bool) (filter.Expression, error)) (filter.Expression, error) {
	left, err := operand(inValue)
	if err != nil {
		return nil, err
	}
	for {
		save := p.i
		p.space()
		if !p.keyword(string(op)) {
			p.i = save
			return left, nil
		}
		p.space()
		right, err := operand(inValue)
		if err != nil {
			return nil, err
		}
		left = &filter.LogicalExpression{Left: left, Right: right, Operator: op}
	}
}

func (p *filterParser) unary(inValue bool) (filter.Expression, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, p.errorf("the filter nests deeper than %d levels", maxFilterDepth)
	}
	if p.eof() {
		return nil, p.errorf("the filter ends where an expression should start")
	}
	save := p.i
	if p.keyword("not") {
		p.space()
		if p.eof() || p.s[p.i] != '(' {
			p.i = save // an attribute named "not"
		} else {
			e, err := p.group(inValue)
			if err != nil {
				return nil, err
			}
			return &filter.NotExpression{Expression: e}, nil
		}
	}
	if p.s[p.i] == '(' {
		return p.group(inValue)
	}
	return p.comparison(inValue)
}

// group parses "(" filter ")".
func (p *filterParser) group(inValue bool) (filter.Expression, error) {
	return p.enclosed(inValue, ')')
}

// enclosed parses a filter after an opening bracket, up to the closing
// one, close.
func (p *filterParser) enclosed(inValue bool, close byte) (filter.Expression, error) {
	p.i++ // the opening bracket
	p.space()
	e, err := p.or(inValue)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.eof() || p.s[p.i] != close {
		return nil, p.errorf("expected '%c'", close)
	}
	p.i++
	return e, nil
}

// comparison parses an attribute expression, or a value path with its
// optional trailing comparison of a sub-attribute.
func (p *filterParser) comparison(inValue bool) (filter.Expression, error) {
	path, err := p.attrPath(inValue)
	if err != nil {
		return nil, err
	}
	if !p.eof() && p.s[p.i] == '[' {
		if inValue {
			return nil, p.errorf("a value filter cannot hold another value filter")
		}
		if path.SubAttribute != nil {
			return nil, p.errorf("a value filter applies to an attribute, not to the sub-attribute %s", path)
		}
		inner, err := p.enclosed(true, ']')
		if err != nil {
			return nil, err
		}
		vp := &filter.ValuePath{AttributePath: path, ValueFilter: inner}
		if p.eof() || p.s[p.i] != '.' {
			return vp, nil
		}
		// attr[filter].sub op value: the element matches both.
		p.i++
		start := p.i
		for !p.eof() && isNameChar(p.s[p.i]) {
			p.i++
		}
		sub := p.s[start:p.i]
		if !validName(sub) {
			return nil, p.errorf("expected a sub-attribute name after ']'")
		}
		cmp, err := p.operation(filter.AttributePath{AttributeName: sub})
		if err != nil {
			return nil, err
		}
		vp.ValueFilter = &filter.LogicalExpression{Left: inner, Right: cmp, Operator: filter.AND}
		return vp, nil
	}
	return p.operation(path)
}

// operation parses what follows an attribute path: " pr" or " op value".
func (p *filterParser) operation(path filter.AttributePath) (filter.Expression, error) {
	if p.eof() || (p.s[p.i] != ' ' && p.s[p.i] != '\t') {
		return nil, p.errorf("expected a space and an operator after %s", path)
	}
	p.space()
	start := p.i
	for !p.eof() && isNameChar(p.s[p.i]) {
		p.i++
	}
	op := filter.CompareOperator(strings.ToLower(p.s[start:p.i]))
	switch op {
	case filter.PR:
		return &filter.AttributeExpression{AttributePath: path, Operator: op}, nil
	case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW, filter.GT, filter.LT, filter.GE, filter.LE:
	default:
		p.i = start
		return nil, p.errorf("expected an operator (eq, ne, co, sw, ew, gt, lt, ge, le, pr) after %s, found %q", path, p.rest(12))
	}
	if p.eof() || (p.s[p.i] != ' ' && p.s[p.i] != '\t') {
		return nil, p.errorf("expected a space and a value after %s %s", path, op)
	}
	p.space()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	return &filter.AttributeExpression{AttributePath: path, Operator: op, CompareValue: v}, nil
}

// value parses a JSON string, number, true, false or null; or, leniently,
// a bare word as a string.
func (p *filterParser) value() (any, error) {
	if p.eof() {
		return nil, p.errorf("expected a value")
	}
	start := p.i
	if p.s[p.i] == '"' {
		p.i++
		for !p.eof() && p.s[p.i] != '"' {
			if p.s[p.i] == '\\' {
				p.i++
			}
			p.i++
		}
		if p.eof() {
			p.i = start
			return nil, p.errorf("unterminated string")
		}
		p.i++
		var s string
		if err := json.Unmarshal([]byte(p.s[start:p.i]), &s); err != nil {
			p.i = start
			return nil, p.errorf("bad string %s: %v", p.s[start:min(p.i, start+24)], err)
		}
		return s, nil
	}
	for !p.eof() && strings.IndexByte(" \t\r\n)]", p.s[p.i]) < 0 {
		p.i++
	}
	tok := p.s[start:p.i]
	switch strings.ToLower(tok) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	if tok == "" {
		return nil, p.errorf("expected a value (a string in double quotes, a number, true, false or null)")
	}
	var n json.Number
	if err := json.Unmarshal([]byte(tok), &n); err != nil {
		// A bare word (userName sw O, meta.created gt 2015-10-10T14:38:21Z):
		// not RFC 7644's grammar, which wants a JSON string, but it can
		// mean nothing else, and clients send it. A word with a quote or
		// backslash in it is refused: it is not a word.
		if strings.ContainsAny(tok, `"\'`) {
			p.i = start
			return nil, p.errorf("expected a value (a string in double quotes, a number, true, false or null), found %q", tok)
		}
		return tok, nil
	}
	if i, err := n.Int64(); err == nil {
		return int(i), nil
	}
	f, err := n.Float64()
	if err != nil {
		p.i = start
		return nil, p.errorf("number %s is out of range", tok)
	}
	return f, nil
}

// attrPath parses [URI ":"] ATTRNAME ["." ATTRNAME]. Inside a value
// filter only a bare sub-attribute name is allowed.
func (p *filterParser) attrPath(inValue bool) (filter.AttributePath, error) {
	start := p.i
	for !p.eof() && (isNameChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '.') {
		p.i++
	}
	tok := p.s[start:p.i]
	var path filter.AttributePath
	if tok == "" {
		return path, p.errorf("expected an attribute name, found %q", p.rest(12))
	}
	rest := tok
	if len(tok) > 4 && strings.EqualFold(tok[:4], "urn:") {
		// The URN may hold dots ("2.0"); the attribute follows its last ':'.
		i := strings.LastIndexByte(tok, ':')
		uri := tok[:i]
		path.URIPrefix, rest = &uri, tok[i+1:]
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validName(name) || (hasSub && !validName(sub)) || (inValue && (hasSub || path.URIPrefix != nil)) {
		p.i = start
		if inValue {
			return path, p.errorf("expected a sub-attribute name inside [...], found %q", tok)
		}
		return path, p.errorf("%q is not an attribute path (attribute, attribute.subAttribute, or a schema URN followed by ':' and one of these)", tok)
	}
	path.AttributeName = name
	if hasSub {
		path.SubAttribute = &sub
	}
	return path, nil
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '$'
}

// validName: ATTRNAME of RFC 7643 (ALPHA *(nameChar)), or "$ref".
func validName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) || s[i] == '$' {
			return false
		}
	}
	return true
}
