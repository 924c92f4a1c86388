package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// The Janssen SCIM module's own endpoints, kept so that its clients and
// monitoring work unchanged: the metadata document at
// /.well-known/scim-configuration and the health check.

// scimConfiguration answers GET /.well-known/scim-configuration: Janssen's
// list of one document naming the endpoints.
func (s *Server) scimConfiguration(c echo.Context) error {
	base := s.baseURL(c)
	auth := []string{}
	if s.auth != nil {
		auth = append(auth, "oauth2")
	}
	doc := map[string]any{
		"version":                   "2.0",
		"authorization_supported":   auth,
		"user_endpoint":             base + "/Users",
		"group_endpoint":            base + "/Groups",
		"service_provider_endpoint": base + "/ServiceProviderConfig",
		"resource_types_endpoint":   base + "/ResourceTypes",
		"schemas_endpoint":          base + "/Schemas",
	}
	if s.bulk.MaxOperations > 0 {
		doc["bulk_endpoint"] = base + "/Bulk"
	}
	return c.JSON(http.StatusOK, []any{doc})
}

// healthCheck answers Janssen's health check: 200 while the process runs,
// saying whether the directory answers.
func (s *Server) healthCheck(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	db := "online"
	if err := s.store.Pool().Ping(ctx); err != nil {
		db = "offline"
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "running", "db_status": db})
}

// healthCheckPaths are where Janssen's clients look for the health check:
// /health-check, and under a Janssen base path /jans-scim/sys/health-check.
func (s *Server) healthCheckPaths() []string {
	paths := []string{"/health-check"}
	if first, _, ok := strings.Cut(strings.TrimPrefix(s.cfg.BasePath, "/"), "/"); ok && first != "" {
		paths = append(paths, "/"+first+"/sys/health-check")
	}
	return paths
}
