package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/schema"
)

const contentTypeSCIM = "application/scim+json"

// requestInfo is what the gateway knows of a request, kept in its context.
type requestInfo struct {
	id string // the gateway's own, answered in X-Request-Id
	// clientRequestID is the client's X-Request-Id, when it is plain: kept
	// beside the gateway's id in the logs, never in its place.
	clientRequestID string
	remote          string // the client's address (proxy.go)
	log             *zap.Logger
	baseURL         string         // absolute URL of the SCIM base path, for locations
	identity        *auth.Identity // who the request acts for; nil before authentication
	// asked: the request has attributes or excludedAttributes, so a PATCH
	// answers 200 with what they ask.
	asked bool
	// bodyless: the request is a sub-request whose parent reads its status
	// and headers only (/Bulk's), so a group PATCH is not read back.
	bodyless bool
	// patchID is an "id" a PATCH carried in a path-less value, which the
	// request normaliser took out for the handler to compare.
	patchID string
	// projection is what the attributes and excludedAttributes parameters
	// of a single-resource request ask.
	projection schema.Projection
	// frozen are attributes the request's writes must leave as they are
	// (a /Me sub-request's).
	frozen []string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{log: zap.NewNop()}
}

func logFor(ctx context.Context) *zap.Logger { return infoFrom(ctx).log }
func requestID(ctx context.Context) string   { return infoFrom(ctx).id }

// requestContext gives each request an id of the gateway's own (echoed in
// X-Request-Id; a client's plain X-Request-Id is kept as client_request_id),
// its client's address, its info, a logger carrying both ids, and the
// configured deadline, which every LDAP operation honours.
func (s *Server) requestContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		var ri *requestInfo
		if sub, ok := r.Context().Value(subrequestKey{}).(*subrequestInfo); ok {
			// A sub-request of /Bulk or /Me: its parent's identity, logger,
			// client and base URL, an id of its own.
			ri = &requestInfo{id: sub.id, clientRequestID: sub.clientRequestID, remote: sub.remote,
				log: sub.log.With(zap.String("subrequest_id", sub.id)), baseURL: sub.baseURL, identity: sub.identity,
				frozen: sub.frozen, bodyless: sub.bodyless}
		} else {
			ri = &requestInfo{id: newRequestID(), remote: s.proxies.client(r), baseURL: s.baseURL(c)}
			ri.log = s.log.With(zap.String("request_id", ri.id))
			if cid := r.Header.Get(echo.HeaderXRequestID); plainID(cid) {
				ri.clientRequestID = cid
				ri.log = ri.log.With(zap.String("client_request_id", cid))
			}
		}
		h := c.Response().Header()
		h.Set(echo.HeaderXRequestID, ri.id)
		// Answers hold personal data, or say something of it: no cache may
		// keep one, and no browser may read one as anything but its type.
		h.Set(echo.HeaderCacheControl, "no-store")
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), infoKey{}, ri), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(r.WithContext(ctx))
		return next(c)
	}
}

// plainID reports whether a client's X-Request-Id can go into the logs:
// short, of letters, digits, '-', '_' and '.'.
func plainID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// newRequestID returns a random id of 16 hex digits.
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// baseURL is the absolute URL of the SCIM endpoints as clients see them.
func (s *Server) baseURL(c echo.Context) string {
	if s.cfg.PublicURL != "" {
		return s.publicURL + s.cfg.BasePath
	}
	return s.proxies.scheme(c.Request()) + "://" + c.Request().Host + s.cfg.BasePath
}

// accessLog writes one line per request: never a header's value, so no
// token can reach the log. The identity (client, subject) comes with the
// request's logger once authenticated.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // writes the SCIM error now, so that the status is known
		}
		ri := infoFrom(c.Request().Context())
		route := c.Path()
		if !s.routeSet[route] {
			route = "unmatched" // a path no route serves: never a label of its own
		}
		s.metrics.observeRequest(route, c.Request().Method, c.Response().Status, time.Since(start))
		nameSpan(c.Request().Context(), c.Request().Method, route, ri.remote)
		fields := []zap.Field{
			zap.String("method", c.Request().Method),
			zap.String("route", c.Path()),
			zap.Int("status", c.Response().Status),
			zap.Duration("latency", time.Since(start)),
			zap.Int64("bytes", c.Response().Size),
			zap.String("remote", ri.remote),
		}
		ri.log.Info("request", fields...)
		return nil
	}
}

// requireJSON refuses request bodies that are not JSON: SCIM bodies are
// application/scim+json, and application/json is accepted too (RFC 7644
// section 3.8). curl -d without -H sends a form, which gets a clear 415.
func requireJSON(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength == 0 || (r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch) {
			return next(c)
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
		if err != nil || (mt != contentTypeSCIM && mt != echo.MIMEApplicationJSON) {
			return newError(http.StatusUnsupportedMediaType, "",
				"Send the body as Content-Type: application/scim+json (or application/json).")
		}
		return next(c)
	}
}

// endpointNames are the SCIM endpoints' path segments, as routed.
var endpointNames = []string{"Users", "Groups", "Bulk", "Me", ".search", "ServiceProviderConfig", "Schemas", "ResourceTypes", "serviceConfiguration"}

// canonicalPath routes what clients send loosely: the endpoint segment
// right under the base path matched without regard to case (/users is
// /Users), and a trailing slash dropped (/Users/?filter=... is /Users).
// Resource ids and everything else keep their case.
func (s *Server) canonicalPath(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		rest, ok := strings.CutPrefix(r.URL.Path, s.cfg.BasePath+"/")
		if !ok {
			return next(c)
		}
		rest = strings.TrimSuffix(rest, "/")
		first, tail, _ := strings.Cut(rest, "/")
		for _, name := range endpointNames {
			if strings.EqualFold(first, name) {
				first = name
				break
			}
		}
		p := s.cfg.BasePath + "/" + first
		if tail != "" {
			p += "/" + tail
		}
		if p != r.URL.Path {
			r.URL.Path, r.URL.RawPath = p, ""
		}
		return next(c)
	}
}
