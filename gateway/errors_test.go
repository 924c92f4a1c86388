package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scimgate/scimgate/ldapstore"
)

// Retries exhausted by concurrent writers are answered 409 and logged as
// contention, never as the directory being unavailable. The error is made
// by hand: ldapstore's own test gives it up, and TestContendedPatchesAllSucceed
// shows that real contention does not reach it.
func TestStoreErrorNamesContention(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	ctx := context.WithValue(context.Background(), infoKey{}, &requestInfo{id: "req-1", log: zap.New(core)})
	err := fmt.Errorf("patch: %w", &ldapstore.ContentionError{Kind: "User", Attempts: 40, Waited: 29 * time.Second})
	se := storeError(ctx, err)
	if se.Status != http.StatusConflict || !strings.Contains(se.Detail, "at the same time") || strings.Contains(se.Detail, "not available") {
		t.Errorf("answer %d %q", se.Status, se.Detail)
	}
	if se.Header.Get("Retry-After") != "" {
		t.Errorf("Retry-After %q on a conflict", se.Header.Get("Retry-After"))
	}
	lines := logs.All()
	if len(lines) != 1 || !strings.Contains(lines[0].Message, "write contention") || lines[0].ContextMap()["attempts"] != int64(40) {
		t.Errorf("log: %v", lines)
	}
}
