package gateway

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elimity-com/scim"
	libschema "github.com/elimity-com/scim/schema"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/scimgate/scimgate/gateway/auth"
	"github.com/scimgate/scimgate/ldapstore"
)

// Options are what a Server is built from.
type Options struct {
	Server ServerConfig
	Auth   auth.Config
	Bulk   BulkConfig
	Patch  PatchConfig
	Me     MeConfig
	// Users and Groups are the gateway's keys of the users and groups
	// sections.
	Users, Groups ResponseConfig
	Store         *ldapstore.Store
	Logger        *zap.Logger
	// Tracer, when set, gets a span per request and per LDAP operation
	// (OpenTelemetry); nil: no traces.
	Tracer trace.TracerProvider
	// Audit, when set, receives the audit log: one line per write.
	Audit *zap.Logger
	// LogLevel, when set, is changed at run time through the admin
	// listener's /loglevel.
	LogLevel *zap.AtomicLevel
}

// Server is the SCIM gateway's HTTP server.
type Server struct {
	cfg              ServerConfig
	jsonBufs         bufferPool // response buffers (jsonwrite.go)
	publicURL        string
	log              *zap.Logger
	store            *ldapstore.Store
	auth             auth.Authenticator // nil in bypass mode
	scopes           auth.Scopes
	protectDiscovery bool
	bulk             BulkConfig
	patch            PatchConfig
	me               MeConfig
	users, groups    ResponseConfig
	metrics          *metrics
	logLevel         *zap.AtomicLevel
	audit            *zap.Logger     // nil: no audit log
	limiter          *rateLimiter    // nil: no rate limit
	failures         *failureLimiter // failed authentications per address; nil: no limit
	maxTokenBytes    int
	proxies          proxies         // who a request comes from (proxy.go)
	routeSet         map[string]bool // registered route templates, for metrics labels
	draining         atomic.Bool     // shutting down: /readyz answers 503
	echo             *echo.Echo
	cursors          cursors

	libMu sync.Mutex
	lib   atomic.Pointer[scim.Server]
}

// New builds a server; it does not listen yet. The configuration must have
// been validated.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	s := &Server{
		cfg:              o.Server,
		publicURL:        strings.TrimSuffix(o.Server.PublicURL, "/"),
		log:              o.Logger,
		store:            o.Store,
		scopes:           o.Auth.Scopes,
		protectDiscovery: o.Auth.ProtectDiscovery,
		bulk:             o.Bulk,
		patch:            o.Patch,
		me:               o.Me,
		users:            o.Users,
		groups:           o.Groups,
		logLevel:         o.LogLevel,
		audit:            o.Audit,
		limiter:          newRateLimiter(o.Server.RateLimit, o.Server.RateBurst),
		failures:         newFailureLimiter(o.Auth.FailureRate, o.Auth.FailureBurst),
		maxTokenBytes:    cmp.Or(o.Auth.MaxTokenBytes, auth.DefaultConfig().MaxTokenBytes),
	}
	var err error
	if s.proxies, err = newProxies(o.Server); err != nil {
		return nil, err
	}
	if err := s.applyDefaults(o.Auth); err != nil {
		return nil, err
	}
	s.metrics = newMetrics(o.Store)
	obs := ldapObserver{m: s.metrics}
	if o.Tracer != nil {
		obs.tracer = o.Tracer.Tracer("github.com/scimgate/scimgate")
	}
	o.Store.Pool().SetObserver(obs)
	if err := s.setUpAuth(o.Auth); err != nil {
		return nil, err
	}
	if err := s.setUpCursors(o.Server); err != nil {
		return nil, err
	}
	// Entra ID sends booleans as "True"/"False": the library accepts them
	// only through this package-level switch.
	libschema.SetAllowStringValues(true)
	s.echo = s.newEcho(o)
	s.routes()
	s.routeSet = map[string]bool{}
	for _, r := range s.echo.Routes() {
		s.routeSet[r.Path] = true
	}
	return s, nil
}

// applyDefaults fills the sections left unconfigured and checks /Me's
// against the auth section.
func (s *Server) applyDefaults(ac auth.Config) error {
	if s.bulk == (BulkConfig{}) { // not configured: Janssen's limits
		s.bulk = DefaultBulkConfig()
	}
	if s.patch == (PatchConfig{}) {
		s.patch = DefaultPatchConfig()
	}
	s.users.PatchResponse = cmp.Or(s.users.PatchResponse, http.StatusOK)
	s.groups.PatchResponse = cmp.Or(s.groups.PatchResponse, http.StatusNoContent)
	if s.me.Attribute == "" {
		s.me.Attribute = DefaultMeConfig().Attribute
	}
	if s.me.Methods == nil {
		s.me.Methods = DefaultMeConfig().Methods
	}
	return s.me.Validate(ac)
}

// setUpAuth makes the authenticator of the configured mode.
func (s *Server) setUpAuth(c auth.Config) error {
	a, err := auth.New(c, s.log.Named("auth"), authObserver{m: s.metrics})
	if err != nil {
		return err
	}
	s.auth = a
	if c.Mode == auth.ModeBypass {
		s.log.Warn("AUTHENTICATION IS BYPASSED: every request is allowed, with every scope. " +
			"Use this only behind a network that admits nothing but your provisioning client.")
	}
	return nil
}

// setUpCursors sets the key that signs cursors: server.cursor_key_file's,
// else a random one of this process.
func (s *Server) setUpCursors(c ServerConfig) error {
	key, err := cursorKey(c.CursorKeyFile)
	if err != nil {
		return err
	}
	if key == nil {
		s.log.Warn("cursors are signed with a random key of this process: a cursor works only on the replica that issued it " +
			"(another answers 400 invalidCursor). Give every replica the same random key in server.cursor_key_file " +
			"for cursors that any replica accepts.")
		key = make([]byte, 32)
		rand.Read(key)
	}
	s.cursors = cursors{key: key, timeout: c.CursorTimeout, now: time.Now}
	return nil
}

// newEcho makes the echo server with the middleware every request goes
// through.
func (s *Server) newEcho(o Options) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = handleError
	e.IPExtractor = s.proxies.client // c.RealIP() too
	if o.Tracer != nil {
		e.Use(traceRequests(o.Tracer))
	}
	e.Pre(s.canonicalPath)
	e.Use(s.requestContext)
	e.Use(s.accessLog)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			logFor(c.Request().Context()).Error("panic", zap.Error(err), zap.ByteString("stack", stack))
			return err
		},
	}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Limit:   strconv.FormatInt(o.Server.MaxBodyBytes, 10) + "B",
		Skipper: func(c echo.Context) bool { return c.Request().URL.Path == o.Server.BasePath+"/Bulk" }, // bulk.max_payload_bytes: bulk.go
	}))
	return e
}

// cursorKey returns the key that signs cursors: the file's, or nil when
// there is none. It is never derived from another secret the gateway
// holds (bind password, client secret, tokens): a cursor is in every
// reader's hands, and its MAC would be an offline oracle for that secret.
func cursorKey(file string) ([]byte, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("server.cursor_key_file: %w", err)
	}
	return bytes.TrimSpace(b), nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.echo }

// AdminHandler serves the operator's endpoints, for server.admin_listen:
// /metrics, /loglevel (zap's: GET, or PUT {"level":"debug"}), /healthz and
// Go's profiler under /debug/pprof/.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.handler())
	if s.logLevel != nil {
		mux.Handle("/loglevel", s.logLevel)
	}
	// Go's profiler, for the operator's listener only.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

// Serve answers requests on l until ctx ends, then stops accepting, lets
// in-flight requests finish within ShutdownTimeout, and returns.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.RequestTimeout,
		WriteTimeout:      s.cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if d := s.cfg.ShutdownDelay; d > 0 {
		// Tell load balancers first (/readyz answers 503), and keep
		// serving while they stop sending: closing the listener at once
		// would reset the connections queued in it.
		s.draining.Store(true)
		s.log.Info("shutting down: not ready, serving on for the delay", zap.Duration("delay", d))
		time.Sleep(d)
	}
	s.log.Info("shutting down", zap.Duration("grace", s.cfg.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}
