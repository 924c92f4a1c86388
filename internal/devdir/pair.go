package devdir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"
	"golang.org/x/sys/unix"
)

// StartPair starts two providers that replicate both ways (OpenLDAP's
// multi-provider replication): serverID 1 and 2, each with the syncprov
// overlay and a refreshAndPersist syncrepl consumer of the other, bound as
// the root DN, retrying every second. A write on either appears on the
// other. Both have the same options (opts.Dir, when set, holds a and b).
// It returns when replication runs both ways and opts.LDIF, added on a,
// is on b too.
//
// The base entries and the service account (and opts.Preload) are loaded
// once, into a with slapadd, and b gets a copy of a's database file: the
// same entries with the same entryUUIDs and entryCSNs, and the same
// contextCSN, so that neither has anything to send the other at start, and
// neither consumer fails its first refresh for want of the suffix entry.
//
// Each server's Kill and Restart work as for a single server: the ports are
// chosen once, before either configuration is written.
func StartPair(ctx context.Context, opts Options) (a, b *Server, err error) {
	bin, err := Binary()
	if err != nil {
		return nil, nil, err
	}
	opts = withDefaults(opts)
	opts.SyncProv = true
	pair := make([]*Server, 2)
	stop := func() {
		for _, s := range pair {
			if s != nil {
				s.Stop()
			}
		}
	}
	for i := range pair {
		o := opts
		if opts.Dir != "" {
			o.Dir = filepath.Join(opts.Dir, string(rune('a'+i)))
		}
		if pair[i], err = newServer(o); err != nil {
			stop()
			return nil, nil, err
		}
		pair[i].bin = bin
	}
	a, b = pair[0], pair[1]
	if err := startPair(ctx, a, b, opts); err != nil {
		stop()
		return nil, nil, err
	}
	if err := a.AddLDIF(ctx, opts.LDIF); err != nil {
		stop()
		return nil, nil, err
	}
	if err := WaitSynced(ctx, a, b); err != nil {
		stop()
		return nil, nil, err
	}
	return a, b, nil
}

// startPair chooses the ports of a and b, writes their configurations,
// loads their databases and starts them, then returns once a write on
// either has reached the other.
func startPair(ctx context.Context, a, b *Server, opts Options) error {
	if err := configurePair(a, b, opts); err != nil {
		return err
	}
	if err := loadPair(ctx, a, b, opts); err != nil {
		return err
	}
	// A free port can be taken between finding and binding it: retry with
	// others.
	for attempt := 1; ; attempt++ {
		err := launchPair(ctx, a, b)
		if err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			return err
		}
		if err := configurePair(a, b, opts); err != nil {
			return err
		}
	}
	return touchBoth(ctx, a, b)
}

func configurePair(a, b *Server, opts Options) error {
	for _, s := range []*Server{a, b} {
		if err := s.listenOn(opts.TLS); err != nil {
			return err
		}
	}
	if err := a.writeConfig(opts, &replica{ServerID: 1, PeerID: 2, Peer: b.URL}); err != nil {
		return err
	}
	return b.writeConfig(opts, &replica{ServerID: 2, PeerID: 1, Peer: a.URL})
}

// launchPair starts both at once, so that each consumer's first attempt
// more likely finds the other listening (a failed one waits a second).
func launchPair(ctx context.Context, a, b *Server) error {
	if err := a.spawn(); err != nil {
		return err
	}
	if err := b.spawn(); err != nil {
		a.kill()
		return err
	}
	errA, errB := a.waitReady(ctx), b.waitReady(ctx)
	if errA != nil || errB != nil {
		a.kill()
		b.kill()
		return errors.Join(errA, errB)
	}
	return nil
}

// touchBoth rewrites the suffix entry's "o" on a, waits until b has the
// change, then the same the other way: replication then runs both ways.
// (One after the other: the same entry written on both at once stalled
// slapd for about a second.)
func touchBoth(ctx context.Context, a, b *Server) error {
	for _, s := range []*Server{a, b} {
		if err := s.touch(); err != nil {
			return err
		}
		if err := WaitSynced(ctx, a, b); err != nil {
			return err
		}
	}
	return nil
}

// touch replaces the suffix entry's "o" with itself: a write that changes
// nothing but the entry's entryCSN.
func (s *Server) touch() error {
	c, err := s.Dial()
	if err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(s.Suffix, ldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"o"}, nil))
	if err == nil && len(res.Entries) == 1 {
		m := ldap.NewModifyRequest(s.Suffix, nil)
		m.Replace("o", res.Entries[0].GetAttributeValues("o"))
		err = c.Modify(m)
	}
	if err != nil {
		return fmt.Errorf("slapd: touch %s: %w", s.URL, err)
	}
	return nil
}

// loadPair loads the base entries and opts.Preload into a with slapadd,
// then copies a's database to b.
func loadPair(ctx context.Context, a, b *Server, opts Options) error {
	if err := a.slapadd(ctx, opts, 1, baseEntries(a, opts), opts.Preload); err != nil {
		return err
	}
	return copySparse(filepath.Join(b.Dir, "db", "data.mdb"), filepath.Join(a.Dir, "db", "data.mdb"))
}

// copySparse copies the file src to dst keeping its holes: slapadd leaves a
// database file as large as the database's maxsize (4 GiB), mostly holes.
func copySparse(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("slapd: %w", err)
	}
	err = copyData(out, in, fi.Size())
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("slapd: copy %s: %w", src, err)
	}
	return nil
}

// copyData copies the data regions of in, skipping its holes, and gives out
// in's size.
func copyData(out, in *os.File, size int64) error {
	for off := int64(0); off < size; {
		data, err := in.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, syscall.ENXIO) { // only a hole is left
			break
		}
		if err != nil {
			return err
		}
		hole, err := in.Seek(data, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		if _, err := in.Seek(data, io.SeekStart); err != nil {
			return err
		}
		if _, err := out.Seek(data, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.CopyN(out, in, hole-data); err != nil {
			return err
		}
		off = hole
	}
	return out.Truncate(size)
}

// WaitSynced waits until the servers, providers that replicate each other,
// report the same non-empty contextCSN on their suffix: each has applied
// every change the others had made when it returns.
func WaitSynced(ctx context.Context, servers ...*Server) error {
	if len(servers) == 0 {
		return nil
	}
	var last [][]string
	for {
		csns, err := contextCSNs(servers)
		if err == nil && csns[0] != nil && !slices.ContainsFunc(csns, func(c []string) bool { return !slices.Equal(c, csns[0]) }) {
			return nil
		}
		last = csns
		select {
		case <-ctx.Done():
			return fmt.Errorf("slapd: servers not in sync (contextCSNs %q, last error %v): %w", last, err, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// contextCSNs returns each server's contextCSN values, sorted; nil for a
// server without a suffix entry yet.
func contextCSNs(servers []*Server) ([][]string, error) {
	var out [][]string
	for _, s := range servers {
		csn, err := s.ContextCSN()
		if err != nil {
			return out, err
		}
		out = append(out, csn)
	}
	return out, nil
}

// ContextCSN returns the contextCSN values of s's suffix (one per server id
// that wrote), sorted; nil if the suffix entry does not exist yet.
func (s *Server) ContextCSN() ([]string, error) {
	c, err := s.Dial()
	if err != nil {
		return nil, fmt.Errorf("slapd: %w", err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(s.Suffix, ldap.ScopeBaseObject, 0, 0, 0, false,
		"(objectClass=*)", []string{"contextCSN"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("slapd: contextCSN: %w", err)
	}
	if len(res.Entries) != 1 {
		return nil, errors.New("slapd: no suffix entry")
	}
	csn := res.Entries[0].GetAttributeValues("contextCSN")
	slices.Sort(csn)
	return csn, nil
}
