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
	get := func(path string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
		// HEAD answers as GET does, without the body (net/http drops it).
		e.GET(path, h, mw...)
		e.HEAD(path, h, mw...)
	}
	get("/healthz", s.healthz)
	get("/readyz", s.readyz)
	// No /metrics here: it names the directory's URLs. It is on the
	// admin listener only (server.admin_listen).

	base := s.cfg.BasePath
	var discovery []echo.MiddlewareFunc
	if s.protectDiscovery {
		discovery = append(discovery, s.authenticate)
	}
	get(base+"/ServiceProviderConfig", s.serviceProviderConfig, discovery...)
	get(base+"/serviceConfiguration", s.serviceProviderConfig, discovery...) // Microsoft's reference tests ask for it
	get(base+"/Schemas", s.schemas, discovery...)
	get(base+"/Schemas/:id", s.schema, discovery...)
	get(base+"/ResourceTypes", s.resourceTypes, discovery...)
	get(base+"/ResourceTypes/:id", s.resourceType, discovery...)

	resource := func(method, path, scope string) {
		mw := []echo.MiddlewareFunc{s.authenticate, requireScope(scope), requireJSON, checkPreconditions}
		if method != http.MethodGet {
			// First, so that writes refused for want of a token or scope are
			// in the audit log too.
			mw = append([]echo.MiddlewareFunc{s.auditWrites}, mw...)
		}
		e.Add(method, base+path, s.serveSCIM, mw...)
		if method == http.MethodGet {
			e.Add(http.MethodHead, base+path, s.serveSCIM, mw...)
		}
	}
	for _, r := range []struct{ kind, path, read, write string }{
		{"User", "/Users", s.scopes.UsersRead, s.scopes.UsersWrite},
		{"Group", "/Groups", s.scopes.GroupsRead, s.scopes.GroupsWrite},
	} {
		get(base+r.path, s.list(r.kind), s.authenticate, requireScope(r.read))
		e.POST(base+r.path+"/.search", s.search(r.kind), s.authenticate, requireScope(r.read), requireJSON)
		resource(http.MethodPost, r.path, r.write)
		if r.kind == "Group" {
			get(base+r.path+"/:id", s.getGroup, s.authenticate, requireScope(r.read), checkPreconditions)
		} else {
			resource(http.MethodGet, r.path+"/:id", r.read)
		}
		resource(http.MethodPut, r.path+"/:id", r.write)
		resource(http.MethodPatch, r.path+"/:id", r.write)
		resource(http.MethodDelete, r.path+"/:id", r.write)
	}

	// Across resource types (bulk.go, rootsearch.go, me.go): each checks
	// the scopes of the resources it touches too.
	e.POST(base+"/Bulk", s.bulkHandler, s.authenticate, requireScope(s.scopes.Bulk), requireJSON)
	e.POST(base+"/.search", s.rootSearch, s.authenticate, requireScope(s.scopes.AllResourcesSearch), requireJSON)
	e.Any(base+"/Me", s.meHandler, s.authenticate, requireJSON)

	// The Janssen SCIM module's own endpoints (janssen.go), anonymous as there.
	get("/.well-known/scim-configuration", s.scimConfiguration)
	for _, p := range s.healthCheckPaths() {
		get(p, s.healthCheck)
	}
}
