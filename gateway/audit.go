package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// The audit log: one structured line for every write — who (the token's
// identity), what (resource type, id, operation, the names of the
// attributes it changes), the result, and the request id (and the client's,
// client_request_id, when it sent a plain one). Never a value:
// no password, no e-mail address, no member id from a PATCH filter. Bulk
// operations and /Me requests are written through the same routes, so each
// gets its line, with its sub-request id.

// auditWrites is the middleware of the write routes.
func (s *Server) auditWrites(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.audit == nil {
			return next(c)
		}
		r := c.Request()
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := next(c); err != nil {
			c.Error(err) // answer now, so that the status is known
		}
		status := c.Response().Status
		ri := infoFrom(r.Context())
		kind := "User"
		if strings.Contains(c.Path(), "/Groups") {
			kind = "Group"
		}
		id := c.Param("id")
		if id == "" {
			if loc := c.Response().Header().Get(echo.HeaderLocation); loc != "" {
				id = path.Base(loc)
			}
		}
		result := "success"
		if status >= 400 {
			result = "failure"
		}
		fields := []zap.Field{
			zap.String("request_id", ri.id),
			zap.String("resource_type", kind),
			zap.String("id", id),
			zap.String("operation", operationOf(r.Method)),
			zap.Strings("attributes", changedAttributes(r.Method, body)),
			zap.Int("status", status),
			zap.String("result", result),
		}
		if ri.clientRequestID != "" {
			fields = append(fields, zap.String("client_request_id", ri.clientRequestID))
		}
		if ri.identity != nil {
			fields = append(fields, logFields(ri.identity)...)
		} else {
			fields = append(fields, zap.String("client", "")) // not authenticated
		}
		s.audit.Info("write", fields...)
		return nil
	}
}

func operationOf(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "replace"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return strings.ToLower(method)
}

// changedAttributes names what a write body changes, without any value:
// the attributes of a resource body (extension attributes as URN:name), or
// op:attribute for each PATCH operation (a path's filter and sub-attribute
// left out, as they may hold values).
func changedAttributes(method string, body []byte) []string {
	var doc map[string]any
	if json.Unmarshal(body, &doc) != nil {
		return []string{}
	}
	names := []string{}
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	resourceNames := func(m map[string]any, prefix string) {
		for k, v := range m {
			switch lk := strings.ToLower(k); {
			case lk == "schemas" || lk == "id" || lk == "meta":
			case strings.HasPrefix(lk, "urn:"):
				if ext, ok := v.(map[string]any); ok {
					for sub := range ext {
						add(prefix + k + ":" + sub)
					}
				} else {
					add(prefix + k)
				}
			default:
				add(prefix + k)
			}
		}
	}
	if method != http.MethodPatch {
		resourceNames(doc, "")
		slices.Sort(names)
		return names
	}
	var ops []any
	for k, v := range doc {
		if strings.EqualFold(k, "Operations") {
			ops, _ = v.([]any)
		}
	}
	for _, o := range ops {
		op, _ := o.(map[string]any)
		name, _ := op["op"].(string)
		name = strings.ToLower(name)
		p, _ := op["path"].(string)
		if p == "" {
			if value, ok := op["value"].(map[string]any); ok {
				resourceNames(value, name+":")
			}
			continue
		}
		attr := p
		if i := strings.IndexAny(attr, "["); i >= 0 {
			attr = attr[:i]
		}
		if !strings.HasPrefix(strings.ToLower(attr), "urn:") {
			attr, _, _ = strings.Cut(attr, ".")
		}
		add(name + ":" + strings.TrimSpace(attr))
	}
	return names
}
