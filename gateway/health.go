package gateway

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// healthz answers while the process serves: for liveness probes.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the directory answers, 503 otherwise: for
// readiness probes and load balancers.
func (s *Server) readyz(c echo.Context) error {
	if s.draining.Load() {
		e := newError(http.StatusServiceUnavailable, "", "Shutting down.")
		e.Header = http.Header{"Retry-After": {retryAfter}}
		return e
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	if err := s.store.Pool().Ping(ctx); err != nil {
		logFor(ctx).Warn("not ready", zap.Error(err))
		e := newError(http.StatusServiceUnavailable, "", "The directory is not reachable.")
		e.Header = http.Header{"Retry-After": {retryAfter}}
		return e
	}
	st := s.store.IndexStatus()
	// Lists are answered while the order index loads (by snapshots):
	// it does not decide readiness either; but say where it stands.
	body := map[string]string{"status": "ready",
		"index": fmt.Sprintf("users %s (%d), groups %s (%d)", st.Users, st.UsersEntries, st.Groups, st.GroupsEntries)}
	// Tokens already checked keep working while the authorization server
	// is away, so it does not decide readiness; but say so.
	if err := s.CheckAuthServer(ctx); err != nil {
		body["warning"] = "the authorization server has not been reached (new tokens get 503): see the log"
	}
	if s.auth == nil {
		body["warning"] = "authentication is bypassed: anyone who reaches this port can change the directory"
	}
	return c.JSON(http.StatusOK, body)
}
