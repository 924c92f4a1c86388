package ldapstore

import (
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/scimgate/scimgate/schema"
)

// Options say where resources live and how they are mapped.
type Options struct {
	Users   ResourceConfig
	Groups  ResourceConfig
	Profile schema.Profile
}

// Store keeps SCIM Users and Groups in the directory, through a Pool.
type Store struct {
	pool        *Pool
	dnAttribute string

	Users  *Resources
	Groups *Resources
}

// NewStore returns a store over pool. It does not contact the directory.
func NewStore(pool *Pool, opts Options) (*Store, error) {
	s := &Store{pool: pool, dnAttribute: opts.Profile.DNAttribute}
	var err error
	if s.Users, err = newResources(s, "User", "users", opts.Users, opts.Profile.Users); err != nil {
		return nil, err
	}
	if s.Groups, err = newResources(s, "Group", "groups", opts.Groups, opts.Profile.Groups); err != nil {
		return nil, err
	}
	return s, nil
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *Pool { return s.pool }

func newResources(s *Store, kind, section string, cfg ResourceConfig, m schema.Resource) (*Resources, error) {
	base, err := ldap.ParseDN(cfg.BaseDN)
	if err != nil || cfg.BaseDN == "" {
		return nil, fmt.Errorf("%s.base_dn: %q is not a DN", section, cfg.BaseDN)
	}
	if _, _, err := m.RDNAttribute(); err != nil {
		return nil, fmt.Errorf("%s mapping: %w", section, err)
	}
	var class strings.Builder
	class.WriteString("(&")
	for _, oc := range m.ObjectClasses {
		class.WriteString("(objectClass=" + ldap.EscapeFilter(oc) + ")")
	}
	class.WriteString(")")
	attrs := append([]string{m.ID, attrCreated, attrModified}, m.LDAPAttributes()...)
	return &Resources{
		store:  s,
		kind:   kind,
		baseDN: cfg.BaseDN,
		base:   base,
		m:      m,
		class:  class.String(),
		attrs:  attrs,
	}, nil
}
