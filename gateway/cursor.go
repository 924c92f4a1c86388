package gateway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/scimgate/scimgate/ldapstore"
)

// cursors encodes and checks the cursors of RFC 9865: a position in a
// query's order (ldapstore.Position), the query it belongs to and an
// expiry, signed with a key that every replica shares, so that any replica
// continues a walk another began. A cursor holds no state on the server.
type cursors struct {
	key     []byte
	timeout time.Duration
	now     func() time.Time
}

// cursorState is what a cursor carries, before signing.
type cursorState struct {
	V        int    `json:"v"`
	Query    string `json:"q"`           // fingerprint of the query
	Key      string `json:"k,omitempty"` // sort key of the resource before the position
	Missing  bool   `json:"m,omitempty"`
	ID       string `json:"i"`
	Backward bool   `json:"b,omitempty"`
	Expires  int64  `json:"e"` // Unix seconds
}

const cursorVersion = 1

// encode returns the cursor of position p in the query with fingerprint q.
// It uses only characters that need no escaping in a URL (RFC 3986
// unreserved).
func (cs cursors) encode(q string, p *ldapstore.Position) string {
	payload, _ := json.Marshal(cursorState{V: cursorVersion, Query: q, Key: p.Key, Missing: p.Missing, ID: p.ID,
		Backward: p.Backward, Expires: cs.now().Add(cs.timeout).Unix()})
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(cs.mac(payload))
}

func (cs cursors) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, cs.key)
	m.Write(payload)
	return m.Sum(nil)[:16]
}

// decode checks a cursor and returns its position: 400 invalidCursor when
// it was not issued by a replica sharing the key, was altered, or belongs
// to another query; 400 expiredCursor when it is too old.
func (cs cursors) decode(q, cursor string) (*ldapstore.Position, error) {
	invalid := newError(http.StatusBadRequest, "invalidCursor",
		"The cursor is not one this server issued for this query. Send an empty cursor to start, then the nextCursor or previousCursor of the last page, "+
			"with the same filter, sortBy and sortOrder.")
	enc := base64.RawURLEncoding
	body, sig, ok := strings.Cut(cursor, ".")
	if !ok {
		return nil, invalid
	}
	payload, err1 := enc.DecodeString(body)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, cs.mac(payload)) {
		return nil, invalid
	}
	var st cursorState
	if err := json.Unmarshal(payload, &st); err != nil || st.V != cursorVersion || st.Query != q {
		return nil, invalid
	}
	if cs.now().Unix() > st.Expires {
		return nil, newError(http.StatusBadRequest, "expiredCursor",
			"The cursor has expired: cursors last %s (cursorTimeout in /ServiceProviderConfig). Start the walk again with an empty cursor.", cs.timeout)
	}
	return &ldapstore.Position{Key: st.Key, Missing: st.Missing, ID: st.ID, Backward: st.Backward}, nil
}

// fingerprint identifies a query for its cursors: the resource type and
// what decides the order of the results. Any other change of the query
// (the attributes returned, the count) keeps the cursors valid.
func fingerprint(kind, filter, sortBy string, descending bool) string {
	h := sha256.New()
	order := "a"
	if descending {
		order = "d"
	}
	h.Write([]byte(kind + "\x00" + strings.TrimSpace(filter) + "\x00" + strings.ToLower(strings.TrimSpace(sortBy)) + "\x00" + order))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}
