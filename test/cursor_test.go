package test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/test/slapd"
)

// Without server.cursor_key_file, each process signs cursors with a random
// key of its own, never with one derived from the bind credentials (which
// made a cursor an offline oracle for the bind password: any reader could
// test password guesses against its MAC). Two replicas configured alike
// therefore refuse each other's cursors with 400 invalidCursor, never a
// 500; with the same cursor_key_file they accept them.
func TestCursorKeyIsNeverDerived(t *testing.T) {
	dir := slapd.New(t, slapd.Options{})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		t.Fatal(err)
	}
	serve := func(extra ...string) string {
		addr := freeAddr(t)
		start(t, cleanEnv(append(append(directoryEnv(t, dir, addr), "SCIMGATE_AUTH_MODE=bypass"), extra...)...), "serve")
		base := "http://" + addr
		waitReady(t, base)
		return base + "/scim/v2/Users?count=2&cursor="
	}
	a, b := serve(), serve()
	status, _, doc := call(t, "GET", a, "", "")
	next, _ := doc["nextCursor"].(string)
	if status != 200 || next == "" {
		t.Fatalf("first page: %d %v", status, doc)
	}
	if status, _, doc := call(t, "GET", a+url.QueryEscape(next), "", ""); status != 200 {
		t.Fatalf("the issuing replica: %d %v", status, doc)
	}
	if status, _, doc := call(t, "GET", b+url.QueryEscape(next), "", ""); status != 400 || doc["scimType"] != "invalidCursor" {
		t.Errorf("another replica without a shared key: %d %v, want 400 invalidCursor", status, doc)
	}

	// The attack: the password (a guess of it) checked against the MAC.
	body, sig, _ := strings.Cut(next, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(body)
	derived := sha256.Sum256([]byte("scimgate shared secret v1\x00" + dir.RootDN + "\x00" + dir.Password))
	m := hmac.New(sha256.New, derived[:])
	m.Write(payload)
	if base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16]) == sig {
		t.Error("the cursor is signed with a key derived from the bind password")
	}

	// Replicas sharing a key file share cursors.
	key := writeFile(t, "cursor-key", "bm90IGEgcmVhbCBrZXksIGJ1dCBsb25nIGVub3VnaA==\n")
	c, d := serve("SCIMGATE_SERVER_CURSOR_KEY_FILE="+key), serve("SCIMGATE_SERVER_CURSOR_KEY_FILE="+key)
	_, _, doc = call(t, "GET", c, "", "")
	next, _ = doc["nextCursor"].(string)
	if status, _, doc := call(t, "GET", d+url.QueryEscape(next), "", ""); status != 200 {
		t.Errorf("a replica sharing cursor_key_file: %d %v", status, doc)
	}
}
