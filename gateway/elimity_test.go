package gateway

import (
	"testing"

	"github.com/scimgate/scimgate/schema"
)

// The SCIM library appends to the Attributes of a copy of the schemas it is
// given, on every request; spare capacity would make concurrent requests
// write into one shared array (a data race the race detector found).
func TestLibrarySchemasHaveNoSpareCapacity(t *testing.T) {
	for _, s := range []schema.Schema{schema.User(), schema.Group(), schema.EnterpriseUser()} {
		for name, attrs := range map[string]int{
			"libSchema":      cap(libSchema(s).Attributes) - len(libSchema(s).Attributes),
			"withFilterable": cap(withFilterable(libSchema(s)).Attributes) - len(withFilterable(libSchema(s)).Attributes),
		} {
			if attrs != 0 {
				t.Errorf("%s(%s) leaves %d spare", name, s.Name, attrs)
			}
		}
	}
}
