package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// resourceHandler is the SCIM library's ResourceHandler for one resource
// type: it calls ldapstore and reports failures through the request info
// (see fail).
type resourceHandler struct {
	store *ldapstore.Store
	kind  string // "User" or "Group"
	// patchResponse is the status of a PATCH without attributes: 200 or
	// 204 (users.patch_response, groups.patch_response).
	patchResponse int
}

var _ scim.ResourceHandler = resourceHandler{}

func (h resourceHandler) resources(ctx context.Context) (*ldapstore.Resources, error) {
	if h.kind == "Group" {
		return h.store.Groups(ctx)
	}
	return h.store.Users(ctx)
}

func (h resourceHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	rs, err := h.resources(r.Context())
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	res, err := rs.Create(r.Context(), attrs)
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	return libResource(r, res), nil
}

func (h resourceHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	rs, err := h.resources(r.Context())
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	res, err := rs.Get(r.Context(), id, infoFrom(r.Context()).projection)
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	// If-None-Match: a client's copy that is still current needs no body.
	if inm := preconditionOf(r.Header.Get("If-None-Match")); res.Version != "" && inm.Set() && inm.Holds(res.Version) {
		infoFrom(r.Context()).notModified = etag(res.Version)
		return scim.Resource{}, scimerrors.ScimErrorInternal
	}
	return libResource(r, res), nil
}

// GetAll is never called: lists are served by search.go, ahead of the
// library.
func (h resourceHandler) GetAll(r *http.Request, _ scim.ListRequestParams) (scim.Page, error) {
	return scim.Page{}, fail(r, errors.New("list reached the SCIM library"))
}

func (h resourceHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	rs, err := h.resources(r.Context())
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	res, err := rs.Replace(r.Context(), id, attrs, ifMatch(r))
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	return libResource(r, res), nil
}

func (h resourceHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	ri := infoFrom(r.Context())
	// A path-less value may carry the resource's own id (Okta sends it):
	// accepted when it is the id, refused otherwise.
	if given := ri.patchID; given != "" && given != id {
		return scim.Resource{}, fail(r, newError(http.StatusBadRequest, "mutability", "id is read-only: it cannot change from %s to %s.", id, given))
	}
	rs, err := h.resources(r.Context())
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	sops := make([]schema.Operation, len(ops))
	for i, op := range ops {
		sops[i] = schema.Operation{Op: op.Op, Path: op.Path, Value: op.Value}
	}
	withBody := ri.asked || h.patchResponse != http.StatusNoContent // RFC 7644 section 3.5.2
	if h.kind == "Group" {
		// The group is not read back here, whatever its size: answered
		// without a body, or streamed as a GET is (serveSCIM).
		version, err := rs.PatchQuietly(r.Context(), id, sops, ifMatch(r))
		if err != nil {
			return scim.Resource{}, fail(r, err)
		}
		ri.patched = &patched{status: http.StatusNoContent, version: version}
		if withBody {
			ri.patched.status = http.StatusOK
			if !ri.bodyless {
				ri.patched.group = id
			}
		}
		return scim.Resource{ID: id}, nil
	}
	res, err := rs.Patch(r.Context(), id, sops, ifMatch(r))
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	if !withBody {
		ri.patched = &patched{status: http.StatusNoContent, version: res.Version}
		return scim.Resource{ID: id}, nil
	}
	return libResource(r, res), nil
}

// patched is how serveSCIM answers a PATCH past the library: status with
// the ETag of version and no body, or, when group is set, that group
// streamed as a GET answers it.
type patched struct {
	status  int
	version string
	group   string
}

func (h resourceHandler) Delete(r *http.Request, id string) error {
	rs, err := h.resources(r.Context())
	if err != nil {
		return fail(r, err)
	}
	if err := rs.Delete(r.Context(), id, ifMatch(r)); err != nil {
		return fail(r, err)
	}
	return nil
}

func notYet(what string) *scimError {
	return newError(http.StatusNotImplemented, "", "%s is not supported by this version of scimgate yet.", what)
}

// fail records err as the request's failure, for serveSCIM to answer, and
// returns what the library needs to stop: a ScimError value whose own body
// is never sent.
func fail(r *http.Request, err error) error {
	infoFrom(r.Context()).failure = storeError(r.Context(), err)
	return scimerrors.ScimErrorInternal
}

// etag is a version as a weak entity tag: the directory's change number
// says the entry changed, not that its representation did byte for byte.
func etag(version string) string { return `W/"` + version + `"` }

// ifMatch is the precondition of a request's write: its If-Match header,
// and the attributes it must leave as they are.
func ifMatch(r *http.Request) ldapstore.Precondition {
	p := preconditionOf(r.Header.Get("If-Match"))
	p.Frozen = infoFrom(r.Context()).frozen
	return p
}

// checkPreconditions refuses an If-Match or If-None-Match header that
// holds no entity tag ("If-Match: ,"): treating it as absent would make a
// conditional write unconditional.
func checkPreconditions(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		for _, name := range []string{"If-Match", "If-None-Match"} {
			if v, ok := c.Request().Header[name]; ok && !preconditionOf(strings.Join(v, ",")).Set() {
				return newError(http.StatusBadRequest, "", "%s holds no entity tag: send \"*\" or the ETag of the resource, or leave the header out.", name)
			}
		}
		return next(c)
	}
}

// preconditionOf parses an If-Match or If-None-Match header: "*" or a list
// of entity tags, weak or strong (compared weakly, RFC 9110 section 8.8.3.2).
func preconditionOf(header string) ldapstore.Precondition {
	var p ldapstore.Precondition
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "":
		case t == "*":
			p.Any = true
		default:
			p.Versions = append(p.Versions, strings.Trim(strings.TrimPrefix(t, "W/"), `"`))
		}
	}
	return p
}

// libResource converts a stored resource for the library, which adds id,
// schemas and meta: externalId moves to its place, references get their
// $ref, the version becomes meta.version and the ETag.
func libResource(r *http.Request, res ldapstore.Resource) scim.Resource {
	out := scim.Resource{ID: res.ID, Attributes: res.Attributes}
	if v, ok := res.Attributes["externalId"].(string); ok {
		out.ExternalID = optional.NewString(v)
		delete(res.Attributes, "externalId")
	}
	if !res.Created.IsZero() {
		out.Meta.Created = &res.Created
	}
	if !res.LastModified.IsZero() {
		out.Meta.LastModified = &res.LastModified
	}
	if res.Version != "" {
		out.Meta.Version = etag(res.Version)
	}
	base := infoFrom(r.Context()).baseURL
	ref := func(el map[string]any, endpoint string) {
		if id, ok := el["value"].(string); ok {
			el["$ref"] = base + endpoint + id
		}
	}
	if members, ok := res.Attributes["members"].([]any); ok {
		for _, m := range members {
			if el, ok := m.(map[string]any); ok {
				ref(el, "/"+el["type"].(string)+"s/")
			}
		}
	}
	if groups, ok := res.Attributes["groups"].([]any); ok {
		for _, g := range groups {
			if el, ok := g.(map[string]any); ok {
				ref(el, "/Groups/")
			}
		}
	}
	if ent, ok := res.Attributes[schema.EnterpriseUserURN].(map[string]any); ok && !res.Kept {
		if mgr, ok := ent["manager"].(map[string]any); ok {
			ref(mgr, "/Users/")
		}
	}
	return out
}
