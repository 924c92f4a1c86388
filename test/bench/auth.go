package main

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimgate/scimgate/test/hydra"
)

// benchAuth measures what checking OAuth tokens costs, against a real
// authorization server (Ory Hydra, opaque tokens, so introspection):
//   - the latency of a request with a cached token ÷ the same request with
//     no checks at all (bypass mode), one client, alternating rounds;
//   - the introspection calls caused by 1,000 requests from 100 concurrent
//     clients that share one token the gateway has never seen, counted by
//     a proxy in front of Hydra's introspection endpoint.
func benchAuth(e *env) error {
	as, err := hydra.Start(filepath.Join(e.work, "hydra"), hydra.Options{})
	if err != nil {
		return fmt.Errorf("auth benchmark: %w", err)
	}
	defer as.Stop()
	counter, err := as.CountIntrospections()
	if err != nil {
		return err
	}
	defer counter.Close()
	oauth, err := startGateway(e.ctx, e.bin, e.work, "oauth", e.dir,
		"SCIMGATE_AUTH_MODE=oauth",
		"SCIMGATE_AUTH_ISSUER="+as.Issuer,
		"SCIMGATE_AUTH_INTROSPECTION_URL="+counter.URL,
		"SCIMGATE_AUTH_INTROSPECTION_AUTH=none")
	if err != nil {
		return err
	}
	defer oauth.stop()
	bypass, err := startGateway(e.ctx, e.bin, e.work, "bypass", e.dir, "SCIMGATE_AUTH_MODE=bypass")
	if err != nil {
		return err
	}
	defer bypass.stop()
	client, err := as.Register(authScope)
	if err != nil {
		return err
	}
	withToken, without, ratios, err := authLatencies(e, client, oauth, bypass)
	if err != nil {
		return err
	}
	before := counter.Calls()
	if err := sharedToken(e, client, oauth); err != nil {
		return err
	}
	shares := counter.Calls() - before

	msf := func(f float64) string { return fmt.Sprintf("%.3f ms", f/float64(time.Millisecond)) }
	fmt.Printf("## Authentication (Ory Hydra, opaque tokens)\n\n")
	fmt.Printf("GET /Users?filter=userName eq \"...\", one client, sequential; medians of %d alternating rounds of %d requests.\n\n", authRounds, authPerRound)
	fmt.Printf("| | median latency |\n|---|---|\n| auth.mode bypass (no checks) | %s |\n| auth.mode oauth, cached token | %s |\n| **ratio** (median of the rounds' ratios; range %.3f–%.3f) | **%.3f** |\n\n",
		msf(median(without)), msf(median(withToken)), slices.Min(ratios), slices.Max(ratios), median(ratios))
	fmt.Printf("1,000 requests by 100 concurrent clients sharing one token the gateway had not seen: **%d introspection call(s)** (all %d answered 200).\n\n",
		shares, 1000)
	return nil
}

const (
	authScope                = "https://jans.io/scim/users.read"
	authRounds, authPerRound = 9, 1000
)

// authPath is a look-up of a random user.
func authPath(e *env, r *rand.Rand) string {
	return "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "user%06d"`, r.IntN(e.users)))
}

// sequentialLatency is the median latency of n look-ups by one client.
func sequentialLatency(e *env, base, token string, n int, seed uint64) (time.Duration, error) {
	c, err := newLeanClientWith(base, token)
	if err != nil {
		return 0, err
	}
	defer c.close()
	r := rand.New(rand.NewPCG(seed, 7))
	ds := make([]time.Duration, 0, n)
	for range n {
		t := time.Now()
		if _, err := c.get(authPath(e, r)); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t))
	}
	return medianDuration(ds), nil
}

// authLatencies measures a cached token against no checks, in
// alternating rounds, after a warm-up that makes the token's first check.
func authLatencies(e *env, client hydra.Client, oauth, bypass *gateway) (withToken, without, ratios []float64, err error) {
	cached, err := client.Get(authScope)
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := sequentialLatency(e, oauth.base, cached, 10, 0); err != nil {
		return nil, nil, nil, err
	}
	if _, err := sequentialLatency(e, bypass.base, "", 10, 0); err != nil {
		return nil, nil, nil, err
	}
	for i := range authRounds {
		a, err := sequentialLatency(e, oauth.base, cached, authPerRound, uint64(i))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("oauth gateway: %w", err)
		}
		b, err := sequentialLatency(e, bypass.base, "", authPerRound, uint64(i))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("bypass gateway: %w", err)
		}
		withToken, without = append(withToken, float64(a)), append(without, float64(b))
		ratios = append(ratios, float64(a)/float64(b))
	}
	return withToken, without, ratios, nil
}

// sharedToken sends 1,000 requests from 100 concurrent clients sharing one
// token the gateway has never seen.
func sharedToken(e *env, client hydra.Client, oauth *gateway) error {
	shared, err := client.Get(authScope)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for w := range 100 {
		wg.Go(func() {
			c, err := newLeanClientWith(oauth.base, shared)
			if err != nil {
				failed.Add(10)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			defer c.close()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for range 10 {
				if _, err := c.get(authPath(e, r)); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return fmt.Errorf("%d of 1,000 requests with a shared token failed: %v", failed.Load(), firstErr.Load())
	}
	return nil
}
