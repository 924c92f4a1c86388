package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Traces (OpenTelemetry, off unless Options.Tracer is set): a server span
// per HTTP request, named by method and route template, with a child span
// per LDAP operation ("ldap search", ...) carrying its result. No span
// name or attribute holds a token, a filter value or a user's data.

// ldapObserver receives every LDAP operation (ldapstore.Observer): metrics
// always, a span when tracing.
type ldapObserver struct {
	m      *metrics
	tracer trace.Tracer // nil: no traces
}

func (o ldapObserver) StartOperation(ctx context.Context, kind string) func(result string) {
	start := time.Now()
	var span trace.Span
	if o.tracer != nil {
		_, span = o.tracer.Start(ctx, "ldap "+kind, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("db.system", "ldap"), attribute.String("db.operation", kind)))
	}
	return func(result string) {
		o.m.observeOperation(kind, result, time.Since(start))
		if span != nil {
			span.SetAttributes(attribute.String("ldap.result", result))
			if result != "success" && result != "compareTrue" && result != "compareFalse" {
				span.SetStatus(codes.Error, result)
			}
			span.End()
		}
	}
}

// traceRequests wraps the server in otelhttp's middleware, which starts
// the request's span (joining a caller's trace from traceparent).
func traceRequests(tp trace.TracerProvider) echo.MiddlewareFunc {
	return echo.WrapMiddleware(otelhttp.NewMiddleware("scimgate",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	))
}

// nameSpan names the request's span by its route template, once routed,
// and gives it the client's address as the gateway sees it (otelhttp
// would take X-Forwarded-For from anyone).
func nameSpan(ctx context.Context, method, route, client string) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetName(method + " " + route)
		span.SetAttributes(attribute.String("http.route", route), attribute.String("client.address", client))
	}
}
