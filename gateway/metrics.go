package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scimgate/scimgate/ldapstore"
)

// metrics are the gateway's Prometheus series, in a registry of its own
// (no global state). Labels are route templates, methods, statuses, LDAP
// operation kinds and result names, configured server URLs: never a token,
// a user name or an id.
type metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	ldapOps        *prometheus.CounterVec
	ldapLatency    *prometheus.HistogramVec
	authCache      *prometheus.CounterVec
	introspections *prometheus.HistogramVec
	rateLimited    prometheus.Counter
	authFailures   *prometheus.CounterVec
}

func newMetrics(store *ldapstore.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimgate_http_requests_total", Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scimgate_http_request_duration_seconds", Help: "HTTP request latency by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		ldapOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimgate_ldap_operations_total", Help: "LDAP operations by kind and result (RFC 4511 result name, or unavailable).",
		}, []string{"kind", "result"}),
		ldapLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scimgate_ldap_operation_duration_seconds", Help: "LDAP operation latency by kind.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30},
		}, []string{"kind"}),
		authCache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimgate_auth_cache_requests_total", Help: "Bearer token checks answered from the cache (hit) or not (miss).",
		}, []string{"result"}),
		introspections: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scimgate_auth_introspection_duration_seconds", Help: "Calls to the introspection endpoint by outcome (active, inactive, error).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"outcome"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scimgate_http_rate_limited_total", Help: "Requests refused with 429 by the per-client rate limit.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scimgate_auth_failures_total",
			Help: "Requests refused authentication, by reason: no_token, token_too_long, invalid_token (401), rate_limited (429: too many failures from the address).",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.ldapOps, m.ldapLatency, m.authCache, m.introspections, m.rateLimited, m.authFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if store != nil {
		m.registerPool(store.Pool())
		m.registerSearch(store)
	}
	return m
}

// registerSearch exports what lists cost: the order indexes' state and
// size, and the scans of the snapshot path, read at each scrape.
func (m *metrics) registerSearch(store *ldapstore.Store) {
	for _, typ := range []string{"User", "Group"} {
		state := func() (string, int) {
			st := store.IndexStatus()
			if typ == "Group" {
				return st.Groups, st.GroupsEntries
			}
			return st.Users, st.UsersEntries
		}
		labels := prometheus.Labels{"type": typ}
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "scimgate_index_ready",
			Help: "1 when lists of the type are answered from the order index, 0 when they take snapshots (no change stream, loading, or lost).", ConstLabels: labels},
			func() float64 {
				if s, _ := state(); s == "ready" {
					return 1
				}
				return 0
			}))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "scimgate_index_entries",
			Help: "Resources in the ready order index of the type.", ConstLabels: labels},
			func() float64 { _, n := state(); return float64(n) }))
	}
	counter := func(name, help string, f func(ldapstore.ScanStats) int64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(store.ScanStats())) }))
	}
	counter("scimgate_list_scans_total", "Snapshot scans run (lists too large for one search, not answered by an index).",
		func(s ldapstore.ScanStats) int64 { return s.Scans })
	counter("scimgate_list_scan_queries_total", "Lists that needed a scan; more than scans when identical ones shared one.",
		func(s ldapstore.ScanStats) int64 { return s.Queries })
	counter("scimgate_list_scans_busy_total", "Scans that found no free slot (search.max_concurrent_scans) before their deadline: 503.",
		func(s ldapstore.ScanStats) int64 { return s.Busy })
}

// registerPool exports the pool's Stats, read at each scrape.
func (m *metrics) registerPool(pool *ldapstore.Pool) {
	gauge := func(name, help string, f func(ldapstore.PoolStats) float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(pool.Stats()) }))
	}
	counter := func(name, help string, f func(ldapstore.PoolStats) float64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(pool.Stats()) }))
	}
	gauge("scimgate_ldap_pool_open_connections", "Connections open, busy or idle.", func(s ldapstore.PoolStats) float64 { return float64(s.Open) })
	gauge("scimgate_ldap_pool_in_use_connections", "Connections borrowed.", func(s ldapstore.PoolStats) float64 { return float64(s.InUse) })
	gauge("scimgate_ldap_pool_idle_connections", "Connections idle.", func(s ldapstore.PoolStats) float64 { return float64(s.Idle) })
	gauge("scimgate_ldap_pool_max_open_connections", "The max_open limit.", func(s ldapstore.PoolStats) float64 { return float64(s.MaxOpen) })
	counter("scimgate_ldap_pool_waits_total", "Borrows that waited for a free connection.", func(s ldapstore.PoolStats) float64 { return float64(s.WaitCount) })
	counter("scimgate_ldap_pool_wait_seconds_total", "Time spent waiting for a free connection.", func(s ldapstore.PoolStats) float64 { return s.WaitDuration.Seconds() })
	counter("scimgate_ldap_pool_dials_total", "Connections dialled and bound.", func(s ldapstore.PoolStats) float64 { return float64(s.Dials) })
	counter("scimgate_ldap_pool_dial_errors_total", "Dials that failed on every server tried.", func(s ldapstore.PoolStats) float64 { return float64(s.DialErrors) })
	counter("scimgate_ldap_pool_broken_closed_total", "Connections closed after a network error or time-out.", func(s ldapstore.PoolStats) float64 { return float64(s.BrokenClosed) })
	counter("scimgate_ldap_pool_failback_closed_total", "Connections to a fallback server closed to move back.", func(s ldapstore.PoolStats) float64 { return float64(s.FailbackClosed) })
	counter("scimgate_ldap_pool_fail_fast_total", "Borrows refused at once with every server in backoff.", func(s ldapstore.PoolStats) float64 { return float64(s.FailFast) })
	counter("scimgate_ldap_pool_max_idle_time_closed_total", "Connections closed after sitting idle longer than ldap.conn_max_idle_time.", func(s ldapstore.PoolStats) float64 { return float64(s.MaxIdleTimeClosed) })
	counter("scimgate_ldap_pool_double_releases_total", "Connections released twice (a bug in scimgate; ignored).", func(s ldapstore.PoolStats) float64 { return float64(s.DoubleReleases) })
	counter("scimgate_ldap_pool_bad_conn_retries_total", "Searches and compares retried on a fresh connection after an idle one turned out dead.", func(s ldapstore.PoolStats) float64 { return float64(s.BadConnRetries) })
	for i, sv := range pool.Stats().Servers {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scimgate_ldap_server_up", Help: "1 when the directory server answers dials (not in backoff), 0 otherwise.",
			ConstLabels: prometheus.Labels{"url": sv.URL},
		}, func() float64 {
			if pool.Stats().Servers[i].Up {
				return 1
			}
			return 0
		}))
	}
}

// observeOperation counts one LDAP operation.
func (m *metrics) observeOperation(kind, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.ldapOps.WithLabelValues(kind, result).Inc()
	m.ldapLatency.WithLabelValues(kind).Observe(d.Seconds())
}

// observeRequest counts one HTTP request.
func (m *metrics) observeRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

func (m *metrics) cacheLookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.authCache.WithLabelValues("hit").Inc()
	} else {
		m.authCache.WithLabelValues("miss").Inc()
	}
}

func (m *metrics) introspected(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.introspections.WithLabelValues(outcome).Observe(d.Seconds())
}

// authFailed counts a request refused authentication.
func (m *metrics) authFailed(reason string) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(reason).Inc()
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
