package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// keySet verifies JWT signatures for go-oidc's verifier: against the
// authorization server's JWKS, fetched once and again only when a token
// names a key id it does not hold (at most once per interval, so that
// tokens with made-up key ids cannot make the gateway hammer the server),
// or against a configured HMAC key.
type keySet struct {
	url      string
	client   *http.Client
	algs     []jose.SignatureAlgorithm
	hmac     []byte // nil: HMAC-signed tokens are refused
	interval time.Duration
	now      func() time.Time

	flight singleflight.Group

	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetched time.Time // last fetch attempt, successful or not
}

// verifyNote carries, through go-oidc (which flattens the errors of a key
// set into text), the fact that keys could not be fetched (the request then
// gets 503, not 401), or why the signature was refused.
type verifyNote struct {
	unavailable error
	refusal     string // a Reason* of auth.go
}

type verifyNoteKey struct{}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	note, _ := ctx.Value(verifyNoteKey{}).(*verifyNote)
	if note == nil {
		note = &verifyNote{}
	}
	payload, err := k.verify(ctx, raw, note)
	if err != nil && note.unavailable == nil && note.refusal == "" {
		note.refusal = ReasonSignature
	}
	return payload, err
}

func (k *keySet) verify(ctx context.Context, raw string, note *verifyNote) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		note.refusal = ReasonMalformed
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		note.refusal = ReasonMalformed
		return nil, errors.New("a token must carry exactly one signature")
	}
	h := jws.Signatures[0].Header
	if strings.HasPrefix(h.Algorithm, "HS") {
		if k.hmac == nil {
			return nil, fmt.Errorf("%s (HMAC) tokens are not accepted", h.Algorithm)
		}
		return jws.Verify(k.hmac)
	}
	keys, err := k.current(ctx)
	if err == nil {
		if payload, ok := verifyWith(jws, keys, h.KeyID); ok {
			return payload, nil
		}
		if h.KeyID != "" && hasKey(keys, h.KeyID) {
			return nil, errors.New("the signature does not verify")
		}
		// An unknown key id (or none matched): the server may have
		// rotated its keys since the last fetch.
		keys, err = k.refresh(ctx, false)
	}
	if err != nil {
		note.unavailable = err
		return nil, err
	}
	if payload, ok := verifyWith(jws, keys, h.KeyID); ok {
		return payload, nil
	}
	return nil, fmt.Errorf("no key of the authorization server verifies the signature (key id %q)", h.KeyID)
}

func hasKey(keys []jose.JSONWebKey, kid string) bool {
	for _, key := range keys {
		if key.KeyID == kid {
			return true
		}
	}
	return false
}

// verifyWith tries the keys of kid (every signing key when kid is empty).
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) ([]byte, bool) {
	for _, key := range keys {
		if (kid != "" && key.KeyID != kid) || key.Use == "enc" {
			continue
		}
		if payload, err := jws.Verify(key); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// current returns the keys, fetching them the first time.
func (k *keySet) current(ctx context.Context) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	keys, fetched := k.keys, !k.fetched.IsZero()
	k.mu.Unlock()
	if keys != nil || fetched {
		return keys, nil
	}
	return k.refresh(ctx, true)
}

// errKeysRateLimited: the keys were fetched too recently to fetch again.
var errKeysRateLimited = errors.New("the token's key id is unknown and the JWKS was fetched moments ago; retry shortly")

// refresh fetches the keys, unless they were fetched less than interval
// ago (first: only if they were never fetched). Concurrent callers share
// one fetch.
func (k *keySet) refresh(ctx context.Context, first bool) ([]jose.JSONWebKey, error) {
	ch := k.flight.DoChan("jwks", func() (any, error) {
		k.mu.Lock()
		last := k.fetched
		if !last.IsZero() && (first || k.now().Sub(last) < k.interval) {
			keys := k.keys
			k.mu.Unlock()
			if first && keys != nil {
				return keys, nil
			}
			return nil, errKeysRateLimited
		}
		k.fetched = k.now()
		k.mu.Unlock()
		keys, err := k.fetch(ctx)
		if err != nil {
			return nil, err
		}
		k.mu.Lock()
		k.keys = keys
		k.mu.Unlock()
		return keys, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.([]jose.JSONWebKey), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// maxAuthResponse bounds what the gateway reads from the authorization server.
const maxAuthResponse = 1 << 20

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAuthResponse))
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: %s answered %s", k.url, resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks: %s: %w", k.url, err)
	}
	return set.Keys, nil
}
