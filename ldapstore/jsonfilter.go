package ldapstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
	"github.com/scim2/filter-parser/v2"

	"github.com/scimgate/scimgate/schema"
)

// Filters over attributes stored as JSON documents (CodecJSON: the Janssen
// Server's jansEmail, jansPhoneValue, jansAddres, ...). LDAP can only search
// their text, which would match the wrong entries (a value in another
// sub-attribute, a prefix of a longer value). So a filter is split at its
// top-level "and": the conjuncts that touch such attributes become, in the
// LDAP filter, a narrowing that matches at least every right entry (a
// substring of the JSON text, or the attribute's presence), and are then
// checked exactly, entry by entry, against the resource read
// (schema.MatchesResource) while the order of the results is collected —
// so totalResults and paging stay exact. The cost: every entry the
// narrowing lets through is read whole once per query.

// wholeJSON returns the LDAP attribute holding whole elements of the
// attribute ap names as JSON documents, "" when there is none.
func (r *Resources) wholeJSON(ap filter.AttributePath) string {
	urn := ap.URI()
	if strings.EqualFold(urn, r.m.Schema.ID) {
		urn = ""
	}
	for _, m := range r.m.Lookup(urn, ap.AttributeName, "") {
		if m.SCIM.Sub == "" && m.Codec == schema.CodecJSON {
			return m.LDAP
		}
	}
	return ""
}

// jsonOnly reports whether a comparison on ap must be checked against the
// JSON documents: its attribute is stored so, and no other mapping holds
// exactly its sub-attribute (mail holds emails.value beside jansEmail).
func (r *Resources) jsonOnly(ap filter.AttributePath) (string, bool) {
	attr := r.wholeJSON(ap)
	if attr == "" {
		return "", false
	}
	sub := ap.SubAttributeName()
	if sub == "" {
		sub = "value"
	}
	urn := ap.URI()
	if strings.EqualFold(urn, r.m.Schema.ID) {
		urn = ""
	}
	for _, m := range r.m.Lookup(urn, ap.AttributeName, sub) {
		if strings.EqualFold(m.SCIM.Sub, sub) && m.SCIM.Type == "" && m.Codec != schema.CodecJSON {
			return "", false
		}
	}
	return attr, true
}

// touchesJSON reports whether e compares anything that only the JSON
// documents hold.
func (r *Resources) touchesJSON(e filter.Expression) bool {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		_, ok := r.jsonOnly(e.AttributePath)
		return ok
	case *filter.ValuePath:
		return r.wholeJSON(e.AttributePath) != ""
	case *filter.LogicalExpression:
		return r.touchesJSON(e.Left) || r.touchesJSON(e.Right)
	case *filter.NotExpression:
		return r.touchesJSON(e.Expression)
	}
	return false
}

// conjuncts flattens the top-level "and"s of e.
func conjuncts(e filter.Expression) []filter.Expression {
	if l, ok := e.(*filter.LogicalExpression); ok && !isOr(l.Operator) {
		return append(conjuncts(l.Left), conjuncts(l.Right)...)
	}
	return []filter.Expression{e}
}

// narrowing is an LDAP filter matching at least every entry e (which
// touches JSON documents) matches.
func (r *Resources) narrowing(e filter.Expression) string {
	switch e := e.(type) {
	case *filter.ValuePath:
		return "(" + r.wholeJSON(e.AttributePath) + "=*)"
	case *filter.AttributeExpression:
		attr, _ := r.jsonOnly(e.AttributePath)
		switch filter.CompareOperator(strings.ToLower(string(e.Operator))) {
		case filter.NE:
			return matchAll // also entries without the attribute
		case filter.EQ, filter.CO, filter.SW, filter.EW:
			if s, ok := e.CompareValue.(string); ok && plainJSONText(s) {
				return "(" + attr + "=*" + ldap.EscapeFilter(s) + "*)"
			}
		}
		return "(" + attr + "=*)"
	}
	return matchAll // a negation or a disjunction: checked exactly, not narrowed
}

// plainJSONText reports whether s appears as itself inside any JSON text
// holding it: no character that a JSON writer might escape.
func plainJSONText(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' {
			return false
		}
	}
	return true
}

// ldapFilterJSON is ldapFilter for filters that may touch JSON documents:
// it returns the LDAP filter and the conjuncts to check exactly.
func (r *Resources) ldapFilterJSON(ctx context.Context, conn *Conn, e filter.Expression, unassigned bool) (string, []filter.Expression, error) {
	if !r.touchesJSON(e) {
		f, err := r.ldapFilter(ctx, conn, e, unassigned)
		return f, nil, err
	}
	var parts []string
	var post []filter.Expression
	for _, c := range conjuncts(e) {
		if !r.touchesJSON(c) {
			f, err := r.ldapFilter(ctx, conn, c, unassigned)
			if err != nil {
				return "", nil, err
			}
			parts = append(parts, f)
			continue
		}
		// Refuse now what the exact check would: an unknown attribute.
		if _, err := schema.MatchesResource(r.schemas, map[string]any{}, c); err != nil {
			return "", nil, filterErrorf("%v", err)
		}
		// Entries without the JSON documents (written by another tool)
		// hold their values in the standard attributes only: the filter
		// over those, or, where LDAP cannot express it, their presence.
		native, err := r.ldapFilter(ctx, conn, c, unassigned)
		if err != nil {
			native = r.nativePresence(c)
		}
		narrow := or(r.narrowing(c), native)
		parts = append(parts, narrow)
		post = append(post, c)
	}
	return and(parts...), post, nil
}

// nativePresence matches the entries that hold, in a standard attribute,
// any value of an attribute e compares (a JSON home's fallbacks).
func (r *Resources) nativePresence(e filter.Expression) string {
	var attrs []filter.AttributePath
	var walk func(filter.Expression)
	walk = func(e filter.Expression) {
		switch e := e.(type) {
		case *filter.AttributeExpression:
			attrs = append(attrs, e.AttributePath)
		case *filter.ValuePath:
			attrs = append(attrs, e.AttributePath)
		case *filter.LogicalExpression:
			walk(e.Left)
			walk(e.Right)
		case *filter.NotExpression:
			walk(e.Expression)
		}
	}
	walk(e)
	var fs []string
	for _, ap := range attrs {
		urn := ap.URI()
		if strings.EqualFold(urn, r.m.Schema.ID) {
			urn = ""
		}
		for _, m := range r.m.Lookup(urn, ap.AttributeName, "") {
			if m.Codec != schema.CodecJSON {
				fs = append(fs, "("+m.LDAP+"=*)")
			}
		}
	}
	return or(fs...)
}

// exactly returns the check of the conjuncts ldapFilterJSON left to the
// gateway: an entry read whole passes when its resource matches them all.
func (r *Resources) exactly(post []filter.Expression) func(*ldap.Entry) bool {
	return func(e *ldap.Entry) bool {
		res, err := r.build(e, r.whole, nil, nil)
		if err != nil {
			return false
		}
		for _, p := range post {
			if m, err := schema.MatchesResource(r.schemas, res.Attributes, p); err != nil || !m {
				return false
			}
		}
		return true
	}
}

// postKey names the exact part of a query in the snapshot cache.
func postKey(post []filter.Expression) string {
	if len(post) == 0 {
		return ""
	}
	b, _ := json.Marshal(fmt.Sprint(post))
	return "\x00exact\x00" + string(b)
}
