package schema

import "strings"

// Schema is a SCIM schema as RFC 7643 section 7 represents it. The JSON tags
// give the representation served under /Schemas (the gateway adds "schemas"
// and "meta").
type Schema struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Attributes  []Attribute `json:"attributes"`
}

// Attribute describes one attribute or sub-attribute of a schema.
type Attribute struct {
	Name            string      `json:"name"`
	Type            Type        `json:"type"`
	SubAttributes   []Attribute `json:"subAttributes,omitempty"`
	MultiValued     bool        `json:"multiValued"`
	Description     string      `json:"description"`
	Required        bool        `json:"required"`
	CanonicalValues []string    `json:"canonicalValues,omitempty"`
	CaseExact       bool        `json:"caseExact"`
	Mutability      Mutability  `json:"mutability"`
	Returned        Returned    `json:"returned"`
	Uniqueness      Uniqueness  `json:"uniqueness"`
	ReferenceTypes  []string    `json:"referenceTypes,omitempty"`
}

// Type is an attribute's data type (RFC 7643 section 2.3).
type Type string

// The SCIM data types.
const (
	String    Type = "string"
	Boolean   Type = "boolean"
	Decimal   Type = "decimal"
	Integer   Type = "integer"
	DateTime  Type = "dateTime"
	Binary    Type = "binary"
	Reference Type = "reference"
	Complex   Type = "complex"
)

// Mutability says when an attribute may be written (RFC 7643 section 7).
type Mutability string

// The mutability keywords.
const (
	ReadOnly  Mutability = "readOnly"
	ReadWrite Mutability = "readWrite"
	Immutable Mutability = "immutable"
	WriteOnly Mutability = "writeOnly"
)

// Returned says when an attribute appears in a response (RFC 7643 section 7).
type Returned string

// The returned keywords.
const (
	ReturnedAlways  Returned = "always"
	ReturnedNever   Returned = "never"
	ReturnedDefault Returned = "default"
	ReturnedRequest Returned = "request"
)

// Uniqueness says how an attribute's values must be unique (RFC 7643 section 7).
type Uniqueness string

// The uniqueness keywords.
const (
	UniquenessNone   Uniqueness = "none"
	UniquenessServer Uniqueness = "server"
	UniquenessGlobal Uniqueness = "global"
)

// Attribute returns the top-level attribute with the given name, compared
// case-insensitively as RFC 7643 section 2.1 requires.
func (s Schema) Attribute(name string) (Attribute, bool) {
	return findAttribute(s.Attributes, name)
}

// SubAttribute returns the sub-attribute with the given name, compared
// case-insensitively.
func (a Attribute) SubAttribute(name string) (Attribute, bool) {
	return findAttribute(a.SubAttributes, name)
}

func findAttribute(attrs []Attribute, name string) (Attribute, bool) {
	for _, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return Attribute{}, false
}

// Restrict returns a copy of s holding only the attributes for which keep
// reports true. keep is asked about every top-level attribute with sub == ""
// and, for complex attributes, about every sub-attribute; a complex attribute
// is kept when at least one of its sub-attributes is.
func (s Schema) Restrict(keep func(attr, sub string) bool) Schema {
	out := s
	out.Attributes = nil
	for _, a := range s.Attributes {
		if a.Type != Complex {
			if keep(a.Name, "") {
				out.Attributes = append(out.Attributes, a)
			}
			continue
		}
		c := a
		c.SubAttributes = nil
		for _, sa := range a.SubAttributes {
			if keep(a.Name, sa.Name) {
				c.SubAttributes = append(c.SubAttributes, sa)
			}
		}
		if len(c.SubAttributes) > 0 {
			out.Attributes = append(out.Attributes, c)
		}
	}
	return out
}
