//go:build tools

// Package hydra pins Ory Hydra, the OAuth 2.0 server the end-to-end auth
// tests run against. It is a module of its own so that Hydra's large
// dependency tree stays out of scimgate's go.mod; build.sh builds the binary.
package hydra

import _ "github.com/ory/hydra/v2"
