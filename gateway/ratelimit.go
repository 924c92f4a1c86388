package gateway

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter gives each client (the identity a token stands for, never a
// header the client chooses) a token bucket of server.rate_limit requests
// a second, bursts of server.rate_burst.
type rateLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	clients map[string]*rate.Limiter
}

// maxRateClients bounds the buckets kept; past it they all start afresh
// (full), which only ever lets more through.
const maxRateClients = 10_000

func newRateLimiter(perSecond, burst int) *rateLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = perSecond
	}
	return &rateLimiter{limit: rate.Limit(perSecond), burst: burst, clients: map[string]*rate.Limiter{}}
}

// allow takes one request of client's budget, or says how long to wait.
func (l *rateLimiter) allow(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	lim, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= maxRateClients {
			clear(l.clients)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.clients[client] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// tooManyRequests is the 429 of a client over its rate.
func tooManyRequests(wait time.Duration) *scimError {
	secs := strconv.Itoa(int(math.Ceil(wait.Seconds())))
	e := newError(http.StatusTooManyRequests, "", "Too many requests from this client: retry after %s s.", secs)
	e.Header = http.Header{"Retry-After": {secs}}
	return e
}
