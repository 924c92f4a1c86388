package gateway

import (
	"net/http"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimgate/scimgate/ldapstore"
)

// resourceHandler is the SCIM library's ResourceHandler for one resource
// type: it calls ldapstore and reports failures through the request info
// (see fail).
type resourceHandler struct {
	store *ldapstore.Resources
	// writable is false where this version reads and deletes the resource
	// type but cannot create or modify it yet.
	writable bool
}

var _ scim.ResourceHandler = resourceHandler{}

func (h resourceHandler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	if !h.writable {
		return scim.Resource{}, fail(r, notYet("Creating this resource type"))
	}
	res, err := h.store.Create(r.Context(), attrs)
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	return libResource(r, res), nil
}

func (h resourceHandler) Get(r *http.Request, id string) (scim.Resource, error) {
	res, err := h.store.Get(r.Context(), id)
	if err != nil {
		return scim.Resource{}, fail(r, err)
	}
	return libResource(r, res), nil
}

func (h resourceHandler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	q := ldapstore.Query{StartIndex: params.StartIndex, Count: params.Count}
	if params.FilterValidator != nil {
		q.Filter = params.FilterValidator.GetFilter()
	}
	page, err := h.store.List(r.Context(), q)
	if err != nil {
		return scim.Page{}, fail(r, err)
	}
	out := scim.Page{TotalResults: page.Total, Resources: make([]scim.Resource, 0, len(page.Resources))}
	for _, res := range page.Resources {
		out.Resources = append(out.Resources, libResource(r, res))
	}
	return out, nil
}

func (h resourceHandler) Replace(r *http.Request, _ string, _ scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, fail(r, notYet("PUT"))
}

func (h resourceHandler) Patch(r *http.Request, _ string, _ []scim.PatchOperation) (scim.Resource, error) {
	return scim.Resource{}, fail(r, notYet("PATCH"))
}

func (h resourceHandler) Delete(r *http.Request, id string) error {
	if err := h.store.Delete(r.Context(), id); err != nil {
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

// libResource converts a stored resource for the library, which adds id,
// schemas and meta. Members get their $ref.
func libResource(r *http.Request, res ldapstore.Resource) scim.Resource {
	out := scim.Resource{ID: res.ID, Attributes: res.Attributes}
	if !res.Created.IsZero() {
		out.Meta.Created = &res.Created
	}
	if !res.LastModified.IsZero() {
		out.Meta.LastModified = &res.LastModified
	}
	if members, ok := res.Attributes["members"].([]any); ok {
		base := infoFrom(r.Context()).baseURL
		for _, m := range members {
			if el, ok := m.(map[string]any); ok {
				el["$ref"] = base + "/" + el["type"].(string) + "s/" + el["value"].(string)
			}
		}
	}
	return out
}
