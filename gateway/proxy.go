package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Who a request comes from. The peer of the TCP connection is the client,
// unless it is one of server.trusted_proxies: then the client is what the
// one header server.client_ip_header says, read right to left past the
// hops that are trusted proxies too (each proxy appends the address it
// received from). A forwarding header from any other peer is the client's
// own say-so and changes nothing. The access log, the audit log, traces and
// the per-address limit on failed authentications all use this address.

// Headers that can name the client (server.client_ip_header).
const (
	headerXFF       = "X-Forwarded-For"
	headerForwarded = "Forwarded" // RFC 7239
	headerRealIP    = "X-Real-Ip"
)

// proxies knows the trusted proxies and the header they set.
type proxies struct {
	trusted []netip.Prefix
	header  string // canonical: headerXFF, headerForwarded or headerRealIP
}

// newProxies reads the server section's trusted_proxies and
// client_ip_header.
func newProxies(c ServerConfig) (proxies, error) {
	var errs []error
	p := proxies{header: headerXFF}
	switch {
	case c.ClientIPHeader == "" || strings.EqualFold(c.ClientIPHeader, headerXFF):
	case strings.EqualFold(c.ClientIPHeader, headerForwarded):
		p.header = headerForwarded
	case strings.EqualFold(c.ClientIPHeader, headerRealIP):
		p.header = headerRealIP
	default:
		errs = append(errs, fmt.Errorf("server.client_ip_header: %q is not one of X-Forwarded-For, Forwarded, X-Real-IP", c.ClientIPHeader))
	}
	for i, s := range c.TrustedProxies {
		pfx, err := netip.ParsePrefix(s)
		if a, aerr := netip.ParseAddr(s); err != nil && aerr == nil {
			pfx, err = netip.PrefixFrom(a, a.BitLen()), nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("server.trusted_proxies[%d]: %q is neither a CIDR such as 10.0.0.0/8 nor an IP address", i, s))
			continue
		}
		p.trusted = append(p.trusted, pfx.Masked())
	}
	return p, errors.Join(errs...)
}

func (p proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pfx := range p.trusted {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// peer is the address of the connection's other end.
func peer(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err == nil
}

// client is the address of the client that sent r.
func (p proxies) client(r *http.Request) string {
	from, ok := peer(r)
	if !ok {
		return r.RemoteAddr
	}
	if !p.trusts(from) {
		return from.String()
	}
	hops := p.hops(r)
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return from.String() // a chain the proxy did not write
		}
		if i == 0 || !p.trusts(a) {
			return a.String()
		}
	}
	return from.String()
}

// hops are the addresses the configured header lists, client first.
func (p proxies) hops(r *http.Request) []string {
	var hops []string
	switch p.header {
	case headerRealIP:
		if v := r.Header.Get(headerRealIP); v != "" {
			hops = append(hops, v)
		}
	case headerXFF:
		for _, v := range r.Header.Values(headerXFF) {
			hops = append(hops, strings.Split(v, ",")...)
		}
	case headerForwarded:
		for _, element := range forwardedElements(r) {
			hops = append(hops, forwardedParam(element, "for")) // "" when absent: not an address
		}
	}
	return hops
}

// forwardedElements are the elements of the Forwarded headers, in order.
func forwardedElements(r *http.Request) []string {
	var out []string
	for _, v := range r.Header.Values(headerForwarded) {
		out = append(out, strings.Split(v, ",")...)
	}
	return out
}

// forwardedParam is the value of one parameter of a Forwarded element
// (RFC 7239 section 4), unquoted; "" when it is absent.
func forwardedParam(element, name string) string {
	for _, pair := range strings.Split(element, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
		if strings.EqualFold(k, name) {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// parseHop reads one address of a forwarding header: an IP, with or
// without a port, IPv6 in brackets when with one.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// scheme is how the client reached scimgate: https over TLS, else what a
// trusted proxy says (X-Forwarded-Proto, or Forwarded's proto), else http.
func (p proxies) scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if from, ok := peer(r); !ok || !p.trusts(from) {
		return "http"
	}
	var proto string
	if p.header == headerForwarded {
		for _, element := range forwardedElements(r) {
			if proto = forwardedParam(element, "proto"); proto != "" {
				break
			}
		}
	} else {
		proto, _, _ = strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	}
	if strings.EqualFold(strings.TrimSpace(proto), "https") {
		return "https"
	}
	return "http"
}
