package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// resourceHandler serves one resource type's single-resource requests once
// the SCIM library has routed and validated them: each method calls
// ldapstore and returns its answer or its error (libHandler carries them
// past the library to serveSCIM).
type resourceHandler struct {
	store *ldapstore.Store
	kind  string // "User" or "Group"
	// patchResponse is the status of a PATCH without attributes: 200 or
	// 204 (users.patch_response, groups.patch_response).
	patchResponse int
}

// answer is what a resource handler answers with: a status, the ETag of
// version, and as body the resource, or the group named by group
// streamed as a GET answers it (stream.go), or none.
type answer struct {
	status   int
	version  string
	resource *ldapstore.Resource
	group    string
}

// withBody answers res with status, its version as the ETag.
func withBody(status int, res ldapstore.Resource) answer {
	return answer{status: status, version: res.Version, resource: &res}
}

func (h resourceHandler) resources(ctx context.Context) (*ldapstore.Resources, error) {
	if h.kind == "Group" {
		return h.store.Groups(ctx)
	}
	return h.store.Users(ctx)
}

func (h resourceHandler) create(r *http.Request, attrs map[string]any) (answer, error) {
	rs, err := h.resources(r.Context())
	if err != nil {
		return answer{}, err
	}
	res, err := rs.Create(r.Context(), attrs)
	if err != nil {
		return answer{}, err
	}
	return withBody(http.StatusCreated, res), nil
}

func (h resourceHandler) get(r *http.Request, id string) (answer, error) {
	rs, err := h.resources(r.Context())
	if err != nil {
		return answer{}, err
	}
	res, err := rs.Get(r.Context(), id, infoFrom(r.Context()).projection)
	if err != nil {
		return answer{}, err
	}
	// If-None-Match: a client's copy that is still current needs no body.
	if inm := preconditionOf(r.Header.Get("If-None-Match")); res.Version != "" && inm.Set() && inm.Holds(res.Version) {
		return answer{status: http.StatusNotModified, version: res.Version}, nil
	}
	return withBody(http.StatusOK, res), nil
}

func (h resourceHandler) replace(r *http.Request, id string, attrs map[string]any) (answer, error) {
	rs, err := h.resources(r.Context())
	if err != nil {
		return answer{}, err
	}
	res, err := rs.Replace(r.Context(), id, attrs, ifMatch(r))
	if err != nil {
		return answer{}, err
	}
	return withBody(http.StatusOK, res), nil
}

func (h resourceHandler) patch(r *http.Request, id string, ops []schema.Operation) (answer, error) {
	ri := infoFrom(r.Context())
	// A path-less value may carry the resource's own id (Okta sends it):
	// accepted when it is the id, refused otherwise.
	if given := ri.patchID; given != "" && given != id {
		return answer{}, newError(http.StatusBadRequest, "mutability", "id is read-only: it cannot change from %s to %s.", id, given)
	}
	rs, err := h.resources(r.Context())
	if err != nil {
		return answer{}, err
	}
	withBody := ri.asked || h.patchResponse != http.StatusNoContent // RFC 7644 section 3.5.2
	if h.kind == "Group" {
		return h.patchGroup(r, rs, id, ops, withBody)
	}
	res, err := rs.Patch(r.Context(), id, ops, ifMatch(r))
	if err != nil {
		return answer{}, err
	}
	if !withBody {
		return answer{status: http.StatusNoContent, version: res.Version}, nil
	}
	return answer{status: http.StatusOK, version: res.Version, resource: &res}, nil
}

// patchGroup applies a group PATCH without reading the group back,
// whatever its size: answered without a body, or streamed as a GET is.
func (h resourceHandler) patchGroup(r *http.Request, rs *ldapstore.Resources, id string, ops []schema.Operation, withBody bool) (answer, error) {
	version, err := rs.PatchQuietly(r.Context(), id, ops, ifMatch(r))
	if err != nil {
		return answer{}, err
	}
	a := answer{status: http.StatusNoContent, version: version}
	if withBody {
		a.status = http.StatusOK
		if !infoFrom(r.Context()).bodyless {
			a.group = id
		}
	}
	return a, nil
}

func (h resourceHandler) delete(r *http.Request, id string) (answer, error) {
	rs, err := h.resources(r.Context())
	if err != nil {
		return answer{}, err
	}
	if err := rs.Delete(r.Context(), id, ifMatch(r)); err != nil {
		return answer{}, err
	}
	return answer{status: http.StatusNoContent}, nil
}

// libHandler is the SCIM library's ResourceHandler: the library routes a
// request and validates its body, then calls it. It hands the
// resourceHandler's answer or error to serveSCIM through the request's
// outcome and gives the library a stop in return, because the library
// would encode a resource its own way (a relative location, every schema
// listed) and passes only a few statuses per method (no 304, no 503):
// serveSCIM answers, encoding the resource once.
type libHandler struct{ h resourceHandler }

var _ scim.ResourceHandler = libHandler{}

// outcome is where libHandler leaves a handler's result for serveSCIM;
// done is false when the library answered without calling a handler (a
// body or path it refused).
type outcome struct {
	answer answer
	err    error
	done   bool
}

type outcomeKey struct{}

func withOutcome(r *http.Request, o *outcome) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), outcomeKey{}, o))
}

// settle records a handler's result and returns the library's stop: a
// ScimError value (one the library can pass) whose body is never sent.
func settle(r *http.Request, a answer, err error) error {
	if o, ok := r.Context().Value(outcomeKey{}).(*outcome); ok {
		*o = outcome{answer: a, err: err, done: true}
	}
	return scimerrors.ScimErrorInternal
}

func (l libHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	a, err := l.h.create(r, attrs)
	return scim.Resource{}, settle(r, a, err)
}

func (l libHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	a, err := l.h.get(r, id)
	return scim.Resource{}, settle(r, a, err)
}

// GetAll is never called: lists are served by search.go, ahead of the
// library.
func (l libHandler) GetAll(r *http.Request, _ scim.ListRequestParams) (scim.Page, error) {
	return scim.Page{}, settle(r, answer{}, errors.New("list reached the SCIM library"))
}

func (l libHandler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	a, err := l.h.replace(r, id, attrs)
	return scim.Resource{}, settle(r, a, err)
}

func (l libHandler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	sops := make([]schema.Operation, len(ops))
	for i, op := range ops {
		sops[i] = schema.Operation{Op: op.Op, Path: op.Path, Value: op.Value}
	}
	a, err := l.h.patch(r, id, sops)
	return scim.Resource{}, settle(r, a, err)
}

func (l libHandler) Delete(r *http.Request, id string) error {
	a, err := l.h.delete(r, id)
	return settle(r, a, err)
}

func notYet(what string) *scimError {
	return newError(http.StatusNotImplemented, "", "%s is not supported by this version of scimgate yet.", what)
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
