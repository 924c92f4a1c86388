package directory

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// ParseChanges parses the modify records of an LDIF text, as ldapmodify
// takes them (RFC 2849: "changetype: modify", then add, replace and delete
// parts, each ended by "-" or the record's end).
func ParseChanges(text string) ([]*ldap.ModifyRequest, error) {
	var reqs []*ldap.ModifyRequest
	var p changeParser
	for n, l := range unfold(text) {
		switch {
		case strings.HasPrefix(l, "#"):
			continue
		case strings.TrimSpace(l) == "":
			p.flush()
			p.req = nil
			continue
		case l == "-":
			p.flush()
			continue
		}
		name, value, err := field(n, l)
		if err != nil {
			return nil, err
		}
		if p.req == nil {
			if !strings.EqualFold(name, "dn") {
				return nil, fmt.Errorf("ldif line %d: a record must start with dn:, not %q", n+1, name)
			}
			p.req = ldap.NewModifyRequest(value, nil)
			reqs = append(reqs, p.req)
			continue
		}
		if err := p.line(name, value); err != nil {
			return nil, fmt.Errorf("ldif line %d: %w", n+1, err)
		}
	}
	p.flush()
	return reqs, nil
}

// changeParser is the state of ParseChanges within a record.
type changeParser struct {
	req    *ldap.ModifyRequest
	op     string // add, replace or delete: the part being read; "" between parts
	attr   string
	values []string
}

// line takes a line of a record after its dn.
func (p *changeParser) line(name, value string) error {
	switch op := strings.ToLower(name); {
	case op == "changetype":
		if !strings.EqualFold(value, "modify") {
			return fmt.Errorf("changetype %q: only modify is supported", value)
		}
	case p.op == "":
		if op != "add" && op != "replace" && op != "delete" {
			return fmt.Errorf("%q: want add:, replace: or delete:", name)
		}
		p.op, p.attr = op, value
	case !strings.EqualFold(name, p.attr):
		return fmt.Errorf("%s in the %s part of %s", name, p.op, p.attr)
	default:
		p.values = append(p.values, value)
	}
	return nil
}

// flush adds the part read to the request.
func (p *changeParser) flush() {
	switch p.op {
	case "add":
		p.req.Add(p.attr, p.values)
	case "replace":
		p.req.Replace(p.attr, p.values)
	case "delete":
		p.req.Delete(p.attr, p.values)
	}
	p.op, p.attr, p.values = "", "", nil
}

// ModifyLDIF applies the modify records of an LDIF text (see ParseChanges)
// as RootDN, in order.
func (i *Info) ModifyLDIF(ctx context.Context, text string) error {
	reqs, err := ParseChanges(text)
	if err != nil || len(reqs) == 0 {
		return err
	}
	c, err := i.Dial()
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	defer c.Close()
	for _, r := range reqs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.Modify(r); err != nil {
			return fmt.Errorf("directory: modify %s: %w", r.DN, err)
		}
	}
	return nil
}
