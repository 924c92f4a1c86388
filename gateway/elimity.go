package gateway

import (
	"slices"

	"github.com/elimity-com/scim/optional"
	lib "github.com/elimity-com/scim/schema"

	"github.com/scimgate/scimgate/schema"
)

// libSchema converts one of our schemas into the SCIM library's form, which
// it validates request bodies, PATCH paths and filters against.
func libSchema(s schema.Schema) lib.Schema {
	out := lib.Schema{ID: s.ID, Name: optional.NewString(s.Name), Description: optional.NewString(s.Description)}
	for _, a := range s.Attributes {
		if a.Type == schema.Complex {
			subs := make([]lib.SimpleParams, 0, len(a.SubAttributes))
			for _, sa := range a.SubAttributes {
				subs = append(subs, libSimple(sa))
			}
			out.Attributes = append(out.Attributes, lib.ComplexCoreAttribute(lib.ComplexParams{
				Description:   optional.NewString(a.Description),
				MultiValued:   a.MultiValued,
				Mutability:    libMutability(a.Mutability),
				Name:          a.Name,
				Required:      a.Required,
				Returned:      libReturned(a.Returned),
				SubAttributes: subs,
				Uniqueness:    libUniqueness(a.Uniqueness),
			}))
			continue
		}
		out.Attributes = append(out.Attributes, lib.SimpleCoreAttribute(libSimple(a)))
	}
	out.Attributes = slices.Clip(out.Attributes)
	return out
}

// withFilterable adds the common attribute id to a schema given to the
// library, which otherwise refuses filters on it (the library consults only
// the resource's own schema). It is never advertised under /Schemas.
func withFilterable(s lib.Schema) lib.Schema {
	s.Attributes = append(s.Attributes, lib.SimpleCoreAttribute(lib.SimpleStringParams(lib.StringParams{
		Name:       "id",
		CaseExact:  true,
		Mutability: lib.AttributeMutabilityReadOnly(),
		Returned:   lib.AttributeReturnedAlways(),
		Uniqueness: lib.AttributeUniquenessServer(),
	})))
	// The library appends externalId to a copy of this schema on every
	// request; without spare capacity each append copies, rather than
	// writing into the array that concurrent requests share.
	s.Attributes = slices.Clip(s.Attributes)
	return s
}

func libSimple(a schema.Attribute) lib.SimpleParams {
	desc := optional.NewString(a.Description)
	m, r, u := libMutability(a.Mutability), libReturned(a.Returned), libUniqueness(a.Uniqueness)
	switch a.Type {
	case schema.Boolean:
		return lib.SimpleBooleanParams(lib.BooleanParams{Description: desc, MultiValued: a.MultiValued, Mutability: m, Name: a.Name, Required: a.Required, Returned: r})
	case schema.DateTime:
		return lib.SimpleDateTimeParams(lib.DateTimeParams{Description: desc, MultiValued: a.MultiValued, Mutability: m, Name: a.Name, Required: a.Required, Returned: r})
	case schema.Binary:
		return lib.SimpleBinaryParams(lib.BinaryParams{Description: desc, MultiValued: a.MultiValued, Mutability: m, Name: a.Name, Required: a.Required, Returned: r})
	case schema.Integer, schema.Decimal:
		t := lib.AttributeTypeDecimal()
		if a.Type == schema.Integer {
			t = lib.AttributeTypeInteger()
		}
		return lib.SimpleNumberParams(lib.NumberParams{Description: desc, MultiValued: a.MultiValued, Mutability: m, Name: a.Name, Required: a.Required, Returned: r, Type: t, Uniqueness: u})
	case schema.Reference:
		refs := make([]lib.AttributeReferenceType, 0, len(a.ReferenceTypes))
		for _, t := range a.ReferenceTypes {
			refs = append(refs, lib.AttributeReferenceType(t))
		}
		return lib.SimpleReferenceParams(lib.ReferenceParams{Description: desc, MultiValued: a.MultiValued, Mutability: m, Name: a.Name, ReferenceTypes: refs, Required: a.Required, Returned: r, Uniqueness: u})
	default:
		return lib.SimpleStringParams(lib.StringParams{CanonicalValues: a.CanonicalValues, CaseExact: a.CaseExact, Description: desc, MultiValued: a.MultiValued, Mutability: m, Name: a.Name, Required: a.Required, Returned: r, Uniqueness: u})
	}
}

func libMutability(m schema.Mutability) lib.AttributeMutability {
	switch m {
	case schema.ReadOnly:
		return lib.AttributeMutabilityReadOnly()
	case schema.Immutable:
		return lib.AttributeMutabilityImmutable()
	case schema.WriteOnly:
		return lib.AttributeMutabilityWriteOnly()
	}
	return lib.AttributeMutabilityReadWrite()
}

func libReturned(r schema.Returned) lib.AttributeReturned {
	switch r {
	case schema.ReturnedAlways:
		return lib.AttributeReturnedAlways()
	case schema.ReturnedNever:
		return lib.AttributeReturnedNever()
	case schema.ReturnedRequest:
		return lib.AttributeReturnedRequest()
	}
	return lib.AttributeReturnedDefault()
}

func libUniqueness(u schema.Uniqueness) lib.AttributeUniqueness {
	switch u {
	case schema.UniquenessServer:
		return lib.AttributeUniquenessServer()
	case schema.UniquenessGlobal:
		return lib.AttributeUniquenessGlobal()
	}
	return lib.AttributeUniquenessNone()
}
