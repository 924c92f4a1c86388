package schema

import (
	"context"
	"fmt"
	"testing"

	"github.com/scim2/filter-parser/v2"
)

// BenchmarkPatchValueFilters is the PATCH of the hardening issue: a user
// with n e-mails and n operations replace emails[value eq "..."].type, one
// per e-mail. Matching by value must not scan every value per operation.
//
//	go test -run '^$' -bench PatchValueFilters -benchtime 3x ./schema
func BenchmarkPatchValueFilters(b *testing.B) {
	schemas := Schemas{Core: User()}
	for _, n := range []int{1000, 10_000} {
		emails := make([]any, n)
		ops := make([]Operation, n)
		for i := range n {
			v := fmt.Sprintf("user%d@example.com", i)
			emails[i] = map[string]any{"value": v, "type": "work"}
			p, err := filter.ParsePath([]byte(`emails[value eq "` + v + `"].type`))
			if err != nil {
				b.Fatal(err)
			}
			ops[i] = Operation{Op: "replace", Path: &p, Value: "home"}
		}
		res := map[string]any{"userName": "many", "emails": emails}
		b.Run(fmt.Sprintf("values=%d,ops=%d", n, n), func(b *testing.B) {
			for range b.N {
				if _, err := Patch(context.Background(), schemas, res, ops); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
