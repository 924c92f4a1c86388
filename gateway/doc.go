// Package gateway is scimgate's HTTP side: the echo server, its middleware
// (request ids, deadlines, access log, body limit, authentication), the SCIM
// discovery documents, and the handlers that connect the elimity SCIM
// library to package ldapstore.
//
// One request, say GET /scim/v2/Users/{id}, goes: routes.go (the route and
// the scope it needs) → middleware.go and auth.go → scim.go (hands the
// request to the SCIM library, which routes and validates it) →
// resources.go (libHandler, the library's ResourceHandler, calls the
// resource handler, which calls ldapstore and returns an answer or an
// error) → scim.go again (sends the answer, rendered once as lists are,
// search.go's render) or errors.go (every failure as a SCIM error body).
//
// It must not speak LDAP itself: everything about the directory goes through
// ldapstore, and it reads SCIM schemas and mappings from package schema.
// Who a token stands for is package auth's to decide (auth.Authenticator);
// auth.go only reads the bearer token and answers auth's refusals.
package gateway
