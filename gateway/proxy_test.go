package gateway

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/directory"
	"github.com/scimgate/scimgate/test/slapd"
)

// observed serves a gateway over dir with its access log and audit log
// observed and its spans recorded; mods change the options.
type observed struct {
	base        string
	logs, audit *observer.ObservedLogs
	spans       *tracetest.SpanRecorder
	server      *Server
}

func newObserved(t *testing.T, ds directory.Server, mods ...func(*Options)) *observed {
	t.Helper()
	dir := ds.Directory()
	core, logs := observer.New(zap.InfoLevel)
	acore, audit := observer.New(zap.InfoLevel)
	spans := tracetest.NewSpanRecorder()
	mods = append([]func(*Options){func(o *Options) {
		o.Audit = zap.New(acore)
		o.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	}}, mods...)
	srv, hs := newGatewayServer(t, dir, zap.New(core), ldapstore.Options{}, mods...)
	return &observed{base: hs.URL, logs: logs, audit: audit, spans: spans, server: srv}
}

// send makes a request with the test token and the headers given.
func (o *observed) send(t *testing.T, method, path, body string, header http.Header) response {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + testToken}}
	if body != "" {
		h.Set("Content-Type", contentTypeSCIM)
	}
	for k, vs := range header {
		h[k] = vs
	}
	return doWith(t, method, o.base+path, h, body)
}

// last returns the fields of the newest line of logs with the message.
func last(t *testing.T, logs *observer.ObservedLogs, message string) map[string]any {
	t.Helper()
	lines := logs.FilterMessage(message).All()
	if len(lines) == 0 {
		t.Fatalf("no %q log line", message)
	}
	return lines[len(lines)-1].ContextMap()
}

// spanAttribute is the value of key on the newest span that has it.
func (o *observed) spanAttribute(key string) string {
	var v string
	for _, s := range o.spans.Ended() {
		for _, a := range s.Attributes() {
			if string(a.Key) == key {
				v = a.Value.Emit()
			}
		}
	}
	return v
}

// Forwarded headers say who the client is only when a trusted proxy sent
// them: from anyone else X-Real-IP, X-Forwarded-For, Forwarded and
// X-Forwarded-Proto change nothing, and the peer's address is the client's,
// in the access log and the request's span alike. Behind trusted proxies
// the configured header is read right to left, past the trusted hops.
func TestForwardedHeadersOnlyFromTrustedProxies(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	tests := []struct {
		name    string
		trusted []string
		header  string // server.client_ip_header
		sent    http.Header
		remote  string
		scheme  string
	}{
		{name: "X-Real-IP from a client", sent: http.Header{"X-Real-Ip": {"6.6.6.6"}}, remote: "127.0.0.1", scheme: "http"},
		{name: "X-Forwarded-For from a client", sent: http.Header{"X-Forwarded-For": {"6.6.6.6"}, "X-Forwarded-Proto": {"https"}}, remote: "127.0.0.1", scheme: "http"},
		{name: "Forwarded from a client", sent: http.Header{"Forwarded": {"for=6.6.6.6;proto=https"}}, remote: "127.0.0.1", scheme: "http"},
		{name: "a client's X-Forwarded-For through a trusted proxy", trusted: []string{"127.0.0.0/8"},
			sent: http.Header{"X-Forwarded-For": {"6.6.6.6, 192.0.2.10"}, "X-Forwarded-Proto": {"https"}}, remote: "192.0.2.10", scheme: "https"},
		{name: "two trusted hops", trusted: []string{"127.0.0.0/8", "10.0.0.0/8"},
			sent: http.Header{"X-Forwarded-For": {"6.6.6.6, 192.0.2.10", "10.1.2.3"}}, remote: "192.0.2.10", scheme: "http"},
		{name: "every hop trusted", trusted: []string{"127.0.0.0/8", "10.0.0.0/8"},
			sent: http.Header{"X-Forwarded-For": {"10.9.9.9, 10.1.2.3"}}, remote: "10.9.9.9", scheme: "http"},
		{name: "another header than the configured one", trusted: []string{"127.0.0.1"},
			sent: http.Header{"X-Real-Ip": {"6.6.6.6"}}, remote: "127.0.0.1", scheme: "http"},
		{name: "X-Real-IP configured", trusted: []string{"127.0.0.1"}, header: "X-Real-IP",
			sent: http.Header{"X-Real-Ip": {"198.51.100.9"}, "X-Forwarded-For": {"6.6.6.6"}}, remote: "198.51.100.9", scheme: "http"},
		{name: "Forwarded configured", trusted: []string{"127.0.0.0/8"}, header: "Forwarded",
			sent: http.Header{"Forwarded": {`for=6.6.6.6, for="[2001:db8::1]:4711";proto=https`}}, remote: "2001:db8::1", scheme: "https"},
		{name: "a malformed chain", trusted: []string{"127.0.0.0/8"},
			sent: http.Header{"X-Forwarded-For": {"6.6.6.6, not-an-address"}}, remote: "127.0.0.1", scheme: "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newObserved(t, dir, func(o *Options) { o.Server.TrustedProxies, o.Server.ClientIPHeader = tt.trusted, tt.header })
			r := o.send(t, "GET", "/scim/v2/ServiceProviderConfig", "", tt.sent)
			if got := last(t, o.logs, "request")["remote"]; got != tt.remote {
				t.Errorf("access log remote %v, want %s", got, tt.remote)
			}
			if got := o.spanAttribute("client.address"); got != tt.remote {
				t.Errorf("span client.address %q, want %s", got, tt.remote)
			}
			loc, _ := r.body["meta"].(map[string]any)["location"].(string)
			if !strings.HasPrefix(loc, tt.scheme+"://") {
				t.Errorf("meta.location %q, want the scheme %s", loc, tt.scheme)
			}
		})
	}
}

// The request id is always the gateway's own, answered in X-Request-Id; a
// client's plain X-Request-Id is kept beside it as client_request_id, in
// the access log and the audit log, never in its place.
func TestRequestIDIsTheGateways(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	o := newObserved(t, dir)
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, tt := range []struct{ sent, kept string }{
		{"client-abc.1", "client-abc.1"},
		{"", ""},
		{"bad id <script>", ""},
		{strings.Repeat("a", 65), ""},
	} {
		r := o.send(t, "POST", "/scim/v2/Users", `{"userName":"rid-`+regexp.MustCompile(`[^a-z]`).ReplaceAllString(tt.sent, "")+`"}`,
			http.Header{"X-Request-Id": {tt.sent}})
		id := r.header.Get("X-Request-Id")
		if !hex16.MatchString(id) {
			t.Errorf("sent %q: X-Request-Id %q, want the gateway's own (16 hex digits)", tt.sent, id)
		}
		for name, line := range map[string]map[string]any{"access": last(t, o.logs, "request"), "audit": last(t, o.audit, "write")} {
			if line["request_id"] != id {
				t.Errorf("sent %q: %s log request_id %v, want %s", tt.sent, name, line["request_id"], id)
			}
			got, _ := line["client_request_id"].(string)
			if got != tt.kept {
				t.Errorf("sent %q: %s log client_request_id %q, want %q", tt.sent, name, got, tt.kept)
			}
		}
	}
}

// Failed authentications are limited per client address, the address as
// proxy.go finds it: forged forwarding headers do not make one client
// many; through a trusted proxy, each client has a budget of its own. A
// valid static token is never held back.
func TestFailedAuthenticationsCountByClientAddress(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	statuses := func(o *observed, n int, forwardedFor func(i int) string) string {
		var out []string
		for i := range n {
			r := doWith(t, "GET", o.base+"/scim/v2/Users?count=1", http.Header{
				"Authorization": {"Bearer wrong-" + strconv.Itoa(i)}, "X-Forwarded-For": {forwardedFor(i)}}, "")
			if r.status == 429 && r.header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
			out = append(out, strconv.Itoa(r.status))
		}
		return strings.Join(out, " ")
	}
	limited := func(o *Options) { o.Auth.FailureRate, o.Auth.FailureBurst = 1, 5 }
	forged := func(i int) string { return "198.51.100." + strconv.Itoa(i) }

	o := newObserved(t, dir, limited)
	if got, want := statuses(o, 8, forged), "401 401 401 401 401 429 429 429"; got != want {
		t.Errorf("forged addresses from one peer: %s, want %s", got, want)
	}
	if r := o.send(t, "GET", "/scim/v2/Users?count=1", "", nil); r.status != 200 {
		t.Errorf("a valid token from the same address: %d, want 200", r.status)
	}

	o = newObserved(t, dir, limited, func(o *Options) { o.Server.TrustedProxies = []string{"127.0.0.0/8"} })
	if got, want := statuses(o, 8, forged), "401 401 401 401 401 401 401 401"; got != want {
		t.Errorf("eight clients through a trusted proxy: %s, want %s", got, want)
	}
	if got, want := statuses(o, 7, func(int) string { return "192.0.2.1" }), "401 401 401 401 401 429 429"; got != want {
		t.Errorf("one client through a trusted proxy: %s, want %s", got, want)
	}
}

// The budgets of failed authentications are bounded in number: a flood of
// addresses drops the full ones first, and a spent budget gives back only
// what it drew.
func TestFailureBudgetsAreBounded(t *testing.T) {
	l := newFailureLimiter(1, 2)
	now := time.Now()
	l.now = func() time.Time { return now }
	for i := range 3 * maxRateClients {
		l.take("10.0." + strconv.Itoa(i))
		if n := len(l.buckets); n > maxRateClients {
			t.Fatalf("%d budgets after %d addresses, want at most %d", n, i+1, maxRateClients)
		}
	}
	var got []bool
	for range 3 {
		ok, _ := l.take("192.0.2.1")
		got = append(got, ok)
	}
	l.refund("192.0.2.1")
	ok, _ := l.take("192.0.2.1")
	if fmt.Sprint(got) != "[true true false]" || !ok {
		t.Errorf("takes %v, then after a refund %v, want [true true false] then true", got, ok)
	}
	if ok, wait := l.take("192.0.2.1"); ok || wait != time.Second {
		t.Errorf("a spent budget: %v, wait %s, want false, 1s", ok, wait)
	}
	now = now.Add(time.Second)
	if ok, _ := l.take("192.0.2.1"); !ok {
		t.Error("a second later: still spent")
	}
}
