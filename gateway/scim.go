package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/ldapstore"
)

// newLibrary builds the elimity SCIM server that parses and validates
// requests for the resource endpoints and calls resourceHandler. Its
// discovery documents are not used: discovery.go serves truthful ones.
func newLibrary(store *ldapstore.Store, cfg ServerConfig, logger scim.Logger) (scim.Server, error) {
	return scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{MaxResults: cfg.MaxResults, SupportFiltering: true},
		ResourceTypes: []scim.ResourceType{
			libResourceType("User", "/Users", store.Users, resourceHandler{store: store.Users, writable: true}),
			libResourceType("Group", "/Groups", store.Groups, resourceHandler{store: store.Groups}),
		},
	}, scim.WithLogger(logger))
}

func libResourceType(name, endpoint string, res *ldapstore.Resources, h scim.ResourceHandler) scim.ResourceType {
	core, exts := res.Mapping().Advertised()
	rt := scim.ResourceType{
		ID:       optional.NewString(name),
		Name:     name,
		Endpoint: endpoint,
		Schema:   withFilterable(libSchema(core)),
		Handler:  h,
	}
	for _, e := range exts {
		rt.SchemaExtensions = append(rt.SchemaExtensions, scim.SchemaExtension{Schema: libSchema(e)})
	}
	return rt
}

// serveSCIM hands a resource request to the SCIM library, then answers
// either the failure a handler recorded or the library's response with the
// fixes the library lacks: absolute meta.location, a Location header on 201,
// and itemsPerPage counting the resources returned.
func (s *Server) serveSCIM(c echo.Context) error {
	req := c.Request()
	ri := infoFrom(req.Context())
	u := *req.URL
	u.Path = strings.TrimPrefix(req.URL.Path, s.cfg.BasePath) // the library routes on "/Users/..."
	u.RawPath = ""
	// Read the body here: the library ignores read errors, which would turn
	// a body over the limit into a parse error instead of a 413.
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return err
	}
	inner := req.WithContext(req.Context())
	inner.URL = &u
	inner.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	s.lib.ServeHTTP(rec, inner)
	if ri.failure != nil {
		return ri.failure
	}
	body = rec.body.Bytes()
	if rec.status/100 == 2 && len(body) > 0 {
		var location string
		if body, location, err = fixResponse(body, ri.baseURL); err != nil {
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
	c.Response().WriteHeader(rec.status)
	_, err = c.Response().Write(body)
	return err
}

// fixResponse rewrites a resource or list response of the library; it
// returns the (first) resource's location.
func fixResponse(body []byte, baseURL string) ([]byte, string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, "", err
	}
	var location string
	if list, ok := doc["Resources"].([]any); ok {
		doc["itemsPerPage"] = len(list)
		for _, r := range list {
			if m, ok := r.(map[string]any); ok {
				absoluteLocation(m, baseURL)
			}
		}
	} else {
		location = absoluteLocation(doc, baseURL)
	}
	out, err := json.Marshal(doc)
	return out, location, err
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
