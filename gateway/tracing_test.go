package gateway

import (
	"context"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/slapd"
)

// With tracing on, a request is a server span named by its route, joining
// the caller's trace, with a child span per LDAP operation. The spans are
// recorded in memory by the SDK's own recorder (no collector needed).
func TestTraces(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider()
	hs := newGateway(t, dir, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), ldapstore.Options{}, func(o *Options) { o.Tracer = tp })
	// A first request loads the directory's schema, which the store's
	// background work (Store.Run) waits for too: record what follows.
	do(t, "GET", hs.URL+"/scim/v2/Users?count=1", testToken, "", "")
	rec := tracetest.NewSpanRecorder()
	tp.RegisterSpanProcessor(rec)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("GET", hs.URL+"/scim/v2/Users?filter="+urlQuery(`userName eq "alovelace"`), nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	var server sdktrace.ReadOnlySpan
	ldap := 0
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID().String() != traceID {
			t.Errorf("span %q is not in the caller's trace", s.Name())
		}
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.Emit(), testToken) || strings.Contains(a.Value.Emit(), "alovelace") {
				t.Errorf("span %q attribute %s holds request data: %s", s.Name(), a.Key, a.Value.Emit())
			}
		}
		switch {
		case s.Name() == "GET /scim/v2/Users":
			server = s
		case strings.HasPrefix(s.Name(), "ldap "):
			ldap++
		}
	}
	if server == nil {
		t.Fatalf("no server span named by the route; spans: %v", names(rec.Ended()))
	}
	for _, s := range rec.Ended() {
		if strings.HasPrefix(s.Name(), "ldap ") && s.Parent().SpanID() != server.SpanContext().SpanID() {
			t.Errorf("%s is not a child of the request's span", s.Name())
		}
	}
	if ldap == 0 {
		t.Errorf("no LDAP spans: %v", names(rec.Ended()))
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}
