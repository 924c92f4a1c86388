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

// tooMany is a 429 saying what is too many, and when to retry.
func tooMany(wait time.Duration, what string) *scimError {
	secs := strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
	e := newError(http.StatusTooManyRequests, "", "%s: retry after %s s.", what, secs)
	e.Header = http.Header{"Retry-After": {secs}}
	return e
}

// failureLimiter gives each client address (proxy.go) a budget of failed
// authentications: auth.failure_burst, refilled at auth.failure_rate a
// second. A token check that may fail draws one before it is made and
// gives it back when the token proves valid; with the budget spent, the
// check is not made. So junk tokens cannot make the gateway call the
// authorization server more than the budget allows, however many arrive
// at once.
type failureLimiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newFailureLimiter(perSecond, burst int) *failureLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = perSecond
	}
	return &failureLimiter{rate: float64(perSecond), burst: float64(burst), now: time.Now, buckets: map[string]*bucket{}}
}

// take draws one from addr's budget, or says how long until there is one.
func (l *failureLimiter) take(addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(addr, l.now())
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// refund gives back what take drew.
func (l *failureLimiter) refund(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[addr]; ok {
		b.tokens = min(l.burst, b.tokens+1)
	}
}

// bucket returns addr's bucket brought up to now. Past maxRateClients
// buckets, the full ones are dropped (a new one starts full anyway), and
// all of them if that is not enough.
func (l *failureLimiter) bucket(addr string, now time.Time) *bucket {
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= maxRateClients {
			for k, b := range l.buckets {
				if l.refilled(b, now) >= l.burst {
					delete(l.buckets, k)
				}
			}
			if len(l.buckets) >= maxRateClients {
				clear(l.buckets)
			}
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	b.tokens, b.at = l.refilled(b, now), now
	return b
}

func (l *failureLimiter) refilled(b *bucket, now time.Time) float64 {
	return min(l.burst, b.tokens+max(0, now.Sub(b.at).Seconds())*l.rate)
}

// failureGate is a request's access to its client address's budget of
// failed authentications (auth.Budget); the zero gate (no limit) lets
// everything through.
type failureGate struct {
	l    *failureLimiter
	addr string
}

// Take draws on the budget before a check that may fail.
func (g failureGate) Take() (bool, time.Duration) {
	if g.l == nil {
		return true, 0
	}
	return g.l.take(g.addr)
}

// Refund gives back what Take drew, once the check did not fail.
func (g failureGate) Refund() {
	if g.l != nil {
		g.l.refund(g.addr)
	}
}
