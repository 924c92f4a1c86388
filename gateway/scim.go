package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// newLibrary builds the elimity SCIM server that parses and validates
// requests for the resource endpoints and calls resourceHandler, with the
// schemas the directory can hold. Its discovery documents are not used:
// discovery.go serves truthful ones.
func (s *Server) newLibrary(users, groups *ldapstore.Resources) (scim.Server, error) {
	return scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{MaxResults: s.cfg.MaxResults, SupportFiltering: true, SupportPatch: true},
		ResourceTypes: []scim.ResourceType{
			libResourceType("User", "/Users", users, resourceHandler{store: s.store, kind: "User", patchResponse: s.users.PatchResponse}),
			libResourceType("Group", "/Groups", groups, resourceHandler{store: s.store, kind: "Group", patchResponse: s.groups.PatchResponse}),
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

// serveSCIM hands a single-resource request to the SCIM library, then
// answers the failure a handler recorded, a PATCH the handler answers
// itself (answerPatched), or the library's response with the fixes it
// lacks (answerLibrary). Lists and searches are search.go's.
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
	// Read the body here: the library ignores read errors, which would turn
	// a body over the limit into a parse error instead of a 413.
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return err
	}
	if len(body) > 0 {
		if body, err = (normalizer{s: schemas, maxOps: s.patch.MaxOperations, ri: ri}).normalize(body, req.Method); err != nil {
			return err
		}
		if err := s.checkStorable(req, u.Path, body); err != nil {
			return err
		}
	}
	// The library knows no attributes and excludedAttributes (RFC 7644
	// section 3.9): Get reads only what they ask, fixResponse cuts the rest.
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
	inner := req.WithContext(req.Context())
	if inner.Method == http.MethodHead {
		inner.Method = http.MethodGet // the library knows GET; net/http drops the body
	}
	inner.URL = &u
	inner.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	lib.ServeHTTP(rec, inner)
	if ri.failure != nil {
		return ri.failure
	}
	if p := ri.patched; p != nil {
		return s.answerPatched(c, p, ri.projection)
	}
	if ri.notModified != "" {
		c.Response().Header().Set("ETag", ri.notModified)
		return c.NoContent(http.StatusNotModified)
	}
	return answerLibrary(c, rec, ri, schemas)
}

// answerPatched answers a PATCH the handler applied past the library: the
// group streamed, or the status with the new ETag and no body.
func (s *Server) answerPatched(c echo.Context, p *patched, proj schema.Projection) error {
	if p.group != "" {
		return s.writeGroup(c, p.group, proj, ldapstore.Precondition{})
	}
	if p.version != "" {
		c.Response().Header().Set("ETag", etag(p.version))
	}
	return c.NoContent(p.status)
}

// answerLibrary sends what the library answered (rec), with the fixes it
// lacks: absolute meta.location, a Location header on 201, the projection,
// and no Content-Type without a body (schemas are the resource type's).
func answerLibrary(c echo.Context, rec *recorder, ri *requestInfo, schemas schema.Schemas) error {
	body := rec.body.Bytes()
	if rec.status/100 == 2 && len(body) > 0 {
		var location string
		var err error
		if body, location, err = fixResponse(body, ri.baseURL, schemas, ri.projection); err != nil {
			return err
		}
		if rec.status == http.StatusCreated && location != "" {
			rec.header.Set(echo.HeaderLocation, location)
		}
	}
	h := c.Response().Header()
	for k, v := range rec.header {
		h[k] = v
	}
	if len(body) == 0 {
		h.Del(echo.HeaderContentType) // the library types every answer, a DELETE's 204 too
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

// fixResponse rewrites a resource response of the library: absolute
// meta.location, and the projection applied (core is the URN of the
// resource's core schema). It returns the resource's location.
func fixResponse(body []byte, baseURL string, s schema.Schemas, p schema.Projection) ([]byte, string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, "", err
	}
	location := absoluteLocation(doc, baseURL)
	p.Apply(s.Core.ID, doc)
	doc["schemas"] = presentSchemas(s, doc)
	out, err := appendJSON(make([]byte, 0, len(body)+64), doc) // as json.Marshal, without reflection
	return out, location, err
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

// absoluteLocation makes the library's relative meta.location ("Users/<id>")
// absolute and returns it.
func absoluteLocation(resource map[string]any, baseURL string) string {
	meta, ok := resource["meta"].(map[string]any)
	if !ok {
		return ""
	}
	rel, _ := meta["location"].(string)
	if rel == "" || strings.Contains(rel, "://") {
		return rel
	}
	loc := baseURL + "/" + strings.TrimPrefix(rel, "/")
	if _, err := url.Parse(loc); err != nil {
		return ""
	}
	meta["location"] = loc
	return loc
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
