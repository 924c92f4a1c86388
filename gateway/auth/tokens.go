package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// StaticTokens accepts configured tokens, known only by their SHA-256.
type StaticTokens []StaticToken

// Authenticate implements Authenticator.
func (ts StaticTokens) Authenticate(ctx context.Context, token string) (*Identity, error) {
	sum := sha256.Sum256([]byte(token))
	var found *Identity
	for _, t := range ts {
		want, _ := hex.DecodeString(t.SHA256)
		// Compare against every token, in constant time, so that timing
		// tells nothing of which token came close.
		if subtle.ConstantTimeCompare(sum[:], want) == 1 && found == nil {
			found = &Identity{Name: t.Name, Scopes: t.Scopes}
		}
	}
	if found == nil {
		// A failed authentication draws on the client's budget, as in
		// oauth mode: past it, wrong tokens get a *Throttled.
		if err := take(budgetFrom(ctx)); err != nil {
			return nil, err
		}
		return nil, refuse(ReasonUnknown, "")
	}
	return found, nil
}
