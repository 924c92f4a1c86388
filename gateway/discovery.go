package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/schema"
)

// The discovery documents of RFC 7644 section 4, served by the gateway
// rather than the library, whose own ServiceProviderConfig claims features
// wrongly. Each says only what this gateway really does with this mapping.

const listResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

func listResponse(resources []any) map[string]any {
	return map[string]any{
		"schemas":      []string{listResponseURN},
		"totalResults": len(resources),
		"itemsPerPage": len(resources),
		"startIndex":   1,
		"Resources":    resources,
	}
}

// scimJSON answers 200 with v as application/scim+json.
func (s *Server) scimJSON(c echo.Context, v any) error {
	return s.sendJSON(c, http.StatusOK, v)
}

// sendJSON answers status with v as application/scim+json, encoded into a
// buffer kept between requests (jsonwrite.go).
func (s *Server) sendJSON(c echo.Context, status int, v any) error {
	buf := s.jsonBufs.get()
	defer s.jsonBufs.put(buf)
	b, err := appendJSON((*buf)[:0], v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	*buf = b
	return c.Blob(status, contentTypeSCIM, b)
}

func meta(c echo.Context, resourceType, path string) map[string]any {
	return map[string]any{"resourceType": resourceType, "location": infoFrom(c.Request().Context()).baseURL + path}
}

func (s *Server) serviceProviderConfig(c echo.Context) error {
	users, err := s.store.Users(c.Request().Context())
	if err != nil {
		return err
	}
	schemes := []any{}
	if s.auth != nil {
		schemes = append(schemes, map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "Authentication with a bearer token in the Authorization header.",
			"specUri":     "https://www.rfc-editor.org/info/rfc6750",
			"primary":     true,
		})
	}
	m := users.Mapping()
	return s.scimJSON(c, map[string]any{
		"schemas":        []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"patch":          map[string]any{"supported": true},
		"bulk":           map[string]any{"supported": s.bulk.MaxOperations > 0, "maxOperations": s.bulk.MaxOperations, "maxPayloadSize": s.bulk.MaxPayloadBytes},
		"filter":         map[string]any{"supported": true, "maxResults": s.cfg.MaxResults},
		"changePassword": map[string]any{"supported": m.Password != nil},
		"sort":           map[string]any{"supported": true},
		"pagination": map[string]any{ // RFC 9865
			"cursor":                  true,
			"index":                   true,
			"defaultPaginationMethod": "index",
			"defaultPageSize":         s.cfg.MaxResults,
			"maxPageSize":             s.cfg.MaxResults,
			"cursorTimeout":           int(s.cfg.CursorTimeout.Seconds()),
		},
		"etag":                  map[string]any{"supported": m.Version != ""},
		"authenticationSchemes": schemes,
		"meta":                  meta(c, "ServiceProviderConfig", "/ServiceProviderConfig"),
	})
}

// advertisedSchemas are the schemas of the resource types, each restricted
// to the attributes the directory stores, extensions last, each once.
func (s *Server) advertisedSchemas(ctx context.Context) ([]schema.Schema, error) {
	users, groups, err := s.resourceSets(ctx)
	if err != nil {
		return nil, err
	}
	u, g := users.Schemas(), groups.Schemas()
	out := []schema.Schema{withoutCommon(u.Core), withoutCommon(g.Core)}
	for _, e := range append(u.Extensions, g.Extensions...) {
		if !slices.ContainsFunc(out, func(x schema.Schema) bool { return x.ID == e.ID }) {
			out = append(out, e)
		}
	}
	return out, nil
}

// withoutCommon leaves out externalId, a common attribute of every
// resource that RFC 7643 keeps out of the resource schemas.
func withoutCommon(s schema.Schema) schema.Schema {
	s.Attributes = slices.DeleteFunc(slices.Clone(s.Attributes), func(a schema.Attribute) bool { return a.Name == "externalId" })
	return s
}

func schemaDocument(c echo.Context, sc schema.Schema) map[string]any {
	return map[string]any{
		"schemas":     []string{"urn:ietf:params:scim:schemas:core:2.0:Schema"},
		"id":          sc.ID,
		"name":        sc.Name,
		"description": sc.Description,
		"attributes":  sc.Attributes,
		"meta":        meta(c, "Schema", "/Schemas/"+sc.ID),
	}
}

func (s *Server) schemas(c echo.Context) error {
	all, err := s.advertisedSchemas(c.Request().Context())
	if err != nil {
		return err
	}
	var docs []any
	for _, sc := range all {
		docs = append(docs, schemaDocument(c, sc))
	}
	return s.scimJSON(c, listResponse(docs))
}

func (s *Server) schema(c echo.Context) error {
	all, err := s.advertisedSchemas(c.Request().Context())
	if err != nil {
		return err
	}
	for _, sc := range all {
		if sc.ID == c.Param("id") {
			return s.scimJSON(c, schemaDocument(c, sc))
		}
	}
	return newError(http.StatusNotFound, "", "No schema %q.", c.Param("id"))
}

func (s *Server) resourceTypeDocuments(c echo.Context) ([]map[string]any, error) {
	users, groups, err := s.resourceSets(c.Request().Context())
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, rt := range []struct {
		name, endpoint string
		schemas        schema.Schemas
	}{
		{"User", "/Users", users.Schemas()},
		{"Group", "/Groups", groups.Schemas()},
	} {
		extensions := []any{}
		for _, e := range rt.schemas.Extensions {
			extensions = append(extensions, map[string]any{"schema": e.ID, "required": false})
		}
		out = append(out, map[string]any{
			"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
			"id":               rt.name,
			"name":             rt.name,
			"endpoint":         rt.endpoint,
			"description":      rt.schemas.Core.Description,
			"schema":           rt.schemas.Core.ID,
			"schemaExtensions": extensions,
			"meta":             meta(c, "ResourceType", "/ResourceTypes/"+rt.name),
		})
	}
	return out, nil
}

func (s *Server) resourceTypes(c echo.Context) error {
	all, err := s.resourceTypeDocuments(c)
	if err != nil {
		return err
	}
	var docs []any
	for _, d := range all {
		docs = append(docs, d)
	}
	return s.scimJSON(c, listResponse(docs))
}

func (s *Server) resourceType(c echo.Context) error {
	all, err := s.resourceTypeDocuments(c)
	if err != nil {
		return err
	}
	for _, d := range all {
		if strings.EqualFold(d["id"].(string), c.Param("id")) {
			return s.scimJSON(c, d)
		}
	}
	return newError(http.StatusNotFound, "", "No resource type %q.", c.Param("id"))
}
