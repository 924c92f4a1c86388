package slapd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// What slapd 2.5's syncprov sends a go-ldap Conn.Syncrepl consumer
// (refreshAndPersist), as these tests pin it down:
//
// Refresh without a cookie: every entry in scope, each a SearchResultEntry
// with the requested attributes and a Sync State control: state add (1),
// the entry's entryUUID, no cookie. Then an IntermediateResponse (go-ldap:
// Entry() nil, one *ldap.ControlSyncInfo) of kind refreshDelete with
// refreshDone true and the cookie "rid=000,csn=<contextCSN>".
//
// Persist phase, one message per write, about 10 ms after it, each with
// the cookie "rid=000,csn=<the write's entryCSN>":
//   - add: the entry, state add (1);
//   - modify: the whole entry (the requested attributes as they are now,
//     not the change), state modify (2);
//   - modrdn: the entry under its new DN, state modify (2), same entryUUID:
//     a rename is a modify whose DN differs from the one the consumer has;
//   - delete: state delete (3), the entry's DN, no attributes.
//
// The memberof overlay's writes are never sent, nor are those of memberof's
// referential integrity (memberof-refint): adding a member to a group sends
// the group only, though the member's memberOf changed; deleting or renaming
// a member sends that entry only, though the groups' member values changed.
// Those writes do not change the entryCSN of the entries they touch either
// (memberof and refint run them with o_dont_replicate and no operational
// attributes), whatever the overlays' order: a consumer derives memberOf
// from the groups' member values and drops or renames a deleted or renamed
// member in its groups itself.
//
// Resuming with a cookie (refreshAndPersist again; see TestSyncProvResume):
//   - nothing changed: a refreshDelete Sync Info, refreshDone, with NO
//     cookie: keep the one you have;
//   - the provider's session log covers the cookie (it holds the last
//     10,000 writes since the provider started): the delete phase — first
//     a syncIdSet Sync Info with refreshDeletes true and the entryUUIDs of
//     the entries deleted since, then every entry added, modified or renamed
//     since, state add (1) (never modify) and no cookie, then a
//     refreshDelete Sync Info, refreshDone, with the new cookie;
//   - the session log does not cover the cookie (the provider restarted
//     after changes the consumer missed, or the log overflowed): the
//     present phase — a syncIdSet Sync Info with refreshDeletes false
//     listing the entryUUIDs of every entry in scope, then the entries
//     changed since the cookie (state add), then a refreshPresent Sync Info,
//     refreshDone, with the new cookie: the consumer deletes every entry it
//     holds that is in neither;
//   - a cookie newer than the provider's state: the search fails with 53
//     unwillingToPerform "consumer state is newer than provider!". syncprov
//     keeps its contextCSN in memory and writes it at a checkpoint and at a
//     clean shutdown: with the usual syncprov-checkpoint 100 10, a provider
//     killed (kill -9, a crash) comes back with the contextCSN of its last
//     checkpoint, older than its consumers' cookies, until its next write.
//     The harness checkpoints every write: a killed provider comes back
//     with its state, and a consumer resumes as if nothing happened;
//   - a cookie slapd cannot parse: treated as none (a full refresh), and
//     the refreshDelete at its end has no cookie.
//
// Two providers (see pair_test.go) add the provider's serverID and one CSN
// per serverID to the refresh's cookie ("rid=000,sid=002,csn=<csn of
// server 1>;<csn of server 2>"), but a persist message's cookie carries the
// CSN of that write only. Resuming with such a cookie, which lacks the other
// servers' CSNs, gets the present phase with every entry; merge the CSNs of
// the persist cookies into the refresh's, per serverID (the third field of
// a CSN, 20261130120034.366536Z#000000#001#000000), to resume with a delete
// phase. A cookie of one provider resumes as well on the other.

// syncMsg is one message of a content synchronisation session.
type syncMsg struct {
	DN    string // of an entry; "" for a Sync Info message
	State ldap.ControlSyncStateState
	UUID  string
	// Cookie is the cookie of the Sync State or Sync Info control.
	Cookie string
	Attrs  map[string][]string
	Info   *ldap.ControlSyncInfo // of an intermediate response
}

// String is the message as the tests compare it: the state and the DN of an
// entry with its attributes, or the kind of a Sync Info.
func (m syncMsg) String() string {
	if m.Info != nil {
		switch i := m.Info; i.Value {
		case ldap.SyncInfoRefreshDelete:
			return fmt.Sprintf("refreshDelete done=%t", i.RefreshDelete.RefreshDone)
		case ldap.SyncInfoRefreshPresent:
			return fmt.Sprintf("refreshPresent done=%t", i.RefreshPresent.RefreshDone)
		case ldap.SyncInfoSyncIdSet:
			return fmt.Sprintf("syncIdSet refreshDeletes=%t", i.SyncIdSet.RefreshDeletes)
		default:
			return fmt.Sprintf("sync info %d", i.Value)
		}
	}
	state := map[ldap.ControlSyncStateState]string{ldap.SyncStatePresent: "present", ldap.SyncStateAdd: "add",
		ldap.SyncStateModify: "modify", ldap.SyncStateDelete: "delete"}[m.State]
	var attrs []string
	for name, values := range m.Attrs {
		attrs = append(attrs, name+"="+strings.Join(values, "|"))
	}
	slices.Sort(attrs)
	return strings.TrimSpace(state + " " + m.DN + " " + strings.Join(attrs, " "))
}

// syncSession is a refreshAndPersist session of go-ldap's Conn.Syncrepl.
type syncSession struct {
	msgs chan syncMsg
	errc chan error
	stop context.CancelFunc
}

// startSync starts a session on s over the whole suffix, asking attrs, from
// cookie (none if nil), bound as the root DN; it ends with the test.
func startSync(t *testing.T, s *Server, cookie []byte, attrs ...string) *syncSession {
	t.Helper()
	c, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ss := &syncSession{msgs: make(chan syncMsg, 1000), errc: make(chan error, 1), stop: cancel}
	req := ldap.NewSearchRequest(s.Suffix, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", attrs, nil)
	r := c.Syncrepl(ctx, req, 100, ldap.SyncRequestModeRefreshAndPersist, cookie, false)
	go func() {
		defer c.Close()
		for r.Next() {
			ss.msgs <- toSyncMsg(r)
		}
		ss.errc <- r.Err()
	}()
	t.Cleanup(cancel)
	return ss
}

func toSyncMsg(r ldap.Response) syncMsg {
	var m syncMsg
	if e := r.Entry(); e != nil {
		m.DN, m.Attrs = e.DN, map[string][]string{}
		for _, a := range e.Attributes {
			m.Attrs[a.Name] = a.Values
		}
	}
	for _, c := range r.Controls() {
		switch c := c.(type) {
		case *ldap.ControlSyncState:
			m.State, m.UUID, m.Cookie = c.State, c.EntryUUID.String(), string(c.Cookie)
		case *ldap.ControlSyncInfo:
			m.Info = c
			switch {
			case c.RefreshDelete != nil:
				m.Cookie = string(c.RefreshDelete.Cookie)
			case c.RefreshPresent != nil:
				m.Cookie = string(c.RefreshPresent.Cookie)
			case c.SyncIdSet != nil:
				m.Cookie = string(c.SyncIdSet.Cookie)
			case c.NewCookie != nil:
				m.Cookie = string(c.NewCookie.Cookie)
			}
		}
	}
	return m
}

// next returns the next message, failing the test if none comes within 2 s.
func (ss *syncSession) next(t *testing.T) syncMsg {
	t.Helper()
	select {
	case m := <-ss.msgs:
		return m
	case err := <-ss.errc:
		t.Fatalf("sync session ended: %v", err)
	case <-time.After(2 * time.Second):
		t.Fatal("no sync message within 2 s")
	}
	return syncMsg{}
}

// refresh reads the messages up to the Sync Info that ends the refresh
// phase, which it returns apart.
func (ss *syncSession) refresh(t *testing.T) (msgs []syncMsg, end syncMsg) {
	t.Helper()
	for {
		m := ss.next(t)
		if m.Info != nil && (m.Info.RefreshDelete != nil || m.Info.RefreshPresent != nil) {
			return msgs, m
		}
		msgs = append(msgs, m)
	}
}

// strings returns the messages as strings, sorted when the order is not
// what the test is about.
func msgStrings(msgs []syncMsg, sorted bool) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.String())
	}
	if sorted {
		slices.Sort(out)
	}
	return out
}

// entryState is what the tests read of one entry: its entryUUID and
// entryCSN.
type entryState struct{ UUID, CSN string }

// entryStates returns the entryUUID and entryCSN of every entry of s.
func entryStates(t *testing.T, s *Server) map[string]entryState {
	t.Helper()
	found := searchAll(t, s, "(objectClass=*)", "entryUUID", "entryCSN")
	out := map[string]entryState{}
	for _, e := range found {
		out[e.DN] = entryState{e.GetAttributeValue("entryUUID"), e.GetAttributeValue("entryCSN")}
	}
	return out
}

func write(t *testing.T, s *Server, req any) {
	t.Helper()
	c, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	switch r := req.(type) {
	case *ldap.AddRequest:
		err = c.Add(r)
	case *ldap.ModifyRequest:
		err = c.Modify(r)
	case *ldap.ModifyDNRequest:
		err = c.ModifyDN(r)
	case *ldap.DelRequest:
		err = c.Del(r)
	default:
		t.Fatalf("no such write: %T", req)
	}
	if err != nil {
		t.Fatalf("%T on %s: %v", req, s.URL, err)
	}
}

func addUser(s *Server, uid string) *ldap.AddRequest {
	r := ldap.NewAddRequest("uid="+uid+","+s.PeopleDN, nil)
	r.Attribute("objectClass", []string{"inetOrgPerson"})
	r.Attribute("uid", []string{uid})
	r.Attribute("cn", []string{strings.ToUpper(uid)})
	r.Attribute("sn", []string{"S"})
	return r
}

func modify(dn, attr string, values ...string) *ldap.ModifyRequest {
	r := ldap.NewModifyRequest(dn, nil)
	r.Replace(attr, values)
	return r
}

func TestSyncProvRefreshAndPersist(t *testing.T) {
	t.Parallel()
	s := New(t, Options{SyncProv: true, LDIF: "dn: uid=u1,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: u1\ncn: U1\nsn: S\n\n" +
		"dn: cn=g,ou=groups,dc=example,dc=org\nobjectClass: groupOfNames\ncn: g\nmember: uid=u1,ou=people,dc=example,dc=org\n"})
	u1, u2, g := "uid=u1,"+s.PeopleDN, "uid=u2,"+s.PeopleDN, "cn=g,"+s.GroupsDN
	start := entryStates(t, s)
	ss := startSync(t, s, nil, "cn", "member", "memberOf")

	msgs, end := ss.refresh(t)
	if got, want := msgStrings(msgs, true), []string{
		"add cn=g,ou=groups,dc=example,dc=org cn=g member=" + u1,
		"add dc=example,dc=org",
		"add ou=groups,dc=example,dc=org",
		"add ou=people,dc=example,dc=org",
		"add uid=u1,ou=people,dc=example,dc=org cn=U1 memberOf=" + g,
	}; !slices.Equal(got, want) {
		t.Errorf("refresh:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, m := range msgs {
		if m.UUID != start[m.DN].UUID || m.Cookie != "" {
			t.Errorf("refresh: %s: entryUUID %s cookie %q, want %s and none", m.DN, m.UUID, m.Cookie, start[m.DN].UUID)
		}
	}
	csn, _ := s.ContextCSN()
	if end.String() != "refreshDelete done=true" || end.Cookie != "rid=000,csn="+csn[0] {
		t.Errorf("end of refresh: %s cookie %q, want refreshDelete done=true rid=000,csn=%s", end, end.Cookie, csn[0])
	}

	u3 := "uid=u3," + s.PeopleDN
	for _, step := range []struct {
		name  string
		write any
		want  string // the one message the write sends
		dn    string // of the entry it is about, before the write (after it for an add)
	}{
		{"add", addUser(s, "u2"), "add " + u2 + " cn=U2", u2},
		{"modify", modify(u2, "cn", "U2 changed"), "modify " + u2 + " cn=U2 changed", u2},
		{"rename", ldap.NewModifyDNRequest(u2, "uid=u3", true, ""), "modify " + u3 + " cn=U2 changed", u2},
		// u3's memberOf changes too: no message for it.
		{"member added", &ldap.ModifyRequest{DN: g, Changes: []ldap.Change{{Operation: ldap.AddAttribute,
			Modification: ldap.PartialAttribute{Type: "member", Vals: []string{u3}}}}},
			"modify " + g + " cn=g member=" + u1 + "|" + u3, g},
		// memberof-refint takes u1 out of g: no message for g.
		{"delete", ldap.NewDelRequest(u1, nil), "delete " + u1, u1},
	} {
		before := entryStates(t, s)
		t0 := time.Now()
		write(t, s, step.write)
		m := ss.next(t)
		lag := time.Since(t0)
		after := entryStates(t, s)
		id := before[step.dn].UUID
		if step.name == "add" {
			id = after[step.dn].UUID
		}
		if m.String() != step.want || m.UUID != id {
			t.Errorf("%s: %s (entryUUID %s), want %s (entryUUID %s)", step.name, m, m.UUID, step.want, id)
		}
		// The write changed the entryCSN of its entry and of no other:
		// the overlays' writes keep the entryCSNs.
		var changed []string
		for dn, st := range after {
			if st.CSN != before[dn].CSN {
				changed = append(changed, dn)
			}
		}
		if want := []string{m.DN}; m.State == ldap.SyncStateDelete && len(changed) != 0 || m.State != ldap.SyncStateDelete && !slices.Equal(changed, want) {
			t.Errorf("%s: entryCSN changed on %q, want on the message's entry only", step.name, changed)
		}
		if m.State != ldap.SyncStateDelete && m.Cookie != "rid=000,csn="+after[m.DN].CSN || m.Cookie == "" {
			t.Errorf("%s: cookie %q, want rid=000,csn=<the entry's entryCSN>", step.name, m.Cookie)
		}
		t.Logf("%s: notified %s after the write returned", step.name, lag.Round(time.Millisecond))
	}
	// The overlays did their writes, unsent.
	if got := memberships(t, s); !slices.Equal(got, []string{g + " member " + u3, u3 + " memberOf " + g}) {
		t.Errorf("memberships after the writes: %q", got)
	}
	time.Sleep(300 * time.Millisecond) // refint works in the background
	select {
	case m := <-ss.msgs:
		t.Errorf("unexpected message %s", m)
	default:
	}
}

// memberships returns "DN member X" and "DN memberOf X" for every value of
// member and memberOf in s, sorted.
func memberships(t *testing.T, s *Server) []string {
	t.Helper()
	found := searchAll(t, s, "(|(member=*)(memberOf=*))", "member", "memberOf")
	var out []string
	for _, e := range found {
		for _, a := range e.Attributes {
			for _, v := range a.Values {
				out = append(out, e.DN+" "+a.Name+" "+v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// resume starts a session from cookie on s and returns its refresh phase:
// the messages as strings, sorted, with entryUUIDs named by the entries'
// DNs in names; and the message that ended it.
func resume(t *testing.T, s *Server, cookie string, names map[string]string) ([]string, syncMsg) {
	t.Helper()
	ss := startSync(t, s, []byte(cookie), "cn")
	msgs, end := ss.refresh(t)
	ss.stop()
	var out []string
	for _, m := range msgs {
		str := m.String()
		if m.Info != nil && m.Info.SyncIdSet != nil {
			var ids []string
			for _, id := range m.Info.SyncIdSet.SyncUUIDs {
				ids = append(ids, names[id.String()])
			}
			slices.Sort(ids)
			str += " " + strings.Join(ids, " ")
		}
		out = append(out, str)
	}
	slices.Sort(out)
	return out, end
}

// uuidNames maps the entryUUIDs of s's entries to their DNs' first RDN.
func uuidNames(t *testing.T, s *Server) map[string]string {
	names := map[string]string{}
	for dn, st := range entryStates(t, s) {
		rdn, _, _ := strings.Cut(dn, ",")
		names[st.UUID] = rdn
	}
	return names
}

func TestSyncProvResume(t *testing.T) {
	t.Parallel()
	var ldif string
	for i := 1; i <= 5; i++ {
		ldif += fmt.Sprintf("dn: uid=u%d,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: u%d\ncn: U%d\nsn: S\n\n", i, i, i)
	}
	s := New(t, Options{SyncProv: true, LDIF: ldif})
	user := func(uid string) string { return "uid=" + uid + "," + s.PeopleDN }
	names := uuidNames(t, s)
	_, end := startSync(t, s, nil, "cn").refresh(t)
	c0 := end.Cookie

	// Nothing changed: no entries, and no new cookie.
	got, end := resume(t, s, c0, names)
	if len(got) != 0 || end.String() != "refreshDelete done=true" || end.Cookie != "" {
		t.Errorf("resume, nothing changed: %q, then %s cookie %q; want nothing, then refreshDelete done=true without a cookie", got, end, end.Cookie)
	}

	// Changes the session log covers: the delete phase.
	write(t, s, modify(user("u1"), "cn", "U1 changed"))
	write(t, s, ldap.NewDelRequest(user("u2"), nil))
	write(t, s, ldap.NewModifyDNRequest(user("u3"), "uid=u3b", true, ""))
	write(t, s, addUser(s, "u6"))
	got, end = resume(t, s, c0, names)
	csn, _ := s.ContextCSN()
	if want := []string{
		"add " + user("u1") + " cn=U1 changed",
		"add " + user("u3b") + " cn=U3",
		"add " + user("u6") + " cn=U6",
		"syncIdSet refreshDeletes=true uid=u2",
	}; !slices.Equal(got, want) || end.String() != "refreshDelete done=true" || end.Cookie != "rid=000,csn="+csn[0] {
		t.Errorf("resume after writes:\n%s\nthen %s cookie %q; want\n%s\nthen refreshDelete done=true rid=000,csn=%s",
			strings.Join(got, "\n"), end, end.Cookie, strings.Join(want, "\n"), csn[0])
	}
	c1 := end.Cookie
	names = uuidNames(t, s)

	// Changes, then a restart: the session log is lost, the present phase.
	write(t, s, ldap.NewDelRequest(user("u6"), nil))
	write(t, s, modify(user("u4"), "cn", "U4 changed"))
	s.Shutdown()
	if err := s.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, end = resume(t, s, c1, names)
	if want := []string{
		"add " + user("u4") + " cn=U4 changed",
		"syncIdSet refreshDeletes=false dc=example ou=groups ou=people uid=u1 uid=u3b uid=u4 uid=u5",
	}; !slices.Equal(got, want) || end.String() != "refreshPresent done=true" || end.Cookie == "" {
		t.Errorf("resume after writes and a restart:\n%s\nthen %s cookie %q; want\n%s\nthen refreshPresent done=true and a cookie",
			strings.Join(got, "\n"), end, end.Cookie, strings.Join(want, "\n"))
	}

	// A write, then a kill: the checkpoint after every write kept the
	// provider's state (with checkpoints every 100 writes, this resume
	// failed with 53 "consumer state is newer than provider!").
	ss := startSync(t, s, nil, "cn")
	ss.refresh(t)
	write(t, s, ldap.NewDelRequest(user("u5"), nil))
	c2 := ss.next(t).Cookie
	s.Kill()
	if err := s.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if csn, _ := s.ContextCSN(); len(csn) != 1 || "rid=000,csn="+csn[0] != c2 {
		t.Errorf("contextCSN after a kill: %q, want the last write's, of the cookie %q", csn, c2)
	}
	got, end = resume(t, s, c2, names)
	if len(got) != 0 || end.String() != "refreshDelete done=true" {
		t.Errorf("resume after a kill: %q then %s, want nothing then refreshDelete done=true", got, end)
	}

	// A cookie slapd cannot read: a full refresh, and no cookie.
	got, end = resume(t, s, "garbage", names)
	if want := []string{
		"add dc=example,dc=org", "add ou=groups,dc=example,dc=org", "add ou=people,dc=example,dc=org",
		"add " + user("u1") + " cn=U1 changed", "add " + user("u3b") + " cn=U3", "add " + user("u4") + " cn=U4 changed",
	}; !slices.Equal(got, want) || end.String() != "refreshDelete done=true" || end.Cookie != "" {
		t.Errorf("resume with a garbage cookie:\n%s\nthen %s cookie %q; want\n%s\nthen refreshDelete done=true without a cookie",
			strings.Join(got, "\n"), end, end.Cookie, strings.Join(want, "\n"))
	}
}
