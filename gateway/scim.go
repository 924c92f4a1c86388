package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// newLibrary builds the elimity SCIM server that parses and validates
// requests for the resource endpoints and calls libHandler (resources.go), with the
// schemas the directory can hold. Its discovery documents are not used:
// discovery.go serves truthful ones.
func (s *Server) newLibrary(users, groups *ldapstore.Resources) (scim.Server, error) {
	return scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{MaxResults: s.cfg.MaxResults, SupportFiltering: true, SupportPatch: true},
		ResourceTypes: []scim.ResourceType{
			libResourceType("User", "/Users", users, libHandler{resourceHandler{store: s.store, kind: "User", patchResponse: s.users.PatchResponse}}),
			libResourceType("Group", "/Groups", groups, libHandler{resourceHandler{store: s.store, kind: "Group", patchResponse: s.groups.PatchResponse}}),
		},
	}, scim.WithLogger(s.log.Sugar()))
}

func libResourceType(name, endpoint string, res *ldapstore.Resources, h scim.ResourceHandler) scim.ResourceType {
	s := res.Schemas()
	rt := scim.ResourceType{
		ID:       optional.NewString(name),
		Name:     name,
		Endpoint: endpoint,
		Schema:   withFilterable(libSchema(s.Core)),
		Handler:  h,
	}
	for _, e := range s.Extensions {
		rt.SchemaExtensions = append(rt.SchemaExtensions, scim.SchemaExtension{Schema: libSchema(e)})
	}
	return rt
}

// library returns the SCIM library, built when the store has first read the
// directory's schema, which decides what the library accepts.
func (s *Server) library(ctx context.Context) (*scim.Server, error) {
	if l := s.lib.Load(); l != nil {
		return l, nil
	}
	s.libMu.Lock()
	defer s.libMu.Unlock()
	if l := s.lib.Load(); l != nil {
		return l, nil
	}
	users, groups, err := s.resourceSets(ctx)
	if err != nil {
		return nil, err
	}
	l, err := s.newLibrary(users, groups)
	if err != nil {
		return nil, fmt.Errorf("scim library: %w", err)
	}
	s.lib.Store(&l)
	return &l, nil
}

// resourceSets returns the users and the groups, once the store has read
// the directory's schema.
func (s *Server) resourceSets(ctx context.Context) (users, groups *ldapstore.Resources, err error) {
	if users, err = s.store.Users(ctx); err != nil {
		return nil, nil, err
	}
	if groups, err = s.store.Groups(ctx); err != nil {
		return nil, nil, err
	}
	return users, groups, nil
}

// schemasOf returns the schemas of the resource type an endpoint path
// ("/Users/...") serves.
func (s *Server) schemasOf(ctx context.Context, path string) (schema.Schemas, error) {
	rs, err := s.store.Users(ctx)
	if strings.HasPrefix(path, "/Groups") {
		rs, err = s.store.Groups(ctx)
	}
	if err != nil {
		return schema.Schemas{}, err
	}
	return rs.Schemas(), nil
}

// serveSCIM hands a single-resource request to the SCIM library, which
// routes it, validates its body and calls the resource handler
// (resources.go); then it answers what the handler returned (answer), or
// what the library answered itself when it refused the request. Lists and
// searches are search.go's.
func (s *Server) serveSCIM(c echo.Context) error {
	req := c.Request()
	ri := infoFrom(req.Context())
	u := *req.URL
	u.Path = strings.TrimPrefix(req.URL.Path, s.cfg.BasePath) // the library routes on "/Users/..."
	u.RawPath = ""
	lib, err := s.library(req.Context())
	if err != nil {
		return err
	}
	schemas, err := s.schemasOf(req.Context(), u.Path)
	if err != nil {
		return err
	}
	body, err := s.requestBody(req, u.Path, schemas, ri)
	if err != nil {
		return err
	}
	// The library knows no attributes and excludedAttributes (RFC 7644
	// section 3.9): Get reads only what they ask, render cuts the rest.
	if q := u.Query(); q.Has("attributes") || q.Has("excludedAttributes") {
		p, err := schema.ParseProjection(q["attributes"], q["excludedAttributes"])
		if err != nil {
			return newError(http.StatusBadRequest, "invalidValue", "%v.", err)
		}
		ri.projection, ri.asked = p, true
	}
	if groupOverheadBypass(req) {
		ri.projection = ri.projection.Never("members.display")
	}
	var out outcome
	inner := withOutcome(req, &out)
	if inner.Method == http.MethodHead {
		inner.Method = http.MethodGet // the library knows GET; net/http drops the body
	}
	inner.URL = &u
	inner.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	lib.ServeHTTP(rec, inner)
	switch {
	case !out.done:
		return answerLibrary(c, rec)
	case out.err != nil:
		return storeError(req.Context(), out.err)
	}
	kind := "User"
	if strings.HasPrefix(u.Path, "/Groups") {
		kind = "Group"
	}
	return s.answer(c, out.answer, kind, schemas, ri.projection)
}

// requestBody reads a request's body and, when it has one, normalises it
// for the library and refuses what the directory could not keep. It is
// read here because the library ignores read errors, which would turn a
// body over the limit into a parse error instead of a 413.
func (s *Server) requestBody(req *http.Request, path string, schemas schema.Schemas, ri *requestInfo) ([]byte, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil || len(body) == 0 {
		return body, err
	}
	if body, err = (normalizer{s: schemas, maxOps: s.patch.MaxOperations, ri: ri}).normalize(body, req.Method); err != nil {
		return nil, err
	}
	return body, s.checkStorable(req, path, body)
}

// answer sends a resource handler's answer: the ETag, then the resource
// rendered (with a Location header on 201), the group streamed, or no
// body.
func (s *Server) answer(c echo.Context, a answer, kind string, sch schema.Schemas, p schema.Projection) error {
	if a.version != "" {
		c.Response().Header().Set("ETag", etag(a.version))
	}
	switch {
	case a.group != "":
		return s.writeGroup(c, a.group, p, ldapstore.Precondition{})
	case a.resource == nil:
		return c.NoContent(a.status)
	}
	if a.status == http.StatusCreated {
		// From the resource, not the rendered body: the projection may
		// leave meta out.
		c.Response().Header().Set(echo.HeaderLocation, location(infoFrom(c.Request().Context()).baseURL, kind, a.resource.ID))
	}
	return s.sendJSON(c, a.status, render(c.Request(), kind, sch, *a.resource, p))
}

// answerLibrary sends what the library answered when it refused a request
// before any handler ran (rec): its error document, status and headers.
func answerLibrary(c echo.Context, rec *recorder) error {
	h := c.Response().Header()
	for k, v := range rec.header {
		h[k] = v
	}
	body := rec.body.Bytes()
	if len(body) == 0 {
		h.Del(echo.HeaderContentType)
	}
	c.Response().WriteHeader(rec.status)
	_, err := c.Response().Write(body)
	return err
}

// checkStorable refuses a POST, PUT or PATCH body holding what the
// directory cannot keep (ldapstore.Resources.CheckStorable) before the
// SCIM library, which would drop unknown sub-attributes without a word or
// refuse a PATCH path with no word of why, sees it.
func (s *Server) checkStorable(req *http.Request, path string, body []byte) error {
	if req.Method != http.MethodPost && req.Method != http.MethodPut && req.Method != http.MethodPatch {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if dec.Decode(&doc) != nil {
		return nil // the library says what is wrong with it
	}
	rs, err := s.store.Users(req.Context())
	if strings.HasPrefix(path, "/Groups") {
		rs, err = s.store.Groups(req.Context())
	}
	if err != nil {
		return err
	}
	if req.Method != http.MethodPatch {
		return rs.CheckStorable(doc)
	}
	ops, _ := schema.Get(doc, "Operations").([]any)
	for _, o := range ops {
		op, _ := o.(map[string]any)
		name, _ := schema.Get(op, "op").(string)
		path, _ := schema.Get(op, "path").(string)
		if err := rs.CheckPatchStorable(name, path, schema.Get(op, "value")); err != nil {
			return err
		}
	}
	return nil
}

// presentSchemas lists the schemas of a resource as RFC 7643 section 3
// says: the core schema, and the extensions it holds attributes of.
func presentSchemas(s schema.Schemas, doc map[string]any) []string {
	out := []string{s.Core.ID}
	for _, e := range s.Extensions {
		if ext, ok := doc[e.ID].(map[string]any); ok && len(ext) > 0 {
			out = append(out, e.ID)
		}
	}
	return out
}

// recorder buffers what the library writes.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) Flush()                      {}

// groupOverheadBypass reports whether a request carries Janssen's
// Group-Overhead-Bypass (as a header or a query parameter, any value) on a
// group endpoint: then members come without display names, which costs
// the directory nothing but the member list.
func groupOverheadBypass(r *http.Request) bool {
	const name = "Group-Overhead-Bypass"
	if !strings.Contains(r.URL.Path, "/Groups") {
		return false
	}
	_, inHeader := r.Header[http.CanonicalHeaderKey(name)]
	return inHeader || r.URL.Query().Has(name)
}
