package ldapstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Active Directory returns at most 1,500 values of an attribute at once
// (MaxValRange): past that, a group's member comes back as
// "member;range=0-1499", and the rest must be asked for as
// "member;range=1500-*", and so on, until a range ends in "*".

// valueRange is a parsed "attr;range=low-high" attribute description; high
// is -1 for "*", the last range.
type valueRange struct {
	attr      string
	low, high int
}

// parseRange parses an attribute description with a range option; ok is
// false for one without.
func parseRange(desc string) (valueRange, bool, error) {
	base, opts, found := strings.Cut(desc, ";")
	if !found {
		return valueRange{}, false, nil
	}
	for _, opt := range strings.Split(opts, ";") {
		spec, isRange := strings.CutPrefix(strings.ToLower(opt), "range=")
		if !isRange {
			continue
		}
		lo, hi, ok := strings.Cut(spec, "-")
		low, err := strconv.Atoi(lo)
		if !ok || err != nil || low < 0 {
			return valueRange{}, true, fmt.Errorf("bad range %q", desc)
		}
		r := valueRange{attr: base, low: low, high: -1}
		if hi != "*" {
			if r.high, err = strconv.Atoi(hi); err != nil || r.high < low {
				return valueRange{}, true, fmt.Errorf("bad range %q", desc)
			}
		}
		return r, true, nil
	}
	return valueRange{}, false, nil
}

// maxRangeRequests bounds the follow-up requests for one attribute:
// 100,000 values at AD's 1,500 a time take 67.
const maxRangeRequests = 10_000

// completeRanges gathers, for every ranged attribute of e, the values of all
// its ranges, fetching each next range with fetch, and puts them under the
// plain attribute name.
func completeRanges(e *ldap.Entry, fetch func(desc string) (*ldap.Entry, error)) error {
	for i := 0; i < len(e.Attributes); i++ {
		a := e.Attributes[i]
		r, ranged, err := parseRange(a.Name)
		if err != nil {
			return err
		}
		if !ranged {
			continue
		}
		values := append([]string(nil), a.Values...)
		raw := append([][]byte(nil), a.ByteValues...)
		for n := 0; r.high >= 0; n++ {
			if n >= maxRangeRequests {
				return fmt.Errorf("%s of %s: more than %d ranges", r.attr, e.DN, maxRangeRequests)
			}
			next, err := fetch(fmt.Sprintf("%s;range=%d-*", r.attr, r.high+1))
			if err != nil {
				return err
			}
			var got *ldap.EntryAttribute
			for _, na := range next.Attributes {
				if nr, ok, _ := parseRange(na.Name); ok && strings.EqualFold(nr.attr, r.attr) {
					got, r = na, nr
					break
				}
			}
			if got == nil {
				break // no more values
			}
			values = append(values, got.Values...)
			raw = append(raw, got.ByteValues...)
		}
		e.Attributes[i] = &ldap.EntryAttribute{Name: r.attr, Values: values, ByteValues: raw}
	}
	return nil
}

// ranged completes the ranged attributes of an entry read through conn.
func ranged(ctx context.Context, conn *Conn, e *ldap.Entry) error {
	return completeRanges(e, func(desc string) (*ldap.Entry, error) {
		res, err := conn.Search(ctx, ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			"(objectClass=*)", []string{desc}, nil))
		if err != nil {
			return nil, classify("read "+desc, err)
		}
		if len(res.Entries) != 1 {
			return nil, classify("read "+desc, ErrNotFound)
		}
		return res.Entries[0], nil
	})
}
