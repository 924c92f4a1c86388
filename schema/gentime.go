package schema

import (
	"fmt"
	"strings"
	"time"
)

// ParseGeneralizedTime parses an LDAP GeneralizedTime (RFC 4517 section
// 3.3.13): YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|(+|-)HHMM). Minutes and
// seconds may be absent; a fraction applies to the last unit given.
func ParseGeneralizedTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("empty GeneralizedTime")
	}
	body, zone := s, ""
	if i := strings.IndexAny(s, "Z+-"); i >= 0 {
		body, zone = s[:i], s[i:]
	}
	var frac string
	if i := strings.IndexAny(body, ".,"); i >= 0 {
		body, frac = body[:i], body[i+1:]
	}
	layout := map[int]string{10: "2006010215", 12: "200601021504", 14: "20060102150405"}[len(body)]
	if layout == "" {
		return time.Time{}, fmt.Errorf("GeneralizedTime %q: bad length", s)
	}
	t, err := time.Parse(layout, body)
	if err != nil {
		return time.Time{}, fmt.Errorf("GeneralizedTime %q: %w", s, err)
	}
	if frac != "" {
		f, err := time.ParseDuration("0." + frac + "s")
		if err != nil {
			return time.Time{}, fmt.Errorf("GeneralizedTime %q: bad fraction", s)
		}
		unit := map[int]time.Duration{10: time.Hour, 12: time.Minute, 14: time.Second}[len(body)]
		t = t.Add(time.Duration(f.Seconds() * float64(unit)))
	}
	switch {
	case zone == "Z":
	case len(zone) == 5:
		off, err := time.Parse("-0700", zone)
		if err != nil {
			return time.Time{}, fmt.Errorf("GeneralizedTime %q: bad zone", s)
		}
		_, secs := off.Zone()
		t = t.Add(-time.Duration(secs) * time.Second)
	case zone == "":
		return time.Time{}, fmt.Errorf("GeneralizedTime %q: no time zone", s)
	default:
		return time.Time{}, fmt.Errorf("GeneralizedTime %q: bad zone", s)
	}
	return t.UTC(), nil
}
