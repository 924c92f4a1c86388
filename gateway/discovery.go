package gateway

import (
	"encoding/json"
	"net/http"
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
func scimJSON(c echo.Context, v any) error {
	return c.Blob(http.StatusOK, contentTypeSCIM, mustJSON(v))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps and slices of JSON values are passed
	}
	return b
}

func meta(c echo.Context, resourceType, path string) map[string]any {
	return map[string]any{"resourceType": resourceType, "location": infoFrom(c.Request().Context()).baseURL + path}
}

func (s *Server) serviceProviderConfig(c echo.Context) error {
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
	return scimJSON(c, map[string]any{
		"schemas":               []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"patch":                 map[string]any{"supported": false},
		"bulk":                  map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":                map[string]any{"supported": true, "maxResults": s.cfg.MaxResults},
		"changePassword":        map[string]any{"supported": false},
		"sort":                  map[string]any{"supported": false},
		"etag":                  map[string]any{"supported": false},
		"authenticationSchemes": schemes,
		"meta":                  meta(c, "ServiceProviderConfig", "/ServiceProviderConfig"),
	})
}

// advertisedSchemas are the schemas of the mapped resource types, each
// restricted to the attributes the directory stores.
func (s *Server) advertisedSchemas() []schema.Schema {
	users, userExts := s.store.Users.Mapping().Advertised()
	groups, _ := s.store.Groups.Mapping().Advertised()
	return append([]schema.Schema{users, groups}, userExts...)
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
	var docs []any
	for _, sc := range s.advertisedSchemas() {
		docs = append(docs, schemaDocument(c, sc))
	}
	return scimJSON(c, listResponse(docs))
}

func (s *Server) schema(c echo.Context) error {
	for _, sc := range s.advertisedSchemas() {
		if sc.ID == c.Param("id") {
			return scimJSON(c, schemaDocument(c, sc))
		}
	}
	return newError(http.StatusNotFound, "", "No schema %q.", c.Param("id"))
}

func (s *Server) resourceTypeDocuments(c echo.Context) []map[string]any {
	var out []map[string]any
	for _, rt := range []struct {
		name, endpoint string
		mapping        schema.Resource
	}{
		{"User", "/Users", s.store.Users.Mapping()},
		{"Group", "/Groups", s.store.Groups.Mapping()},
	} {
		core, exts := rt.mapping.Advertised()
		extensions := []any{}
		for _, e := range exts {
			extensions = append(extensions, map[string]any{"schema": e.ID, "required": false})
		}
		out = append(out, map[string]any{
			"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
			"id":               rt.name,
			"name":             rt.name,
			"endpoint":         rt.endpoint,
			"description":      core.Description,
			"schema":           core.ID,
			"schemaExtensions": extensions,
			"meta":             meta(c, "ResourceType", "/ResourceTypes/"+rt.name),
		})
	}
	return out
}

func (s *Server) resourceTypes(c echo.Context) error {
	var docs []any
	for _, d := range s.resourceTypeDocuments(c) {
		docs = append(docs, d)
	}
	return scimJSON(c, listResponse(docs))
}

func (s *Server) resourceType(c echo.Context) error {
	for _, d := range s.resourceTypeDocuments(c) {
		if strings.EqualFold(d["id"].(string), c.Param("id")) {
			return scimJSON(c, d)
		}
	}
	return newError(http.StatusNotFound, "", "No resource type %q.", c.Param("id"))
}
