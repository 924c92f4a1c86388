package gateway

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// routes registers every endpoint. Discovery is anonymous unless
// auth.protect_discovery says otherwise, as in Janssen; resources need a
// bearer token holding the endpoint's scope (auth.go).
func (s *Server) routes() {
	e := s.echo
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)

	base := s.cfg.BasePath
	var discovery []echo.MiddlewareFunc
	if s.protectDiscovery {
		discovery = append(discovery, s.authenticate)
	}
	e.GET(base+"/ServiceProviderConfig", s.serviceProviderConfig, discovery...)
	e.GET(base+"/Schemas", s.schemas, discovery...)
	e.GET(base+"/Schemas/:id", s.schema, discovery...)
	e.GET(base+"/ResourceTypes", s.resourceTypes, discovery...)
	e.GET(base+"/ResourceTypes/:id", s.resourceType, discovery...)

	resource := func(method, path, scope string) {
		e.Add(method, base+path, s.serveSCIM, s.authenticate, requireScope(scope), requireJSON)
	}
	for _, r := range []struct{ kind, path, read, write string }{
		{"User", "/Users", s.scopes.UsersRead, s.scopes.UsersWrite},
		{"Group", "/Groups", s.scopes.GroupsRead, s.scopes.GroupsWrite},
	} {
		e.GET(base+r.path, s.list(r.kind), s.authenticate, requireScope(r.read))
		e.POST(base+r.path+"/.search", s.search(r.kind), s.authenticate, requireScope(r.read), requireJSON)
		resource(http.MethodPost, r.path, r.write)
		if r.kind == "Group" {
			e.GET(base+r.path+"/:id", s.getGroup, s.authenticate, requireScope(r.read))
		} else {
			resource(http.MethodGet, r.path+"/:id", r.read)
		}
		resource(http.MethodPut, r.path+"/:id", r.write)
		resource(http.MethodPatch, r.path+"/:id", r.write)
		resource(http.MethodDelete, r.path+"/:id", r.write)
	}

	// Endpoints of RFC 7644 that this version does not serve, and says so.
	notImplemented := func(c echo.Context) error { return notYet(c.Request().Method + " " + c.Path()) }
	e.Any(base+"/Me", notImplemented, s.authenticate)
	e.POST(base+"/Bulk", notImplemented, s.authenticate, requireScope(s.scopes.Bulk))
	e.POST(base+"/.search", notImplemented, s.authenticate, requireScope(s.scopes.AllResourcesSearch))
}
