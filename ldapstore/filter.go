package ldapstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/scim2/filter-parser/v2"

	"github.com/scimgate/scimgate/schema"
)

// ErrInvalidFilter: a SCIM filter that cannot be expressed in LDAP.
var ErrInvalidFilter = errors.New("invalid filter")

// FilterError is an ErrInvalidFilter with a message fit for a client.
type FilterError struct{ Msg string }

func (e *FilterError) Error() string        { return e.Msg }
func (e *FilterError) Is(target error) bool { return target == ErrInvalidFilter }

func filterErrorf(format string, args ...any) error {
	return &FilterError{Msg: fmt.Sprintf(format, args...)}
}

// ldapFilter translates a parsed SCIM filter into one LDAP filter over the
// resources' mapping. Every value is escaped (RFC 4515), so no filter can
// widen the search beyond what it says.
func (res *Resources) ldapFilter(e filter.Expression) (string, error) {
	m := res.m
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if f, ok, err := activeFilter(m, e); ok {
			return f, err
		}
		if f, ok := res.idEquality(e); ok {
			return f, nil
		}
		return attributeFilter(m, e)
	case *filter.LogicalExpression:
		l, err := res.ldapFilter(e.Left)
		if err != nil {
			return "", err
		}
		r, err := res.ldapFilter(e.Right)
		if err != nil {
			return "", err
		}
		op := "&"
		if strings.EqualFold(string(e.Operator), string(filter.OR)) {
			op = "|"
		}
		return "(" + op + l + r + ")", nil
	case *filter.NotExpression:
		inner, err := res.ldapFilter(e.Expression)
		if err != nil {
			return "", err
		}
		return "(!" + inner + ")", nil
	case *filter.ValuePath:
		return "", filterErrorf("value filters such as %q are not supported yet", e.AttributePath.String()+"[...]")
	default:
		return "", filterErrorf("unsupported filter expression %T", e)
	}
}

// idEquality translates id eq/ne through the id's codec, as look-ups by id
// do: an objectGUID compares as its 16 octets, and a value that cannot be an
// id matches nothing.
func (res *Resources) idEquality(e *filter.AttributeExpression) (string, bool) {
	p := e.AttributePath
	op := filter.CompareOperator(strings.ToLower(string(e.Operator)))
	if p.URIPrefix != nil || p.SubAttribute != nil || !strings.EqualFold(p.AttributeName, "id") || (op != filter.EQ && op != filter.NE) {
		return "", false
	}
	id, _ := e.CompareValue.(string)
	f := res.idFilter(id)
	if f == "" {
		f = "(!(objectClass=*))"
	}
	if op == filter.NE {
		f = "(!" + f + ")"
	}
	return f, true
}

// activeFilter translates a comparison of "active" through its strategy.
func activeFilter(m schema.Resource, e *filter.AttributeExpression) (string, bool, error) {
	p := e.AttributePath
	if m.Active == nil || p.URIPrefix != nil || p.SubAttribute != nil || !strings.EqualFold(p.AttributeName, "active") {
		return "", false, nil
	}
	op := filter.CompareOperator(strings.ToLower(string(e.Operator)))
	if op == filter.PR {
		return "(objectClass=*)", true, nil // every user is active or not
	}
	want, ok := e.CompareValue.(bool)
	if !ok || (op != filter.EQ && op != filter.NE) {
		return "", true, filterErrorf("active compares with eq or ne and true or false")
	}
	if op == filter.NE {
		want = !want
	}
	a := m.Active
	var active string
	switch a.Kind {
	case schema.ActiveLock:
		active = "(!(" + a.Attribute + "=*))"
	case schema.ActiveBoolean:
		if a.Invert {
			active = "(!(" + a.Attribute + "=TRUE))"
		} else {
			active = "(|(" + a.Attribute + "=TRUE)(!(" + a.Attribute + "=*)))"
		}
	case schema.ActiveBitmask:
		// 1.2.840.113556.1.4.803 is the bitwise-AND matching rule, which AD
		// and OpenLDAP both implement.
		active = fmt.Sprintf("(!(%s:1.2.840.113556.1.4.803:=%d))", a.Attribute, a.Bit)
	}
	if want {
		return active, true, nil
	}
	return "(!" + active + ")", true, nil
}

func attributeFilter(m schema.Resource, e *filter.AttributeExpression) (string, error) {
	p := e.AttributePath
	var attrs []string
	if p.URIPrefix == nil && p.SubAttribute == nil && strings.EqualFold(p.AttributeName, "id") {
		attrs = []string{m.ID}
	} else {
		sub := p.SubAttributeName()
		for _, am := range m.Lookup(p.URI(), p.AttributeName, sub) {
			// "emails" alone means the values of a multi-valued attribute.
			if sub == "" && am.SCIM.Sub != "" && !strings.EqualFold(am.SCIM.Sub, "value") {
				continue
			}
			attrs = append(attrs, am.LDAP)
		}
	}
	if len(attrs) == 0 {
		return "", filterErrorf("attribute %q cannot be used in a filter: it is not stored in the directory", p.String())
	}
	value := ""
	if e.Operator != filter.PR {
		s, err := schema.CodecString.Encode(e.CompareValue)
		if err != nil || e.CompareValue == nil {
			return "", filterErrorf("%q: a comparison needs a value", p.String())
		}
		if str, isString := e.CompareValue.(string); isString {
			var err error
			if s, err = unescapeJSON(str); err != nil {
				return "", filterErrorf("%q: bad escape in the value: %v", p.String(), err)
			}
		}
		value = ldap.EscapeFilter(s)
	}
	var parts []string
	for _, a := range attrs {
		f, err := compare(a, e.Operator, value)
		if err != nil {
			return "", err
		}
		parts = append(parts, f)
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	if e.Operator == filter.NE {
		// Not equal to the value in any of the attributes.
		return "(&" + strings.Join(parts, "") + ")", nil
	}
	return "(|" + strings.Join(parts, "") + ")", nil
}

// unescapeJSON decodes the escapes of a JSON string (RFC 7644 filter values
// are JSON strings), which the filter parser leaves as they were written.
func unescapeJSON(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var out string
	err := json.Unmarshal([]byte(`"`+s+`"`), &out)
	return out, err
}

// compare builds one LDAP assertion; value is already escaped.
func compare(attr string, op filter.CompareOperator, value string) (string, error) {
	op = filter.CompareOperator(strings.ToLower(string(op)))
	if value == "" && (op == filter.CO || op == filter.SW || op == filter.EW) {
		op = filter.PR // every value contains, starts and ends with ""
	}
	switch op {
	case filter.PR:
		return "(" + attr + "=*)", nil
	case filter.EQ:
		return "(" + attr + "=" + value + ")", nil
	case filter.NE:
		return "(!(" + attr + "=" + value + "))", nil
	case filter.CO:
		return "(" + attr + "=*" + value + "*)", nil
	case filter.SW:
		return "(" + attr + "=" + value + "*)", nil
	case filter.EW:
		return "(" + attr + "=*" + value + ")", nil
	case filter.GE:
		return "(" + attr + ">=" + value + ")", nil
	case filter.LE:
		return "(" + attr + "<=" + value + ")", nil
	case filter.GT:
		return "(&(" + attr + ">=" + value + ")(!(" + attr + "=" + value + ")))", nil
	case filter.LT:
		return "(&(" + attr + "<=" + value + ")(!(" + attr + "=" + value + ")))", nil
	}
	return "", filterErrorf("unknown comparison operator %q", op)
}
