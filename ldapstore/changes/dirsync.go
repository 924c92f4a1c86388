package changes

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// DirSync follows the entries below a base DN on Active Directory (and
// Samba as an AD domain controller), which has no RFC 4533 content sync:
// its DirSync control (MS-ADTS 3.1.1.3.4.1.3) answers, from a cookie, the
// objects changed since, deleted ones with isDeleted. It polls: a first
// pass returns every object (the refresh), later ones what changed, each
// changed object read again whole (DirSync returns only the attributes
// that changed). Entries are keyed by their objectGUID, as AD lays its 16
// bytes out.
//
// DirSync searches a whole naming context (Partition), never a unit below
// it: entries outside BaseDN are left out, and one moved out is deleted.
// The account needs no replication right: the object-security flag limits
// the answers to what it may read.
type DirSync struct {
	Dial       Dialer
	Partition  string // the naming context that holds BaseDN
	BaseDN     string
	Filter     string   // e.g. (objectClass=user); deleted objects are asked too
	Attributes []string // what each Put carries
	// Interval is the wait between two polls; default 2 s.
	Interval time.Duration
	// RetryMax bounds the wait between two connection attempts after a
	// failure (it starts at 250 ms and doubles); default 30 s.
	RetryMax time.Duration
}

// dirSyncMaxBytes bounds what one DirSync answer holds (AD's own limit
// applies below it).
const dirSyncMaxBytes = 1 << 20

// dirSyncTimeout bounds one LDAP operation of a session — a DirSync answer
// or the read of one changed object — so that a connection the network
// dropped without a word ends the session (and a reconnect follows)
// rather than hanging the poller.
const dirSyncTimeout = 2 * time.Minute

// Run follows the content for c until ctx ends, reconnecting after a
// failure with a backoff; it returns ctx's error.
func (d *DirSync) Run(ctx context.Context, c Consumer) error {
	return follow(ctx, c, d.RetryMax, d.once)
}

// once runs one session: connect, the first pass, then polls until the
// connection fails. It reports whether the first pass completed.
func (d *DirSync) once(ctx context.Context, c Consumer) (synced bool, err error) {
	base, err := ldap.ParseDN(d.BaseDN)
	if err != nil {
		return false, fmt.Errorf("changes: base DN %q: %w", d.BaseDN, err)
	}
	conn, err := d.Dial(ctx)
	if err != nil {
		return false, fmt.Errorf("changes: connect: %w", err)
	}
	defer conn.Close()
	// go-ldap's DirSync and Search take no context: ctx's end closes the
	// connection, and each operation has a deadline of its own.
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	conn.SetTimeout(dirSyncTimeout)
	c.Reset()
	var cookie []byte
	for first := true; ; first = false {
		if cookie, err = d.pass(ctx, conn, c, base, cookie, first); err != nil {
			return synced, err
		}
		if first {
			synced = true
			c.Synced()
		}
		select {
		case <-ctx.Done():
			return synced, ctx.Err()
		case <-time.After(cmp.Or(d.Interval, 2*time.Second)):
		}
	}
}

// pass asks what changed since cookie until the directory has no more,
// and returns the cookie to ask from next. In the first pass the objects
// come whole; afterwards each changed one is read again.
func (d *DirSync) pass(ctx context.Context, conn *ldap.Conn, c Consumer, base *ldap.DN, cookie []byte, first bool) ([]byte, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		attrs := append([]string{"objectGUID", "isDeleted"}, d.Attributes...)
		req := ldap.NewSearchRequest(d.Partition, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(|"+d.Filter+"(isDeleted=TRUE))", attrs, nil)
		res, err := conn.DirSync(req, ldap.DirSyncObjectSecurity, dirSyncMaxBytes, cookie)
		if err != nil {
			return nil, fmt.Errorf("changes: dirsync %s: %w", d.Partition, err)
		}
		for _, e := range res.Entries {
			if err := d.deliver(conn, c, base, e, first); err != nil {
				return nil, err
			}
		}
		ctrl, ok := ldap.FindControl(res.Controls, ldap.ControlTypeDirSync).(*ldap.ControlDirSync)
		if !ok {
			return nil, fmt.Errorf("changes: dirsync %s: the answer has no DirSync control", d.Partition)
		}
		cookie = ctrl.Cookie
		if ctrl.Flags == 0 { // no more data
			return cookie, nil
		}
	}
}

// deliver hands one changed object to c. In the first pass (whole), an
// object deleted or outside base is passed over: c has none yet, and the
// pass covers the whole partition, deleted objects of every class too.
func (d *DirSync) deliver(conn *ldap.Conn, c Consumer, base *ldap.DN, e *ldap.Entry, whole bool) error {
	raw := e.GetEqualFoldRawAttributeValue("objectGUID")
	if len(raw) != 16 {
		return nil
	}
	key := [16]byte(raw)
	if strings.EqualFold(e.GetEqualFoldAttributeValue("isDeleted"), "TRUE") || !below(e.DN, base) {
		if !whole {
			c.Delete(key)
		}
		return nil
	}
	if !whole {
		res, err := conn.Search(ldap.NewSearchRequest(e.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 0, false,
			d.Filter, append([]string{"objectGUID"}, d.Attributes...), nil))
		switch {
		case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || (err == nil && len(res.Entries) == 0):
			c.Delete(key) // gone (or no longer of the class) since
			return nil
		case err != nil:
			return fmt.Errorf("changes: read %s: %w", e.DN, err)
		}
		e = res.Entries[0]
	}
	c.Put(key, e)
	return nil
}

// below reports whether dn is base or below it (as ldapstore's below,
// rootdse.go, for strings).
func below(dn string, base *ldap.DN) bool {
	d, err := ldap.ParseDN(dn)
	return err == nil && (base.AncestorOfFold(d) || base.EqualFold(d))
}
