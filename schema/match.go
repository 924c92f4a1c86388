package schema

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// Matches evaluates a value filter (the part in brackets of
// emails[type eq "work"]) against one element of a multi-valued complex
// attribute a. Sub-attribute names compare case-insensitively; string values
// compare as a's sub-attribute says (caseExact).
func Matches(a Attribute, element map[string]any, e filter.Expression) (bool, error) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		name := e.AttributePath.AttributeName
		if sub := e.AttributePath.SubAttributeName(); sub != "" {
			return false, fmt.Errorf("%s.%s: value filters compare sub-attributes, not deeper paths", name, sub)
		}
		sa, ok := a.SubAttribute(name)
		if !ok {
			return false, fmt.Errorf("%s has no sub-attribute %q", a.Name, name)
		}
		return compareValue(sa, Get(element, name), e.Operator, e.CompareValue)
	case *filter.LogicalExpression:
		l, err := Matches(a, element, e.Left)
		if err != nil {
			return false, err
		}
		r, err := Matches(a, element, e.Right)
		if err != nil {
			return false, err
		}
		if strings.EqualFold(string(e.Operator), string(filter.OR)) {
			return l || r, nil
		}
		return l && r, nil
	case *filter.NotExpression:
		m, err := Matches(a, element, e.Expression)
		return !m, err
	}
	return false, fmt.Errorf("unsupported value filter %T", e)
}

// compareValue applies one comparison of RFC 7644 section 3.4.2.2.
func compareValue(a Attribute, v any, op filter.CompareOperator, want any) (bool, error) {
	op = filter.CompareOperator(strings.ToLower(string(op)))
	if op == filter.PR {
		return v != nil && v != "", nil
	}
	if v == nil {
		return op == filter.NE, nil
	}
	switch a.Type {
	case Boolean:
		got, err1 := asBool(v)
		w, err2 := asBool(want)
		if err1 != nil || err2 != nil {
			return false, fmt.Errorf("%s: compare a boolean with true or false", a.Name)
		}
		switch op {
		case filter.EQ:
			return got == w, nil
		case filter.NE:
			return got != w, nil
		}
		return false, fmt.Errorf("%s: booleans compare with eq and ne only", a.Name)
	case Integer, Decimal:
		got, err1 := asFloat(v)
		w, err2 := asFloat(want)
		if err1 != nil || err2 != nil {
			return false, fmt.Errorf("%s: compare a number with a number", a.Name)
		}
		return ordered(op, cmpFloat(got, w))
	}
	gs, ok1 := v.(string)
	ws, ok2 := want.(string)
	if !ok1 || !ok2 {
		return false, fmt.Errorf("%s: compare a string with a string", a.Name)
	}
	if u, err := unquoteJSON(ws); err == nil {
		ws = u
	}
	if !a.CaseExact {
		gs, ws = strings.ToLower(gs), strings.ToLower(ws)
	}
	switch op {
	case filter.CO:
		return strings.Contains(gs, ws), nil
	case filter.SW:
		return strings.HasPrefix(gs, ws), nil
	case filter.EW:
		return strings.HasSuffix(gs, ws), nil
	}
	return ordered(op, strings.Compare(gs, ws))
}

func ordered(op filter.CompareOperator, c int) (bool, error) {
	switch op {
	case filter.EQ:
		return c == 0, nil
	case filter.NE:
		return c != 0, nil
	case filter.GT:
		return c > 0, nil
	case filter.GE:
		return c >= 0, nil
	case filter.LT:
		return c < 0, nil
	case filter.LE:
		return c <= 0, nil
	}
	return false, fmt.Errorf("operator %q does not apply here", op)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func asFloat(v any) (float64, error) {
	switch v := v.(type) {
	case json.Number:
		return v.Float64()
	case float64:
		return v, nil
	case int64:
		return float64(v), nil
	case int:
		return float64(v), nil
	}
	return 0, fmt.Errorf("not a number")
}

// unquoteJSON decodes the escapes of a JSON string, which the filter
// parser leaves as written.
func unquoteJSON(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var out string
	err := json.Unmarshal([]byte(`"`+s+`"`), &out)
	return out, err
}

// Get returns m[k] with k matched case-insensitively, as SCIM attribute
// names are.
func Get(m map[string]any, k string) any {
	if v, ok := m[k]; ok {
		return v
	}
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v
		}
	}
	return nil
}

// MatchesResource evaluates a filter against a resource (attributes keyed
// by name, extension attributes in a map under the extension's URN) as
// RFC 7644 section 3.4.2.2 says: a comparison of a multi-valued attribute
// holds when any value satisfies it ("ne" when none equals), a complex
// multi-valued attribute without a sub-attribute compares its "value".
// Attributes the schemas lack are an error; "id" and meta are not
// evaluated here (the directory filters on them).
func MatchesResource(s Schemas, res map[string]any, e filter.Expression) (bool, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := MatchesResource(s, res, e.Left)
		if err != nil {
			return false, err
		}
		if strings.EqualFold(string(e.Operator), string(filter.OR)) && l {
			return true, nil
		}
		if !strings.EqualFold(string(e.Operator), string(filter.OR)) && !l {
			return false, nil
		}
		return MatchesResource(s, res, e.Right)
	case *filter.NotExpression:
		m, err := MatchesResource(s, res, e.Expression)
		return !m, err
	case *filter.ValuePath:
		container, _, a, err := s.target(res, e.AttributePath, false)
		if err != nil {
			return false, err
		}
		list, _ := Get(container, a.Name).([]any)
		for _, el := range list {
			obj, ok := el.(map[string]any)
			if !ok {
				continue
			}
			m, err := Matches(a, obj, e.ValueFilter)
			if err != nil || m {
				return m, err
			}
		}
		return false, nil
	case *filter.AttributeExpression:
		container, _, a, err := s.target(res, e.AttributePath, false)
		if err != nil {
			return false, err
		}
		sub := e.AttributePath.SubAttributeName()
		op := filter.CompareOperator(strings.ToLower(string(e.Operator)))
		if sub == "" && a.Type == Complex {
			if op == filter.PR { // addresses pr: any element at all
				v := Get(container, a.Name)
				list, isList := v.([]any)
				return v != nil && (!isList || len(list) > 0), nil
			}
			sub = "value"
		}
		target := a
		if sub != "" {
			if target, err = subAttribute(a, sub); err != nil {
				return false, err
			}
		}
		var values []any
		collect := func(v any) {
			if sub == "" {
				values = append(values, v)
			} else if obj, ok := v.(map[string]any); ok {
				if sv := Get(obj, sub); sv != nil {
					values = append(values, sv)
				}
			}
		}
		switch v := Get(container, a.Name).(type) {
		case nil:
		case []any:
			for _, el := range v {
				collect(el)
			}
		default:
			collect(v)
		}
		if op == filter.NE {
			for _, v := range values {
				if eq, err := compareValue(target, v, filter.EQ, e.CompareValue); err != nil || eq {
					return false, err
				}
			}
			return true, nil
		}
		if len(values) == 0 {
			return compareValue(target, nil, op, e.CompareValue)
		}
		for _, v := range values {
			if m, err := compareValue(target, v, op, e.CompareValue); err != nil || m {
				return m, err
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("unsupported filter expression %T", e)
}

func subAttribute(a Attribute, sub string) (Attribute, error) {
	sa, ok := a.SubAttribute(sub)
	if !ok {
		return Attribute{}, fmt.Errorf("%s has no sub-attribute %q", a.Name, sub)
	}
	return sa, nil
}
