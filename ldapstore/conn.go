package ldapstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// wire is what the pool needs of an LDAP connection: a *ldap.Conn, or a
// fake in the pool's unit tests.
type wire interface {
	Search(req *ldap.SearchRequest) (*ldap.SearchResult, error)
	SearchAsync(ctx context.Context, req *ldap.SearchRequest, bufferSize int) ldap.Response
	Compare(dn, attribute, value string) (bool, error)
	Add(req *ldap.AddRequest) error
	Modify(req *ldap.ModifyRequest) error
	ModifyDN(req *ldap.ModifyDNRequest) error
	Del(req *ldap.DelRequest) error
	PasswordModify(req *ldap.PasswordModifyRequest) (*ldap.PasswordModifyResult, error)
	SetTimeout(timeout time.Duration)
	IsClosing() bool
	Close() error
}

// pooledConn is one connection the pool owns, open to one server and
// lent to one borrower at a time (database/sql's driverConn).
type pooledConn struct {
	c        wire
	url      string
	server   *server // what the pool knows of the server it is open to
	created  time.Time
	lastUsed time.Time
	broken   bool
}

// Conn is one borrowing of a pooled connection: Pool.Conn returns a new
// one each time, and Release ends it. It is not safe for concurrent use.
// Every operation takes a context: its deadline bounds the operation, and
// when it ends early the connection is closed, which makes the server
// abandon the operation, and the connection is not reused.
type Conn struct {
	*pooledConn
	pool *Pool
	// unproven is set while a connection taken from the idle list has had
	// no answer in this borrowing: a search or compare that finds it dead
	// is retried once on a fresh connection (read).
	unproven bool
	released atomic.Bool
}

// Release gives the connection back to its pool. Releasing it again is a
// mistake the pool ignores and counts (PoolStats.DoubleReleases): the
// connection may already be lent to another borrower.
func (c *Conn) Release() {
	if c.released.Swap(true) {
		c.pool.mu.Lock()
		c.pool.stats.DoubleReleases++
		c.pool.mu.Unlock()
		return
	}
	c.pool.release(c.pooledConn)
}

// URL is the directory server this connection is open to.
func (c *Conn) URL() string { return c.url }

// Search runs one search and returns all its entries. Use it for searches
// whose size is bounded (by a filter, a size limit or a paging control).
func (c *Conn) Search(ctx context.Context, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	var res *ldap.SearchResult
	err := c.read(ctx, "search", func() (err error) {
		res, err = c.c.Search(req)
		return err
	})
	return res, err
}

// Compare reports whether the entry dn has the value in attr.
func (c *Conn) Compare(ctx context.Context, dn, attr, value string) (bool, error) {
	var ok bool
	err := c.read(ctx, "compare", func() (err error) {
		ok, err = c.c.Compare(dn, attr, value)
		return err
	})
	return ok, err
}

// Add adds an entry.
func (c *Conn) Add(ctx context.Context, req *ldap.AddRequest) error {
	return c.do(ctx, "add", func() error { return c.c.Add(req) })
}

// Modify modifies an entry.
func (c *Conn) Modify(ctx context.Context, req *ldap.ModifyRequest) error {
	return c.do(ctx, "modify", func() error { return c.c.Modify(req) })
}

// ModifyDN renames an entry.
func (c *Conn) ModifyDN(ctx context.Context, req *ldap.ModifyDNRequest) error {
	return c.do(ctx, "modifydn", func() error { return c.c.ModifyDN(req) })
}

// Del deletes an entry.
func (c *Conn) Del(ctx context.Context, req *ldap.DelRequest) error {
	return c.do(ctx, "delete", func() error { return c.c.Del(req) })
}

// do runs op, an LDAP operation of the given kind, bounded by ctx, and
// reports it to the pool's observer. A network error, a time-out or the end
// of ctx while op runs mark the connection broken, so that release closes it.
func (c *Conn) do(ctx context.Context, kind string, op func() error) error {
	var err error
	if obs := c.pool.observer.Load(); obs == nil {
		err = c.run(ctx, op)
	} else {
		done := (*obs).StartOperation(ctx, kind)
		err = c.run(ctx, op)
		done(ResultOf(err))
	}
	if err == nil && kind != "search" && kind != "compare" {
		c.pool.writes.Add(1)
	}
	if !c.broken {
		c.unproven = false // the server answered
	}
	return err
}

// read runs op, a search or a compare, as do does. When op fails because a
// connection taken from the idle list was dead before this borrowing used
// it (closed under the request, not timed out, the request's context still
// running), read dials a fresh connection in its place and runs op once
// more, as database/sql retries on driver.ErrBadConn. Writes never come
// here: a write whose answer was lost may have been applied.
func (c *Conn) read(ctx context.Context, kind string, op func() error) error {
	err := c.do(ctx, kind, op)
	if err == nil || !c.unproven || !c.broken || !c.c.IsClosing() || ctx.Err() != nil {
		return err
	}
	if derr := c.redial(ctx); derr != nil {
		return err
	}
	return c.do(ctx, kind, op)
}

// redial replaces the borrowed connection, found dead, by a fresh one,
// which keeps the borrowing's slot.
func (c *Conn) redial(ctx context.Context) error {
	pc, err := c.pool.dial(ctx)
	if err != nil {
		return err
	}
	dead := c.pooledConn
	c.pool.mu.Lock()
	c.pool.stats.BrokenClosed++
	c.pool.stats.BadConnRetries++
	c.pool.mu.Unlock()
	go dead.c.Close()
	c.pooledConn, c.unproven = pc, false
	return nil
}

func (c *Conn) run(ctx context.Context, op func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	timeout := c.pool.cfg.OperationTimeout
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < timeout {
			timeout = d
		}
	}
	if timeout <= 0 {
		return fmt.Errorf("%w: %w", ErrUnavailable, context.DeadlineExceeded)
	}
	c.c.SetTimeout(timeout)
	c.pool.operations.Add(1)
	stop := context.AfterFunc(ctx, func() { c.c.Close() })
	err := op()
	if !stop() {
		// ctx ended while op ran and the connection is being closed.
		c.broken = true
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
		return nil // op completed before the close took effect
	}
	if err != nil && (ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || c.c.IsClosing()) {
		// A dead server, a time-out, or a response that never came: the
		// connection may still carry an unanswered request; never reuse it.
		// (go-ldap hands requests pending when the connection drops its
		// reader's error as is, not as an ErrorNetwork: IsClosing tells.)
		c.broken = true
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// healthy reports whether an idle connection can be handed out: not closed
// by the server, and answering a cheap request if it sat idle long.
func (c *Conn) healthy(ctx context.Context) bool {
	if c.c.IsClosing() {
		return false
	}
	if time.Since(c.lastUsed) < c.pool.cfg.HealthCheckAfter {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, c.pool.cfg.DialTimeout)
	defer cancel()
	// do, not read: a dead connection here is closed, not retried.
	return c.do(ctx, "search", func() error { _, err := c.c.Search(pingRequest()); return err }) == nil
}

// pingRequest reads the root DSE's objectClass: every server answers it
// cheaply.
func pingRequest() *ldap.SearchRequest {
	return ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", []string{"1.1"}, nil)
}

// ping checks that the directory answers on c.
func (c *Conn) ping(ctx context.Context) error {
	_, err := c.Search(ctx, pingRequest())
	if err != nil {
		return fmt.Errorf("ldap: ping %s: %w", c.url, err)
	}
	return nil
}

// pagedSearch runs req with the simple paged results control, pageSize
// entries at a time, and calls fn for every entry as it is decoded: no
// page is collected, and nothing of an entry outlives fn but what fn
// keeps. Entries that come before an error (a size limit) count. When fn
// fails, the search stops and the connection, which may still receive the
// rest of the page, is not reused. A connection from the idle list found
// dead before any answer is replaced and the page asked again (read).
func (c *Conn) pagedSearch(ctx context.Context, req *ldap.SearchRequest, pageSize uint32, fn func(*ldap.Entry) error) error {
	paging := ldap.NewControlPaging(pageSize)
	req.Controls = append(req.Controls, paging)
	for {
		var cookie []byte
		var fnErr error
		err := c.read(ctx, "search", func() error {
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			res := c.c.SearchAsync(sctx, req, streamBuffer)
			for res.Next() {
				if e := res.Entry(); e != nil {
					c.unproven = false // an entry came: never run fn twice on it
					if fnErr = fn(e); fnErr != nil {
						c.broken = true
						return nil
					}
				}
			}
			if err := res.Err(); err != nil {
				return err
			}
			if ctrl, _ := ldap.FindControl(res.Controls(), ldap.ControlTypePaging).(*ldap.ControlPaging); ctrl != nil {
				cookie = ctrl.Cookie
			}
			return nil
		})
		switch {
		case fnErr != nil:
			return fnErr
		case err != nil:
			return err
		case len(cookie) == 0:
			return nil
		}
		paging.SetCookie(cookie)
	}
}

// streamBuffer is how many decoded entries a streamed search holds ahead
// of the code reading them.
const streamBuffer = 64
