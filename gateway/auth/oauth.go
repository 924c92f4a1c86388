package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
)

// OAuth checks bearer tokens issued by an authorization server: JWTs
// locally against its JWKS, other tokens by RFC 7662 introspection. Each
// result is cached by the token's hash until the token expires or
// cache_ttl passes (refusals for negative_cache_ttl), and concurrent first
// requests with one token share one check.
type OAuth struct {
	cfg    Config
	secret string
	hmac   []byte
	client *http.Client
	log    *zap.Logger
	now    func() time.Time
	cache  *tokenCache
	flight singleflight.Group

	obs Observer

	mu      sync.Mutex
	ends    *endpoints // nil until discovery succeeded
	failed  error      // the last discovery failure
	retryAt time.Time  // no new discovery before this after a failure
}

// endpoints are what discovery found.
type endpoints struct {
	verifier   *oidc.IDTokenVerifier // nil: no JWKS, every token is introspected
	keys       *keySet
	introspect string // "": no introspection, only JWTs are accepted
}

// NewOAuth makes the Authenticator of oauth mode: log gets discovery, obs
// (nil: none) the token checks. It reaches the authorization server only
// when a token comes, or on Discover.
func NewOAuth(cfg Config, log *zap.Logger, obs Observer) (*OAuth, error) {
	if obs == nil {
		obs = noObserver{}
	}
	secret, err := cfg.secret()
	if err != nil {
		return nil, err
	}
	key, err := cfg.hmacKey()
	if err != nil {
		return nil, err
	}
	return &OAuth{
		cfg:    cfg,
		secret: secret,
		hmac:   key,
		client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		log:    log,
		now:    time.Now,
		cache:  newTokenCache(cfg.CacheSize),
		obs:    obs,
	}, nil
}

// Authenticate implements Authenticator.
func (a *OAuth) Authenticate(ctx context.Context, token string) (*Identity, error) {
	k := tokenKey(sha256.Sum256([]byte(token)))
	r, ok := a.cache.get(k, a.now())
	a.obs.CacheLookup(ok)
	if ok {
		return r.id, r.err
	}
	ch := a.flight.DoChan(string(k[:]), func() (any, error) {
		if r, ok := a.cache.get(k, a.now()); ok {
			return r, nil
		}
		// A check that may fail draws on the client address's budget of
		// failures; one that does not fail gives it back.
		budget := budgetFrom(ctx)
		if err := take(budget); err != nil {
			return nil, err
		}
		// The check outlives a caller that gives up: others may wait on it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.Timeout)
		defer cancel()
		r, err := a.check(cctx, token)
		if err != nil || r.err == nil {
			budget.Refund() // valid, or the server could not be asked: no failure of the client's
		}
		if err != nil {
			return nil, err
		}
		a.cache.put(k, r)
		return r, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		r := res.Val.(tokenResult)
		return r.id, r.err
	case <-ctx.Done():
		return nil, &Unavailable{Err: fmt.Errorf("waiting for the token check: %w", ctx.Err())}
	}
}

// check decides on a token that is not in the cache. An error means the
// authorization server could not be asked; a refusal is a result.
func (a *OAuth) check(ctx context.Context, token string) (tokenResult, error) {
	ends, err := a.endpoints(ctx)
	if err != nil {
		return tokenResult{}, err
	}
	var (
		id  *Identity
		exp time.Time
	)
	switch {
	case ends.verifier != nil && looksLikeJWT(token):
		// Another issuer's token is refused before its key is looked up:
		// its unknown key id must not cost a JWKS fetch.
		if iss := unverifiedIssuer(token); iss != a.cfg.Issuer {
			err = refuse(ReasonIssuer, fmt.Sprintf("issued by %q, not %q", iss, a.cfg.Issuer))
			break
		}
		id, exp, err = a.verifyJWT(ctx, ends.verifier, token)
	case ends.introspect != "":
		id, exp, err = a.introspect(ctx, ends.introspect, token)
	default:
		err = refuse(ReasonNotJWT, "the authorization server has no introspection endpoint")
	}
	now := a.now()
	var bad *Refusal
	switch {
	case errors.As(err, &bad):
		return tokenResult{err: bad, expires: now.Add(a.cfg.NegativeCacheTTL)}, nil
	case err != nil:
		return tokenResult{}, err
	}
	expires := now.Add(a.cfg.CacheTTL)
	if !exp.IsZero() && exp.Before(expires) {
		expires = exp
	}
	return tokenResult{id: id, expires: expires}, nil
}

// discoveryRetry is the least time between two failed discoveries.
const discoveryRetry = 5 * time.Second

// endpoints returns what discovery found, discovering the first time (and
// again after a failure, at most every discoveryRetry).
func (a *OAuth) endpoints(ctx context.Context) (*endpoints, error) {
	a.mu.Lock()
	ends, failed, retryAt := a.ends, a.failed, a.retryAt
	a.mu.Unlock()
	if ends != nil {
		return ends, nil
	}
	if failed != nil && a.now().Before(retryAt) {
		return nil, &Unavailable{Err: failed}
	}
	ch := a.flight.DoChan("discovery", func() (any, error) {
		ends, err := a.discover(ctx)
		a.mu.Lock()
		defer a.mu.Unlock()
		if err != nil {
			a.failed, a.retryAt = err, a.now().Add(discoveryRetry)
			a.log.Error("authorization server discovery failed", zap.Error(err))
			return nil, err
		}
		a.ends = ends
		return ends, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, &Unavailable{Err: r.Err}
		}
		return r.Val.(*endpoints), nil
	case <-ctx.Done():
		return nil, &Unavailable{Err: ctx.Err()}
	}
}

// discover reads the issuer's OpenID configuration.
func (a *OAuth) discover(ctx context.Context) (*endpoints, error) {
	ends := &endpoints{introspect: a.cfg.IntrospectionURL}
	if a.cfg.Issuer == "" {
		return ends, nil
	}
	ctx = oidc.ClientContext(ctx, a.client)
	at := a.cfg.Issuer
	if a.cfg.DiscoveryURL != "" {
		// The document lives elsewhere; the issuer tokens carry is still checked.
		ctx = oidc.InsecureIssuerURLContext(ctx, a.cfg.Issuer)
		at = strings.TrimSuffix(a.cfg.DiscoveryURL, wellKnown)
	}
	p, err := oidc.NewProvider(ctx, at)
	if err != nil {
		return nil, fmt.Errorf("discovery at %s: %w", at, err)
	}
	var doc struct {
		Issuer        string `json:"issuer"`
		JWKSURI       string `json:"jwks_uri"`
		Introspection string `json:"introspection_endpoint"`
	}
	if err := p.Claims(&doc); err != nil {
		return nil, fmt.Errorf("discovery at %s: %w", at, err)
	}
	if doc.Issuer != a.cfg.Issuer {
		return nil, fmt.Errorf("discovery at %s: the document is for the issuer %q, not auth.issuer %q", at, doc.Issuer, a.cfg.Issuer)
	}
	if ends.introspect == "" {
		ends.introspect = doc.Introspection
	}
	if doc.JWKSURI != "" {
		algs := slices.Clone(a.cfg.JWTAlgorithms)
		if a.hmac != nil {
			algs = append(algs, hmacAlgorithms...)
		}
		ks := &keySet{url: doc.JWKSURI, client: a.client, hmac: a.hmac, interval: a.cfg.JWKSRefreshInterval, now: a.now}
		for _, alg := range algs {
			ks.algs = append(ks.algs, jose.SignatureAlgorithm(alg))
		}
		ends.keys = ks
		// go-oidc checks the form, the signature and the issuer; the
		// claims are checked as an introspection answer's are (checkClaims).
		ends.verifier = oidc.NewVerifier(a.cfg.Issuer, ks, &oidc.Config{
			SkipClientIDCheck:    true,
			SkipExpiryCheck:      true,
			SupportedSigningAlgs: algs,
		})
	}
	if ends.verifier == nil && ends.introspect == "" {
		return nil, fmt.Errorf("discovery at %s: the server lists neither jwks_uri nor introspection_endpoint; set auth.introspection_url", a.cfg.Issuer)
	}
	a.log.Info("authorization server discovered", zap.String("issuer", a.cfg.Issuer),
		zap.String("jwks_uri", doc.JWKSURI), zap.String("introspection_endpoint", ends.introspect))
	return ends, nil
}

// looksLikeJWT reports whether token is a JWS in compact form: three
// base64url parts, the first a JSON header naming an algorithm.
func looksLikeJWT(token string) bool {
	head, rest, ok := strings.Cut(token, ".")
	if !ok || strings.Count(rest, ".") != 1 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return false
	}
	var h struct {
		Alg string `json:"alg"`
	}
	return json.Unmarshal(b, &h) == nil && h.Alg != ""
}

// unverifiedIssuer is the iss claim of a JWT whose signature has not been
// checked yet: only good for refusing.
func unverifiedIssuer(token string) string {
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	json.Unmarshal(b, &c)
	return c.Iss
}

// verifyJWT checks a JWT's signature and issuer, then its claims.
func (a *OAuth) verifyJWT(ctx context.Context, v *oidc.IDTokenVerifier, token string) (*Identity, time.Time, error) {
	note := &verifyNote{}
	t, err := v.Verify(context.WithValue(ctx, verifyNoteKey{}, note), token)
	switch {
	case note.unavailable != nil:
		return nil, time.Time{}, &Unavailable{Err: note.unavailable}
	case err != nil && note.refusal != "":
		return nil, time.Time{}, refuse(note.refusal, err.Error())
	case err != nil:
		return nil, time.Time{}, refuse(ReasonMalformed, err.Error())
	}
	var claims map[string]any
	if err := t.Claims(&claims); err != nil {
		return nil, time.Time{}, refuse(ReasonMalformed, err.Error())
	}
	// exp is required of a JWT; nbf has go-oidc's 5 minutes of leeway
	// for clock skew.
	exp, err := a.checkClaims(claims, true, 5*time.Minute)
	if err != nil {
		return nil, time.Time{}, err
	}
	return a.identity(claims), exp, nil
}

// introspect asks the authorization server about a token (RFC 7662).
func (a *OAuth) introspect(ctx context.Context, endpoint, token string) (*Identity, time.Time, error) {
	req, err := a.introspectionRequest(ctx, endpoint, token)
	if err != nil {
		return nil, time.Time{}, &Unavailable{Err: fmt.Errorf("introspection: %w", err)}
	}
	start := time.Now()
	outcome := "error"
	defer func() { a.obs.Introspected(outcome, time.Since(start)) }()
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, time.Time{}, &Unavailable{Err: fmt.Errorf("introspection: %w", scrub(err, token))}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAuthResponse))
	if err != nil {
		return nil, time.Time{}, &Unavailable{Err: fmt.Errorf("introspection: %w", err)}
	}
	method := a.cfg.introspectionAuth()
	switch {
	case resp.StatusCode == http.StatusOK:
	case method == IntrospectToken && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden):
		// The token authenticates the call: the server refusing the call
		// refuses the token.
		return nil, time.Time{}, refuse(ReasonRefused, resp.Status)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, time.Time{}, &Unavailable{Err: fmt.Errorf("introspection: %s refused the gateway's client credentials (%s): check auth.client_id and the secret", endpoint, resp.Status)}
	default:
		return nil, time.Time{}, &Unavailable{Err: fmt.Errorf("introspection: %s answered %s", endpoint, resp.Status)}
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		return nil, time.Time{}, &Unavailable{Err: fmt.Errorf("introspection: %s answered something that is not JSON: %w", endpoint, err)}
	}
	if active, _ := claims["active"].(bool); !active {
		outcome = "inactive"
		return nil, time.Time{}, refuse(ReasonInactive, "")
	}
	outcome = "active"
	exp, err := a.checkClaims(claims, false, 0)
	if err != nil {
		return nil, time.Time{}, err
	}
	return a.identity(claims), exp, nil
}

// introspectionRequest is the POST of RFC 7662 section 2.1, the gateway
// authenticating as auth.introspection_auth says.
func (a *OAuth) introspectionRequest(ctx context.Context, endpoint, token string) (*http.Request, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	method := a.cfg.introspectionAuth()
	if method == IntrospectPost {
		form.Set("client_id", a.cfg.ClientID)
		form.Set("client_secret", a.secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	switch method {
	case IntrospectBasic: // RFC 6749 section 2.3.1: form-encoded, then Basic
		req.SetBasicAuth(url.QueryEscape(a.cfg.ClientID), url.QueryEscape(a.secret))
	case IntrospectToken:
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

// checkClaims checks what a token's claims (a JWT's, or an introspection
// answer's) say of its use: an access token, not a refresh token (RFC
// 6749 section 1.5); within exp (required or not) and nbf (with skew); from
// the issuer; for the audience, when auth.audience is set. It returns exp.
func (a *OAuth) checkClaims(claims map[string]any, requireExp bool, skew time.Duration) (time.Time, error) {
	for _, c := range []string{"token_use", "token_type"} { // Hydra and Cognito say token_use
		if v, _ := claims[c].(string); strings.EqualFold(v, "refresh_token") || strings.EqualFold(v, "refresh") {
			return time.Time{}, refuse(ReasonRefresh, c+" "+v)
		}
	}
	now := a.now()
	exp := numericDate(claims["exp"])
	if (requireExp && exp.IsZero()) || (!exp.IsZero() && !now.Before(exp)) {
		return time.Time{}, refuse(ReasonExpired, "")
	}
	if nbf := numericDate(claims["nbf"]); !nbf.IsZero() && now.Add(skew).Before(nbf) {
		return time.Time{}, refuse(ReasonNotYetValid, "not before "+nbf.UTC().Format(time.RFC3339))
	}
	if iss, _ := claims["iss"].(string); iss != "" && a.cfg.Issuer != "" &&
		strings.TrimSuffix(iss, "/") != strings.TrimSuffix(a.cfg.Issuer, "/") {
		return time.Time{}, refuse(ReasonIssuer, fmt.Sprintf("issued by %q, not %q", iss, a.cfg.Issuer))
	}
	if a.cfg.Audience != "" && !slices.Contains(claimStrings(claims["aud"]), a.cfg.Audience) {
		return time.Time{}, refuse(ReasonAudience, fmt.Sprintf("aud %q lacks %q", claimStrings(claims["aud"]), a.cfg.Audience))
	}
	return exp, nil
}

// identity reads who a token stands for from its claims (a JWT's, or an
// introspection answer's).
func (a *OAuth) identity(claims map[string]any) *Identity {
	id := &Identity{Claims: claims}
	for _, c := range a.cfg.ScopeClaims {
		for _, s := range claimStrings(claims[c]) {
			id.Scopes = append(id.Scopes, strings.Fields(s)...)
		}
	}
	id.Scopes = append(id.Scopes, a.cfg.GrantedScopes...)
	for _, c := range []string{"client_id", "azp", "appid"} { // appid: Entra ID v1 tokens
		if v, _ := claims[c].(string); v != "" {
			id.ClientID = v
			break
		}
	}
	id.Subject, _ = claims["sub"].(string)
	id.Name = cmp.Or(id.ClientID, id.Subject, "unnamed")
	return id
}

// claimStrings reads a claim that is a string or a list of strings.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// numericDate reads a JSON NumericDate (seconds since the epoch).
func numericDate(v any) time.Time {
	if f, ok := v.(float64); ok && f > 0 {
		return time.Unix(int64(f), 0)
	}
	return time.Time{}
}

// scrub keeps the token out of an error's text (url.Error quotes URLs,
// and a misconfigured endpoint could echo the form).
func scrub(err error, token string) error {
	if !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "[token]"))
}

// Discover reaches the authorization server's discovery document if that
// has not been done yet, and says what went wrong.
func (a *OAuth) Discover(ctx context.Context) error {
	_, err := a.endpoints(ctx)
	return err
}

// Check describes how cfg authenticates requests, reaching the
// authorization server in oauth mode: for `scimgate check`.
func Check(ctx context.Context, cfg Config) (string, error) {
	switch cfg.Mode {
	case ModeBypass:
		return "no checks: anyone who reaches the port can change the directory", nil
	case ModeToken:
		tokens, err := cfg.LoadTokens()
		return fmt.Sprintf("%d static token(s)", len(tokens)), err
	}
	a, err := NewOAuth(cfg, zap.NewNop(), nil)
	if err != nil {
		return "", err
	}
	ends, err := a.discover(ctx)
	if err != nil {
		return "", err
	}
	var parts []string
	if ends.keys != nil {
		if _, err := ends.keys.refresh(ctx, true); err != nil {
			return "", err
		}
		parts = append(parts, "JWTs verified with the keys at "+ends.keys.url)
	}
	if ends.introspect != "" {
		parts = append(parts, "other tokens introspected at "+ends.introspect+" ("+cfg.introspectionAuth()+")")
	}
	return strings.Join(parts, "; "), nil
}
