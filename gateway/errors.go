package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/schema"
)

// scimError is an error answered as a SCIM error body (RFC 7644 section 3.12).
type scimError struct {
	Status   int
	ScimType string
	Detail   string
	// Header holds extra response headers, e.g. WWW-Authenticate.
	Header http.Header
}

func (e *scimError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.ScimType, e.Detail) }

func (e *scimError) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Schemas  []string `json:"schemas"`
		Status   string   `json:"status"`
		ScimType string   `json:"scimType,omitempty"`
		Detail   string   `json:"detail,omitempty"`
	}{[]string{"urn:ietf:params:scim:api:messages:2.0:Error"}, strconv.Itoa(e.Status), e.ScimType, e.Detail})
}

func newError(status int, scimType, format string, args ...any) *scimError {
	return &scimError{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// retryAfter is the Retry-After, in seconds, of a 503.
const retryAfter = "5"

// storeError turns an error of ldapstore into the SCIM error a client sees.
// Internal detail (LDAP diagnostics, Go error text) goes to the log with the
// request id, never to the client.
func storeError(ctx context.Context, err error) *scimError {
	var se *scimError
	var fe *ldapstore.FilterError
	var ie *ldapstore.InvalidError
	var pe *schema.PatchError
	var ee *ldapstore.ExistsError
	var tm *ldapstore.TooManyError
	var fz *ldapstore.FrozenError
	var ce *ldapstore.ContentionError
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &pe):
		return newError(http.StatusBadRequest, pe.ScimType, "%s", pe.Msg)
	case errors.Is(err, ldapstore.ErrPrecondition):
		return newError(http.StatusPreconditionFailed, "", "The resource has changed: its version is no longer the one in If-Match.")
	case errors.As(err, &fz):
		return newError(http.StatusForbidden, "", "%s cannot be changed here: through /Me it is read-only (me.writable).", fz.Attr)
	case errors.As(err, &ce):
		// Not the directory's fault: other writers of the same resource.
		logFor(ctx).Warn("write contention: the resource kept changing under concurrent writes", zap.String("type", ce.Kind),
			zap.Int("attempts", ce.Attempts), zap.Duration("waited", ce.Waited), zap.Error(err))
		return newError(http.StatusConflict, "", "Other requests changed this %s at the same time, %d times in a row; "+
			"this change was not made. Retry it (request id %s).", ce.Kind, ce.Attempts, requestID(ctx))
	case errors.As(err, &ee):
		return newError(http.StatusConflict, "uniqueness", "%s is already taken by another resource.", ee.Attr)
	case errors.As(err, &fe):
		return newError(http.StatusBadRequest, "invalidFilter", "%s", fe.Msg)
	case errors.As(err, &tm) && tm.Directory:
		logFor(ctx).Warn("directory size limit", zap.Error(err))
		return newError(http.StatusBadRequest, "tooMany", "The directory lets this server read at most %d entries in one search, "+
			"fewer than the query matches. Narrow it with a filter, or ask the operator to lift the size limit of the gateway's bind DN "+
			"(request id %s).", tm.Limit, requestID(ctx))
	case errors.As(err, &tm):
		return newError(http.StatusBadRequest, "tooMany", "The query matches more than %d resources, the most this server orders for one query. "+
			"Narrow it with a filter (for example on meta.lastModified, or userName sw \"a\"), or ask the operator to raise search.max_candidates.", tm.Limit)
	case errors.Is(err, ldapstore.ErrNotFound):
		return newError(http.StatusNotFound, "", "Resource not found.")
	case errors.Is(err, ldapstore.ErrExists):
		return newError(http.StatusConflict, "uniqueness", "A resource with this name already exists.")
	case errors.As(err, &ie):
		logFor(ctx).Info("invalid value", zap.Error(err))
		return newError(http.StatusBadRequest, "invalidValue", "%s", ie.Msg)
	case errors.Is(err, ldapstore.ErrInvalid):
		logFor(ctx).Info("directory refused the values", zap.Error(err))
		return newError(http.StatusBadRequest, "invalidValue", "The directory refused these values (request id %s).", requestID(ctx))
	case errors.Is(err, ldapstore.ErrBusy):
		logFor(ctx).Warn("large queries queued past the deadline", zap.Error(err))
		return retryLater("This server is ordering as many large result sets as it may at once; retry later, "+
			"or narrow the query with a filter (request id %s).", requestID(ctx))
	case errors.Is(err, ldapstore.ErrUnavailable):
		logFor(ctx).Warn("directory unavailable", zap.Error(err))
		return retryLater("The directory is not available; retry later (request id %s).", requestID(ctx))
	case errors.Is(err, context.DeadlineExceeded):
		logFor(ctx).Warn("request deadline", zap.Error(err))
		return retryLater("The request took longer than this server allows (server.request_timeout); "+
			"retry later, or ask less of one request (request id %s).", requestID(ctx))
	}
	logFor(ctx).Error("request failed", zap.Error(err))
	return newError(http.StatusInternalServerError, "", "Internal error (request id %s).", requestID(ctx))
}

// retryLater is a 503 with Retry-After.
func retryLater(format string, args ...any) *scimError {
	e := newError(http.StatusServiceUnavailable, "", format, args...)
	e.Header = http.Header{"Retry-After": {retryAfter}}
	return e
}

// handleError is echo's HTTPErrorHandler: every error the gateway answers,
// those echo raises itself (404, 405, 413) included, becomes a SCIM error.
func handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var se *scimError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &se):
	case errors.As(err, &he):
		se = &scimError{Status: he.Code, Detail: http.StatusText(he.Code)}
		switch he.Code {
		case http.StatusNotFound:
			se.Detail = "No such endpoint."
		case http.StatusMethodNotAllowed:
			se.Detail = fmt.Sprintf("Method %s is not allowed here.", c.Request().Method)
		case http.StatusRequestEntityTooLarge:
			se.Detail = "The request body is too large."
		}
		if he.Code == http.StatusInternalServerError {
			logFor(c.Request().Context()).Error("request failed", zap.Error(err))
			se.Detail = fmt.Sprintf("Internal error (request id %s).", requestID(c.Request().Context()))
		}
	default:
		se = storeError(c.Request().Context(), err)
	}
	writeError(c, se)
}

func writeError(c echo.Context, se *scimError) {
	for k, vs := range se.Header {
		for _, v := range vs {
			c.Response().Header().Add(k, v)
		}
	}
	body, _ := json.Marshal(se)
	c.Response().Header().Set(echo.HeaderContentType, contentTypeSCIM)
	if c.Request().Method == http.MethodHead {
		c.Response().WriteHeader(se.Status)
		return
	}
	c.Response().WriteHeader(se.Status)
	c.Response().Write(body)
}
