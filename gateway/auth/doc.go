// Package auth decides who a request's bearer token stands for: the
// authentication modes of the auth section of the configuration (Config,
// its defaults and validation), OAuth 2.0 access tokens from an
// authorization server (OpenID discovery, JWTs verified against its JWKS,
// RFC 7662 introspection for the others, each result cached by the token's
// hash), static tokens known by their SHA-256, the scope names each kind of
// request needs (Janssen's by default), and Check for `scimgate check`.
//
// The gateway uses one small interface, Authenticator: a token in, an
// *Identity (name, scopes, claims) out, or a typed error it answers with
// its own status: *Refusal (401, RFC 6750's invalid_token, with a reason
// for the client), *Throttled (429: the client's budget of failed
// authentications is spent, see WithBudget) or *Unavailable (503: the
// authorization server cannot be asked).
//
// It knows nothing of echo, of SCIM or of LDAP: reading the Authorization
// header, scopes per route, and how a refusal is written are the gateway's.
// It never logs or returns a token.
package auth
