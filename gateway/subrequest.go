package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/scimgate/scimgate/gateway/auth"
)

// Sub-requests: /Bulk runs each operation, and /Me its request, as a
// request of its own through the gateway's routes, so that an operation is
// created, replaced, patched or deleted by exactly the code of the single
// request (validation, normalisation, the SCIM library, conditional LDAP
// writes, the scope check of its route) and answers the same.

// subrequestKey marks, in a sub-request's context, what it inherits from
// the request that makes it. Only the gateway sets it: a client cannot.
type subrequestKey struct{}

type subrequestInfo struct {
	id              string         // the sub-request's id: the parent's, a dot, a number
	clientRequestID string         // the parent's
	remote          string         // the parent's client
	identity        *auth.Identity // who it acts for, in place of a bearer token
	baseURL         string
	log             *zap.Logger
	subOptions
}

// subOptions are what a sub-request's parent asks of it.
type subOptions struct {
	// frozen are the attributes its writes must leave as they are
	// (ldapstore.Precondition.Frozen): /Me's.
	frozen []string
	// bodyless: the parent reads the sub-response's status and headers
	// only (/Bulk), so a group PATCH is not read back to answer it.
	bodyless bool
}

// subResponse is what a sub-request answered.
type subResponse struct {
	status int
	header http.Header
	body   []byte
}

// subrequest runs method path (under the base path; query included) with
// body on behalf of the request in ctx, acting as id, as o says, and
// returns its response. n numbers it within its parent, for the request id.
func (s *Server) subrequest(ctx context.Context, id *auth.Identity, n int, method, path string, header http.Header, body []byte, o subOptions) subResponse {
	parent := infoFrom(ctx)
	u, err := url.Parse(s.cfg.BasePath + path)
	if err != nil {
		return subError(newError(http.StatusBadRequest, "invalidPath", "%q is not a path.", path))
	}
	ctx = context.WithValue(ctx, subrequestKey{}, &subrequestInfo{
		id:              fmt.Sprintf("%s.%d", parent.id, n),
		clientRequestID: parent.clientRequestID,
		remote:          parent.remote,
		identity:        id,
		baseURL:         parent.baseURL,
		log:             parent.log,
		subOptions:      o,
	})
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return subError(newError(http.StatusBadRequest, "invalidPath", "%q is not a path.", path))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if len(body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", contentTypeSCIM)
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	s.echo.ServeHTTP(rec, req)
	return subResponse{status: rec.status, header: rec.header, body: rec.body.Bytes()}
}

// subError is a sub-request answered before it reached the routes.
func subError(e *scimError) subResponse {
	body, _ := e.MarshalJSON()
	return subResponse{status: e.Status, header: http.Header{}, body: body}
}
