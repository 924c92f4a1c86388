package ldapstore

import (
	"context"
	"fmt"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Conn is one bound connection borrowed from a Pool. It is not safe for
// concurrent use. Every operation takes a context: its deadline bounds the
// operation, and when it ends early the connection is closed, which makes the
// server abandon the operation, and the connection is not reused.
type Conn struct {
	pool     *Pool
	c        *ldap.Conn
	url      string
	server   *server // what the pool knows of the server it is open to
	created  time.Time
	lastUsed time.Time
	broken   bool
}

// Release gives the connection back to its pool.
func (c *Conn) Release() { c.pool.release(c) }

// URL is the directory server this connection is open to.
func (c *Conn) URL() string { return c.url }

// Search runs one search and returns all its entries. Use it for searches
// whose size is bounded (by a filter, a size limit or a paging control).
func (c *Conn) Search(ctx context.Context, req *ldap.SearchRequest) (*ldap.SearchResult, error) {
	var res *ldap.SearchResult
	err := c.do(ctx, "search", func() (err error) {
		res, err = c.c.Search(req)
		return err
	})
	return res, err
}

// Compare reports whether the entry dn has the value in attr.
func (c *Conn) Compare(ctx context.Context, dn, attr, value string) (bool, error) {
	var ok bool
	err := c.do(ctx, "compare", func() (err error) {
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
	return err
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
	return c.ping(ctx) == nil
}

// ping reads the root DSE's objectClass: every server answers it cheaply.
func (c *Conn) ping(ctx context.Context) error {
	_, err := c.Search(ctx, ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
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
// rest of the page, is not reused.
func (c *Conn) pagedSearch(ctx context.Context, req *ldap.SearchRequest, pageSize uint32, fn func(*ldap.Entry) error) error {
	paging := ldap.NewControlPaging(pageSize)
	req.Controls = append(req.Controls, paging)
	for {
		var cookie []byte
		var fnErr error
		err := c.do(ctx, "search", func() error {
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			res := c.c.SearchAsync(sctx, req, streamBuffer)
			for res.Next() {
				if e := res.Entry(); e != nil {
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
