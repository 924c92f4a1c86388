package slapd

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// entries returns every entry of s with all its attributes, user and
// operational, as text: what two replicas must agree on. All but memberOf,
// which each provider's memberof overlay keeps on its own, and which does
// not always agree (see TestPair's "memberOf" subtest).
func entries(t *testing.T, s *Server) map[string]string {
	t.Helper()
	found := searchAll(t, s, "(objectClass=*)", "*", "+")
	out := map[string]string{}
	for _, e := range found {
		var attrs []string
		for _, a := range e.Attributes {
			if strings.EqualFold(a.Name, "memberOf") {
				continue
			}
			v := slices.Clone(a.Values)
			slices.Sort(v)
			attrs = append(attrs, a.Name+"="+strings.Join(v, "|"))
		}
		slices.Sort(attrs)
		out[e.DN] = strings.Join(attrs, "\n")
	}
	return out
}

// diff describes how two servers' entries differ, "" if they do not.
func diff(x, y map[string]string) string {
	var out []string
	for _, dn := range slices.Sorted(maps.Keys(x)) {
		if x[dn] != y[dn] {
			out = append(out, fmt.Sprintf("%s:\n%s\nvs\n%s", dn, x[dn], y[dn]))
		}
	}
	for dn := range y {
		if _, ok := x[dn]; !ok {
			out = append(out, dn+": only on the second")
		}
	}
	return strings.Join(out, "\n")
}

// within polls cond until it holds, failing the test after d; it returns
// how long that took.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	t0 := time.Now()
	for !cond() {
		if time.Since(t0) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(t0)
}

func TestPair(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	a, b := NewPair(t, Options{ServiceAccount: true})
	t.Logf("pair started in %s", time.Since(t0).Round(time.Millisecond))
	user := func(uid string) string { return "uid=" + uid + "," + a.PeopleDN }
	g := "cn=g," + a.GroupsDN
	if d := diff(entries(t, a), entries(t, b)); d != "" {
		t.Fatalf("the providers differ at start:\n%s", d)
	}

	t.Run("writes replicate both ways", func(t *testing.T) {
		for _, step := range []struct {
			name   string
			on, to *Server
			write  any
		}{
			{"add on a", a, b, addUser(a, "u1")},
			{"add on b", b, a, addUser(b, "u2")},
			{"modify on b", b, a, modify(user("u1"), "cn", "U1 changed on b")},
			{"modify on a", a, b, modify(user("u2"), "cn", "U2 changed on a")},
			{"rename on a", a, b, ldap.NewModifyDNRequest(user("u1"), "uid=u1b", true, "")},
			{"rename on b", b, a, ldap.NewModifyDNRequest(user("u2"), "uid=u2b", true, "")},
			{"delete on b", b, a, ldap.NewDelRequest(user("u1b"), nil)},
			{"delete on a", a, b, ldap.NewDelRequest(user("u2b"), nil)},
		} {
			write(t, step.on, step.write)
			want := entries(t, step.on)
			lag := within(t, 2*time.Second, step.name, func() bool { return diff(entries(t, step.to), want) == "" })
			t.Logf("%s: on the other in %s", step.name, lag.Round(time.Millisecond))
		}
	})

	// Group writes replicate like any other. memberOf does not: each
	// provider's memberof overlay derives it from the group writes it
	// applies, its own writes are not replicated (nor do they change an
	// entryCSN). On the provider that took the group write it is right; on
	// the other it usually is, but not always: under load (three runs at
	// once with -race on 2 cores), 1 in 20 to 60 group adds left members
	// there without the memberOf value, and from 1 in 25 to half of the
	// deletes or renames of members (a delete closely followed by a rename)
	// left the group there with the member's old DN (refint's and
	// memberof-refint's clean-up) — for good, as nothing replicates it. slapo-memberof(5): "not compatible with
	// syncrepl based replication". So this asserts memberOf where the write
	// was made only.
	t.Run("memberOf", func(t *testing.T) {
		for _, uid := range []string{"m1", "m2", "m3"} {
			write(t, a, addUser(a, uid))
		}
		if err := WaitSynced(context.Background(), a, b); err != nil {
			t.Fatal(err)
		}
		add := ldap.NewAddRequest(g, nil)
		add.Attribute("objectClass", []string{"groupOfNames"})
		add.Attribute("member", []string{user("m1"), user("m2")})
		members := func(op int, dn string) *ldap.ModifyRequest {
			return &ldap.ModifyRequest{DN: g, Changes: []ldap.Change{{Operation: uint(op), Modification: ldap.PartialAttribute{Type: "member", Vals: []string{dn}}}}}
		}
		for _, step := range []struct {
			on      *Server
			write   any
			members []string // g's, on both
			dn      string   // whose memberOf the write changed, on the provider that took it
			want    []string
		}{
			{a, add, []string{user("m1"), user("m2")}, user("m2"), []string{g}},
			{b, members(ldap.AddAttribute, user("m3")), []string{user("m1"), user("m2"), user("m3")}, user("m3"), []string{g}},
			{a, members(ldap.DeleteAttribute, user("m2")), []string{user("m1"), user("m3")}, user("m2"), nil},
		} {
			write(t, step.on, step.write)
			if err := WaitSynced(context.Background(), a, b); err != nil {
				t.Fatal(err)
			}
			for _, s := range []*Server{a, b} {
				if got := values(t, s, g, "member"); !slices.Equal(got, step.members) {
					t.Errorf("%s: g's members %q, want %q", s.URL, got, step.members)
				}
			}
			if got := values(t, step.on, step.dn, "memberOf"); !slices.Equal(got, step.want) {
				t.Errorf("%s: %s memberOf %q, want %q", step.on.URL, step.dn, got, step.want)
			}
			if d := diff(entries(t, a), entries(t, b)); d != "" {
				t.Errorf("the providers differ:\n%s", d)
			}
		}
	})

	// A gateway on b: it is told of a's writes as of b's, and its cookies
	// resume on either provider.
	t.Run("a consumer of b", func(t *testing.T) {
		ss := startSync(t, b, nil, "cn")
		_, end := ss.refresh(t)
		csn, _ := b.ContextCSN()
		if got := cookieCSNs(end.Cookie); !strings.HasPrefix(end.Cookie, "rid=000,sid=002,csn=") || !slices.Equal(got, csn) {
			t.Errorf("refresh cookie %q, want rid=000,sid=002,csn= and b's contextCSN %q", end.Cookie, csn)
		}
		names := uuidNames(t, a)
		var persist []syncMsg
		for _, step := range []struct {
			on    *Server
			write any
			want  string
		}{
			{a, addUser(a, "c1"), "add " + user("c1") + " cn=C1"},
			{b, ldap.NewDelRequest(user("c1"), nil), "delete " + user("c1")},
			{b, modify(user("m3"), "cn", "M3 changed"), "modify " + user("m3") + " cn=M3 changed"},
		} {
			t0 := time.Now()
			write(t, step.on, step.write)
			m := ss.next(t)
			t.Logf("%s: notified on b %s after the write on %s returned", m, time.Since(t0).Round(time.Millisecond), step.on.URL)
			// A persist message's cookie has the CSN of its write only.
			if csns := cookieCSNs(m.Cookie); m.String() != step.want || len(csns) != 1 || !strings.HasPrefix(m.Cookie, "rid=000,sid=002,csn=") {
				t.Errorf("%s cookie %q, want %s and a cookie rid=000,sid=002,csn=<one CSN>", m, m.Cookie, step.want)
			}
			rdn, _, _ := strings.Cut(m.DN, ",")
			names[m.UUID] = rdn
			persist = append(persist, m)
		}
		if err := WaitSynced(context.Background(), a, b); err != nil {
			t.Fatal(err)
		}
		merged := end.Cookie
		for _, m := range persist {
			merged = mergeCookies(merged, m.Cookie)
		}
		all := len(entries(t, a))
		for _, s := range []*Server{a, b} {
			// The refresh's cookie: the delete phase, on either provider.
			got, end := resume(t, s, end.Cookie, names)
			if want := []string{"add " + user("m3") + " cn=M3 changed", "syncIdSet refreshDeletes=true uid=c1"}; !slices.Equal(got, want) || end.String() != "refreshDelete done=true" {
				t.Errorf("%s, resuming with b's refresh cookie: %q then %s, want %q then refreshDelete done=true", s.URL, got, end, want)
			}
			// The last persist cookie alone: the present phase, every entry.
			got, end = resume(t, s, persist[2].Cookie, names)
			if len(got) != all || end.String() != "refreshPresent done=true" {
				t.Errorf("%s, resuming with the last persist cookie: %d messages then %s, want the %d entries then refreshPresent done=true", s.URL, len(got), end, all)
			}
			// The cookies merged by server id: nothing to send.
			got, end = resume(t, s, merged, names)
			if len(got) != 0 || end.String() != "refreshDelete done=true" {
				t.Errorf("%s, resuming with the merged cookie %q: %q then %s, want nothing then refreshDelete done=true", s.URL, merged, got, end)
			}
		}
	})

	// Including the delete, made on b, of an entry a wrote just before it
	// was killed (which a does not apply if its state went back to an older
	// checkpoint: see Options.SyncProv).
	t.Run("a killed provider catches up", func(t *testing.T) {
		write(t, a, addUser(a, "k0"))
		write(t, a, addUser(a, "k2"))
		if err := WaitSynced(context.Background(), a, b); err != nil {
			t.Fatal(err)
		}
		a.Kill()
		write(t, b, addUser(b, "k1"))
		write(t, b, modify(user("k2"), "cn", "K2 changed while a was down"))
		write(t, b, ldap.NewDelRequest(user("k0"), nil))
		t0 := time.Now()
		if err := a.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := entries(t, b)
		within(t, 3*time.Second, "a catches up", func() bool {
			d := diff(entries(t, a), want)
			if d != "" && time.Since(t0) > 2900*time.Millisecond {
				t.Log(d)
			}
			return d == ""
		})
		t.Logf("a restarted and caught up in %s", time.Since(t0).Round(time.Millisecond))
		// b's consumer of a retries every second.
		t0 = time.Now()
		write(t, a, modify(user("k1"), "cn", "K1 changed on a"))
		want = entries(t, a)
		within(t, 3*time.Second, "b gets a write on a restarted", func() bool { return diff(entries(t, b), want) == "" })
		t.Logf("a write on the restarted a reached b in %s", time.Since(t0).Round(time.Millisecond))
	})
}

// cookieCSNs returns the CSNs of an OpenLDAP cookie ("rid=000,sid=002,
// csn=<csn>;<csn>"), sorted.
func cookieCSNs(cookie string) []string {
	_, list, ok := strings.Cut(cookie, "csn=")
	if !ok {
		return nil
	}
	csns := strings.Split(list, ";")
	slices.Sort(csns)
	return csns
}

// mergeCookies returns cookie with the CSNs of next merged in: the newer
// CSN of each server id (a CSN's third field, 20261130120034.366536Z#000000#
// 001#000000). What a consumer of providers that replicate each other must
// do with the persist messages' cookies, which carry one CSN each.
func mergeCookies(cookie, next string) string {
	bySID := map[string]string{}
	for _, csn := range append(cookieCSNs(cookie), cookieCSNs(next)...) {
		f := strings.Split(csn, "#")
		if len(f) == 4 && csn > bySID[f[2]] {
			bySID[f[2]] = csn
		}
	}
	prefix, _, _ := strings.Cut(cookie, "csn=")
	var csns []string
	for _, sid := range slices.Sorted(maps.Keys(bySID)) {
		csns = append(csns, bySID[sid])
	}
	return prefix + "csn=" + strings.Join(csns, ";")
}

func TestPairPreload(t *testing.T) {
	t.Parallel()
	ldif := filepath.Join(t.TempDir(), "users.ldif")
	if err := WriteUsersLDIF(ldif, 50, 10); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	a, b := NewPair(t, Options{ServiceAccount: true, Preload: ldif})
	t.Logf("pair of %d entries started in %s", len(entries(t, a)), time.Since(t0).Round(time.Millisecond))
	// The same entries, entryUUIDs and entryCSNs on both, and the
	// memberOf values of the file.
	if d := diff(entries(t, a), entries(t, b)); d != "" {
		t.Fatalf("the providers differ:\n%s", d)
	}
	ma := memberships(t, a)
	if mb := memberships(t, b); !slices.Equal(ma, mb) || !slices.Contains(ma, "uid=user000049,"+a.PeopleDN+" memberOf cn=team0004,"+a.GroupsDN) {
		t.Errorf("memberships differ, or lack user000049's in team0004")
	}
	// Both write and replicate: service account and all.
	for _, s := range []*Server{a, b} {
		c, err := ldap.DialURL(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(s.ServiceDN, s.ServicePassword); err != nil {
			t.Fatal(err)
		}
		if err := c.Modify(modify("uid=user000007,"+s.PeopleDN, "title", "Written on "+s.URL)); err != nil {
			t.Fatal(err)
		}
		if err := WaitSynced(context.Background(), a, b); err != nil {
			t.Fatal(err)
		}
	}
	if d := diff(entries(t, a), entries(t, b)); d != "" {
		t.Errorf("the providers differ after writes:\n%s", d)
	}
}

// values returns the values of attr of the entry dn on s, sorted.
func values(t *testing.T, s *Server, dn, attr string) []string {
	t.Helper()
	c, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{attr}, nil))
	if err != nil {
		t.Fatal(err)
	}
	v := res.Entries[0].GetAttributeValues(attr)
	slices.Sort(v)
	return v
}

// searchAll returns the entries of s that filter selects, with attrs.
func searchAll(t *testing.T, s *Server, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	c, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(s.Suffix, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, nil))
	if err != nil {
		t.Fatal(err)
	}
	return res.Entries
}
