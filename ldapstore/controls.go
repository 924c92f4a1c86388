package ldapstore

import (
	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// assertion is the assertion control of RFC 4528: the operation it rides on
// applies only if the filter holds on the target entry, atomically; else
// the server answers 122 assertionFailed and changes nothing. With the
// entry's version (entryCSN) as the filter it makes a write conditional on
// the entry being as it was read.
type assertion struct {
	filter string
	packet *ber.Packet
}

func newAssertion(filter string) (*assertion, error) {
	p, err := ldap.CompileFilter(filter)
	if err != nil {
		return nil, fmt.Errorf("assertion %s: %w", filter, err)
	}
	return &assertion{filter: filter, packet: p}, nil
}

func (a *assertion) GetControlType() string { return OIDAssertion }

func (a *assertion) Encode() *ber.Packet { return criticalControl(OIDAssertion, "Assertion", a.packet) }

// criticalControl encodes a critical control whose value is the packet.
func criticalControl(oid, name string, value *ber.Packet) *ber.Packet {
	p := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "Control")
	p.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, oid, "Control Type ("+name+")"))
	p.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, true, "Criticality"))
	v := ber.Encode(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, nil, "Control Value ("+name+")")
	v.AppendChild(value)
	p.AppendChild(v)
	return p
}

func (a *assertion) String() string {
	return fmt.Sprintf("Control Type: Assertion (%q)  Criticality: true  Filter: %s", OIDAssertion, a.filter)
}

// versionAssertion asserts that the entry is still at version, where the
// directory supports the assertion control.
func (r *Resources) versionAssertion(version string) ([]ldap.Control, error) {
	if r.m.Version == "" || version == "" || !r.st.dse.Supports(Feature{OID: OIDAssertion}) {
		return nil, nil
	}
	a, err := newAssertion("(" + r.m.Version + "=" + ldap.EscapeFilter(version) + ")")
	if err != nil {
		return nil, err
	}
	return []ldap.Control{a}, nil
}

// matchedValues is the matched values control of RFC 3876: a search
// returns only the values of the entry's attributes that one of the
// filters matches. Asking a group's member attribute with (member=X) for a
// few X says which of them are members, without reading the other
// 100,000.
type matchedValues struct {
	filters []string
	packet  *ber.Packet
}

func newMatchedValues(filters []string) (*matchedValues, error) {
	seq := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "ValuesReturnFilter")
	for _, f := range filters {
		p, err := ldap.CompileFilter(f)
		if err != nil {
			return nil, fmt.Errorf("matched values %s: %w", f, err)
		}
		seq.AppendChild(p)
	}
	return &matchedValues{filters: filters, packet: seq}, nil
}

func (m *matchedValues) GetControlType() string { return OIDMatchedValues }

func (m *matchedValues) Encode() *ber.Packet {
	return criticalControl(OIDMatchedValues, "Matched Values", m.packet)
}

func (m *matchedValues) String() string {
	return fmt.Sprintf("Control Type: Matched Values (%q)  Criticality: true  Filters: %v", OIDMatchedValues, m.filters)
}
