package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/scim2/filter-parser/v2"
	"github.com/scimgate/scimgate/schema"
)

// POST /.search at the root (RFC 7644 section 3.4.3): Users and Groups with
// one filter, in a defined order: every matching user, then every matching
// group, each type in its own order (sortBy where the type has the
// attribute, else by id). totalResults is the sum of the two totals, and
// startIndex and count page through the concatenation. An attribute only
// one type has is unassigned for the other (a comparison with it is false,
// "ne" true); an attribute neither has is an invalid filter.

// rootSearch answers POST /.search. Its route requires the all-resources
// search scope; each resource type's read scope is required here.
func (s *Server) rootSearch(c echo.Context) error {
	ctx := c.Request().Context()
	id := infoFrom(ctx).identity
	for _, scope := range []string{s.scopes.UsersRead, s.scopes.GroupsRead} {
		if !id.Has(scope) {
			return insufficientScope(scope)
		}
	}
	lq, err := searchRequest(c)
	if err != nil {
		return err
	}
	if lq.Cursor != nil {
		return newError(http.StatusBadRequest, "invalidValue", "A search at the root pages with startIndex and count; cursors are for /Users and /Groups.")
	}
	users, groups, err := s.resourceSets(ctx)
	if err != nil {
		return err
	}
	q, err := s.storeQuery("", lq)
	if err != nil {
		return err
	}
	q.Unassigned = true
	if q.Filter != nil {
		var unknown string
		walkPaths(q.Filter, func(ap filter.AttributePath) {
			if unknown == "" && !users.HasFilterAttribute(ap) && !groups.HasFilterAttribute(ap) {
				unknown = ap.String()
			}
		})
		if unknown != "" {
			return newError(http.StatusBadRequest, "invalidFilter", "%s: neither Users nor Groups have this attribute (or the directory does not store it).", unknown)
		}
	}
	userQ, groupQ := q, q
	if q.SortBy != "" {
		e, err := schema.ParseFilter(q.SortBy + " pr")
		ae, ok := e.(*filter.AttributeExpression)
		if err != nil || !ok {
			return newError(http.StatusBadRequest, "invalidValue", "sortBy %q is not an attribute path.", q.SortBy)
		}
		uHas, gHas := users.HasFilterAttribute(ae.AttributePath), groups.HasFilterAttribute(ae.AttributePath)
		if !uHas && !gHas {
			return newError(http.StatusBadRequest, "invalidValue", "sortBy %q: neither Users nor Groups have this attribute.", q.SortBy)
		}
		if !uHas {
			userQ.SortBy = ""
		}
		if !gHas {
			groupQ.SortBy = ""
		}
	}
	if _, bypass := c.Request().Header[http.CanonicalHeaderKey("Group-Overhead-Bypass")]; bypass || c.QueryParams().Has("Group-Overhead-Bypass") {
		groupQ.Projection = groupQ.Projection.Never("members.display")
	}

	// Users from startIndex; groups from where the users end.
	userPage, err := users.List(ctx, userQ)
	if err != nil {
		return storeError(ctx, err)
	}
	groupQ.StartIndex = max(q.StartIndex-userPage.Total, 1)
	groupQ.Count = q.Count - len(userPage.Resources)
	groupPage, err := groups.List(ctx, groupQ)
	if err != nil {
		return storeError(ctx, err)
	}
	resources := make([]any, 0, len(userPage.Resources)+len(groupPage.Resources))
	for _, r := range userPage.Resources {
		resources = append(resources, render(c.Request(), "User", users.Schemas(), r, userQ.Projection))
	}
	for _, r := range groupPage.Resources {
		resources = append(resources, render(c.Request(), "Group", groups.Schemas(), r, groupQ.Projection))
	}
	return s.scimJSON(c, map[string]any{
		"schemas":      []string{listResponseURN},
		"totalResults": userPage.Total + groupPage.Total,
		"itemsPerPage": len(resources),
		"startIndex":   q.StartIndex,
		"Resources":    resources,
	})
}

// walkPaths calls f with the attribute path of every comparison in e; for
// a value path (emails[type eq "work"]), the outer path.
func walkPaths(e filter.Expression, f func(filter.AttributePath)) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		f(e.AttributePath)
	case *filter.ValuePath:
		f(e.AttributePath)
	case *filter.LogicalExpression:
		walkPaths(e.Left, f)
		walkPaths(e.Right, f)
	case *filter.NotExpression:
		walkPaths(e.Expression, f)
	}
}
