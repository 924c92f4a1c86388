package ldapstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// Options say where resources live and how they are mapped.
type Options struct {
	Users  UsersConfig
	Groups GroupsConfig
	// Manager is users.manager; zero: its defaults.
	Manager ManagerConfig
	Profile schema.Profile
	Search  SearchConfig
	// Limits bound what a resource may hold; zero: schema.DefaultLimits.
	Limits schema.Limits
}

// Store keeps SCIM Users and Groups in the directory, through a Pool.
//
// The mapping it uses is the profile's, changed by the configuration, then
// restricted to what the directory's schema can hold. The directory's schema
// is read on first use (and by Load), not by NewStore, so that the gateway
// can start before the directory answers.
type Store struct {
	pool        *Pool
	dnAttribute string
	users       resourceSetup
	groups      resourceSetup
	search      SearchConfig
	limits      schema.Limits
	snapshots   *snapshotCache
	scans       *scans
	groupRefs   *refCache

	loadMu sync.Mutex
	state  atomic.Pointer[state]
}

// resourceSetup is a resource type as configured, before the directory's
// schema is known.
type resourceSetup struct {
	section string
	kind    string
	baseDN  string
	base    *ldap.DN
	mapping schema.Resource
	maxName int // characters of a userName (displayName)
	manager ManagerConfig
}

// state is what the store knows once it has read the directory.
type state struct {
	users, groups *Resources
	dse           *RootDSE
	ds            *DirectorySchema
	report        Report
}

// Report says how the directory's schema shaped the mapping.
type Report struct {
	// Dropped lists the mappings left out because the directory cannot
	// hold their attribute, as "users: nickName → scimNickName".
	Dropped []string
	// Problems are what stops a resource type from working: a missing
	// object class, id or naming attribute.
	Problems []error
	// Limits are features the directory makes weaker than they could be.
	Limits []string
}

// NewStore returns a store over pool. It checks the configuration but does
// not contact the directory.
func NewStore(pool *Pool, opts Options) (*Store, error) {
	search := opts.Search.WithDefaults()
	if err := search.Validate(); err != nil {
		return nil, err
	}
	limits := opts.Limits
	if limits == (schema.Limits{}) {
		limits = schema.DefaultLimits()
	}
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	s := &Store{pool: pool, dnAttribute: opts.Profile.DNAttribute, search: search, limits: limits,
		snapshots: newSnapshotCache(int(search.SnapshotCache), search.SnapshotMaxAge), groupRefs: newRefCache(refTTL, 100_000),
		scans: newScans(pool, search.MaxConcurrentScans, search.SnapshotMaxAge)}
	var errs []error
	m, err := opts.Profile.Users.ApplyUsers("users", opts.Users.UserMappingConfig)
	s.users, err = setup("users", "User", opts.Users.ResourceConfig, m, err)
	s.users.manager = opts.Manager.withDefaults()
	errs = append(errs, err, opts.Manager.Validate())
	m, err = opts.Profile.Groups.ApplyGroups("groups", opts.Groups.GroupMappingConfig)
	s.groups, err = setup("groups", "Group", opts.Groups.ResourceConfig, m, err)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// setup checks cfg and m, the profile's mapping as configured, applying
// which failed with mapErr.
func setup(section, kind string, cfg ResourceConfig, m schema.Resource, mapErr error) (resourceSetup, error) {
	if err := cfg.Validate(section); err != nil {
		return resourceSetup{}, err
	}
	base, _ := ldap.ParseDN(cfg.BaseDN)
	if mapErr != nil {
		return resourceSetup{}, mapErr
	}
	if _, _, err := m.RDNAttribute(); err != nil {
		return resourceSetup{}, fmt.Errorf("%s.rdn: %w", section, err)
	}
	maxName := cfg.MaxNameLength
	if maxName == 0 {
		maxName = DefaultMaxNameLength
	}
	return resourceSetup{section: section, kind: kind, baseDN: cfg.BaseDN, base: base, mapping: m, maxName: maxName}, nil
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *Pool { return s.pool }

// Users returns the users, reading the directory's schema on first use.
func (s *Store) Users(ctx context.Context) (*Resources, error) {
	st, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	return st.users, nil
}

// Groups returns the groups, reading the directory's schema on first use.
func (s *Store) Groups(ctx context.Context) (*Resources, error) {
	st, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	return st.groups, nil
}

// Load reads the directory's schema, if not done yet, and reports how it
// shaped the mapping.
func (s *Store) Load(ctx context.Context) (Report, error) {
	st, err := s.load(ctx)
	if err != nil {
		return Report{}, err
	}
	return st.report, nil
}

func (s *Store) load(ctx context.Context) (*state, error) {
	if st := s.state.Load(); st != nil {
		return st, nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if st := s.state.Load(); st != nil {
		return st, nil
	}
	conn, err := s.pool.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	dse, err := conn.ReadRootDSE(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := conn.ReadSchema(ctx, dse)
	if err != nil {
		return nil, err
	}
	st := &state{dse: dse, ds: ds}
	st.users = s.resources(s.users, st)
	st.groups = s.resources(s.groups, st)
	// "groups" of users: from memberOf if the directory keeps it, else by
	// searching the groups for the member.
	if st.users.m.MemberOf == "" && st.groups.m.Members != "" {
		st.users.m.SearchGroups = true
		st.users.derive()
	}
	if ok, why := starSafe(ctx, conn, dse, st.users); ok {
		st.users.useStar()
		st.groups.useStar()
	} else if why != "" {
		st.report.Limits = append(st.report.Limits, why)
	}
	st.report.Limits = append(st.report.Limits, s.weaknesses(ctx, conn, st)...)
	s.state.Store(st)
	return st, nil
}

// versionAttribute is what the versions (ETags) of m's resources are read
// from: its version attribute where the directory keeps it, else the
// modification time (to the second: better than no ETag), as on 389
// without its USN plugin, which is reported.
func versionAttribute(st *state, section string, m schema.Resource) string {
	if m.Version != "" && !st.ds.HasAttribute(m.Version) {
		return m.Modified
	}
	if strings.EqualFold(m.Version, "entryusn") && !st.dse.USN {
		st.report.Limits = append(st.report.Limits, section+": 389's USN plugin is off (no lastusn in the root DSE): "+
			"versions are modifyTimestamp, to the second, and If-Match cannot tell two writes in one second apart; "+
			"enable the USN plugin (docs/directories.md)")
		return m.Modified
	}
	return m.Version
}

// resources restricts a resource type's mapping to what the directory can
// hold, recording what it leaves out.
func (s *Store) resources(rs resourceSetup, st *state) *Resources {
	ds, m := st.ds, rs.mapping
	problem := func(format string, args ...any) {
		st.report.Problems = append(st.report.Problems, fmt.Errorf(rs.section+" mapping: "+format, args...))
	}
	for _, oc := range m.ObjectClasses {
		if !ds.HasObjectClass(oc) {
			problem("new entries: the directory has no object class %q", oc)
		}
	}
	var aux []string
	for _, oc := range m.Auxiliary {
		if o, ok := ds.ObjectClass(oc); ok && o.Kind == "AUXILIARY" {
			aux = append(aux, o.Name())
		}
	}
	m.Auxiliary = aux
	usable := func(attr string) bool {
		base, _, _ := strings.Cut(attr, ";") // userCertificate;binary
		return ds.HasAttribute(base) && (ds.Allows(m.ObjectClasses, base) || ds.AuxiliaryFor(base, m.Auxiliary) != "")
	}
	m, dropped := m.Filter(usable)
	for _, d := range dropped {
		st.report.Dropped = append(st.report.Dropped, rs.section+": "+d)
	}
	if !ds.HasAttribute(m.ID) {
		problem("id: the directory has no attribute type %q", m.ID)
	}
	if rdn, p, _ := m.RDNAttribute(); !usable(rdn) {
		problem("rdn: new entries are named by %q, which the directory cannot hold", rdn)
	} else if len(m.Lookup(p.URN, p.Attr, p.Sub)) == 0 {
		problem("rdn: new entries are named by %s, which is not mapped", p)
	}
	if m.Members != "" && !usable(m.Members) {
		problem("members: the directory has no attribute type %q", m.Members)
	}
	m.Version = versionAttribute(st, rs.section, m)
	for _, a := range []*string{&m.Created, &m.Modified, &m.Version} {
		if *a != "" && !ds.HasAttribute(*a) {
			*a = ""
		}
	}
	if m.Password != nil && m.Password.Kind == schema.PasswordExtended && !st.dse.Supports(Feature{OID: OIDPasswordModify, Extended: true}) {
		st.report.Dropped = append(st.report.Dropped, rs.section+": password: the directory lacks the Password Modify extended operation")
		m.Password = nil
	}
	// What the directory's schema says of each attribute.
	for i, am := range m.Attributes {
		base, _, _ := strings.Cut(am.LDAP, ";")
		if at, ok := ds.Attribute(base); ok {
			exact := at.CaseExact()
			m.Attributes[i].CaseExact = &exact
			m.Attributes[i].ReadOnly = at.NoUserModify
			m.Attributes[i].SingleValue = at.SingleValue
			// The name the directory answers with (street for streetAddress).
			m.Attributes[i].LDAP = at.Name() + strings.TrimPrefix(am.LDAP, base)
		}
	}
	return newResources(s, st, rs, m)
}
