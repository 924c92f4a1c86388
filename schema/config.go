package schema

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MappingConfig changes a profile's mapping for one resource type: the keys
// of the "users" and "groups" configuration sections below base_dn that
// both share. Each section adds its own (UserMappingConfig,
// GroupMappingConfig); a key of the other type is an unknown key.
//
//	users:
//	  object_classes: [inetOrgPerson]
//	  auxiliary_classes: [scimgateUser]
//	  rdn: uid={userName}
//	  id_attribute: entryUUID
//	  id_codec: string
//	  version_attribute: entryCSN
//	  attributes:                      # added to the profile's, or replacing the one for the same SCIM path
//	    - {scim: externalId, ldap: employeeNumber}
//	    - {scim: 'emails[type eq "home"].value', ldap: otherMailbox}
//	    - {scim: nickName, ldap: ""}   # an empty ldap removes the profile's mapping
//	  create_attributes:               # constant values of every new entry
//	    description: [provisioned by scimgate]
//	  extensions:
//	    - urn: urn:ietf:params:scim:schemas:extension:gluu:2.0:User
//	      name: GluuUser
//	      attributes:
//	        - {name: favoriteColor, type: string, ldap: favoriteColor}
type MappingConfig struct {
	// ObjectClasses of new entries, which also select the entries that are
	// resources of this type.
	ObjectClasses []string `yaml:"object_classes"`
	// AuxiliaryClasses are added to an entry when an attribute needs one.
	AuxiliaryClasses []string `yaml:"auxiliary_classes"`
	// RDN is the template of a new entry's relative DN: attribute={scimPath}.
	RDN string `yaml:"rdn"`
	// IDAttribute holds the immutable resource id; IDCodec reads it
	// ("guid" for objectGUID).
	IDAttribute string `yaml:"id_attribute"`
	IDCodec     string `yaml:"id_codec"`
	// VersionAttribute changes with every modification: the ETag.
	VersionAttribute string `yaml:"version_attribute"`
	// Attributes add to or replace the profile's mappings.
	Attributes []AttributeConfig `yaml:"attributes"`
	// CreateAttributes are written, as given, to every new entry.
	CreateAttributes map[string][]string `yaml:"create_attributes"`
	// Extensions declare schema extensions of this resource type.
	Extensions []ExtensionConfig `yaml:"extensions"`
}

// UserMappingConfig is the mapping part of the "users" section: the shared
// keys, and those only users have.
//
//	users:
//	  member_of: memberOf              # none: search the groups for the member instead
//	  active: {strategy: boolean, attribute: scimActive}
//	  password: {strategy: extended}
type UserMappingConfig struct {
	MappingConfig `yaml:",inline"`
	// MemberOf lists an entry's groups, maintained by the directory;
	// "none" where the directory keeps no such attribute (groups are then
	// searched for the member).
	MemberOf string `yaml:"member_of"`
	// Active and Password replace the profile's strategies.
	Active   ActiveConfig   `yaml:"active"`
	Password PasswordConfig `yaml:"password"`
}

// GroupMappingConfig is the mapping part of the "groups" section: the
// shared keys, and those only groups have.
//
//	groups:
//	  members: member                  # uniqueMember, memberUid...
//	  member_value: ""                 # posixGroup: uid
//	  remove_deleted_members: false
//	  member_placeholder: cn=empty-group-placeholder
type GroupMappingConfig struct {
	MappingConfig `yaml:",inline"`
	// Members is the attribute holding the members: member
	// (groupOfNames), uniqueMember (groupOfUniqueNames), memberUid
	// (posixGroup, with member_value: uid).
	Members string `yaml:"members"`
	// MemberValue is the members' attribute whose value Members holds,
	// where it holds no DNs: uid for posixGroup's memberUid. Such groups
	// have users as members, not groups.
	MemberValue string `yaml:"member_value"`
	// RemoveDeletedMembers: scimgate itself removes a deleted user or
	// group from the groups it was in, for directories that do not
	// (OpenLDAP without the refint overlay).
	RemoveDeletedMembers bool `yaml:"remove_deleted_members"`
	// MemberPlaceholder is a DN kept as the only member of an empty group
	// where the schema requires a member (OpenLDAP's groupOfNames); it is
	// never shown, counted or matched. "none" turns it off.
	MemberPlaceholder string `yaml:"member_placeholder"`
}

// AttributeConfig maps one SCIM path to one LDAP attribute.
type AttributeConfig struct {
	// SCIM is the path: userName, name.givenName, emails[type eq "work"].value,
	// or URN-qualified for an extension.
	SCIM string `yaml:"scim"`
	// LDAP is the attribute; empty removes the mapping of SCIM.
	LDAP string `yaml:"ldap"`
	// Codec: string (default), boolean, integer, datetime, binary, guid,
	// postaladdress or dn.
	Codec string `yaml:"codec"`
}

// ActiveConfig chooses how "active" is stored.
type ActiveConfig struct {
	// Strategy: lock, boolean, bitmask, status or none. Empty keeps the
	// profile's.
	Strategy  string `yaml:"strategy"`
	Attribute string `yaml:"attribute"`
	// LockValue (lock), Invert (boolean), Bit and Initial (bitmask), Also
	// (status: the boolean kept beside the status word).
	LockValue string `yaml:"lock_value"`
	Also      string `yaml:"also"`
	Invert    bool   `yaml:"invert"`
	Bit       int64  `yaml:"bit"`
	Initial   int64  `yaml:"initial"`
}

// PasswordConfig chooses how "password" is stored.
type PasswordConfig struct {
	// Strategy: extended, unicodepwd, attribute or none. Empty keeps the
	// profile's.
	Strategy  string `yaml:"strategy"`
	Attribute string `yaml:"attribute"`
}

// ExtensionConfig declares a schema extension and where its attributes live.
type ExtensionConfig struct {
	URN         string                     `yaml:"urn"`
	Name        string                     `yaml:"name"`
	Description string                     `yaml:"description"`
	Attributes  []ExtensionAttributeConfig `yaml:"attributes"`
}

// ExtensionAttributeConfig is one simple attribute of a declared extension.
type ExtensionAttributeConfig struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Type: string (default), boolean, integer, decimal, dateTime, binary
	// or reference.
	Type        string `yaml:"type"`
	MultiValued bool   `yaml:"multi_valued"`
	Required    bool   `yaml:"required"`
	CaseExact   bool   `yaml:"case_exact"`
	// Mutability: readWrite (default), readOnly, immutable or writeOnly.
	Mutability string `yaml:"mutability"`
	LDAP       string `yaml:"ldap"`
	Codec      string `yaml:"codec"`
}

// apply returns r changed by c, the keys every resource type has (for
// ApplyUsers and ApplyGroups). Errors name the keys under section. r's
// mappings are copied first, so that the preset r came from is unchanged.
func (r Resource) apply(section string, c MappingConfig) (Resource, error) {
	bad := &problems{section: section}
	r.Attributes = slices.Clone(r.Attributes)
	r = r.applyEntry(c, bad)
	r = r.applyExtensions(c.Extensions, bad)
	r = r.applyAttributes(c.Attributes, bad)
	r = r.applyCreate(c.CreateAttributes)
	return r, bad.err()
}

// ApplyUsers returns the users' r changed by c: the shared keys, then
// member_of, active and password. Errors name the keys under section.
func (r Resource) ApplyUsers(section string, c UserMappingConfig) (Resource, error) {
	r, err := r.apply(section, c.MappingConfig)
	bad := &problems{section: section}
	switch {
	case strings.EqualFold(c.MemberOf, "none"):
		r.MemberOf = ""
	case c.MemberOf != "":
		r.MemberOf = c.MemberOf
	}
	r = r.applyActive(c.Active, bad)
	r = r.applyPassword(c.Password, bad)
	return r, errors.Join(err, bad.err())
}

// ApplyGroups returns the groups' r changed by c: the shared keys, then
// how members are kept. Errors name the keys under section.
func (r Resource) ApplyGroups(section string, c GroupMappingConfig) (Resource, error) {
	r, err := r.apply(section, c.MappingConfig)
	bad := &problems{section: section}
	if c.Members != "" {
		r.Members = c.Members
	}
	if c.RemoveDeletedMembers {
		r.RemoveDeletedMembers = true
	}
	if c.MemberValue != "" {
		r.MemberValue = c.MemberValue
		r.MemberPlaceholder = "" // a placeholder is a DN
	}
	switch {
	case c.MemberPlaceholder == "":
	case strings.EqualFold(c.MemberPlaceholder, "none"):
		r.MemberPlaceholder = ""
	case !strings.Contains(c.MemberPlaceholder, "="):
		bad.add("member_placeholder", "%q is not a DN such as cn=empty-group-placeholder", c.MemberPlaceholder)
	default:
		r.MemberPlaceholder = c.MemberPlaceholder
	}
	return r, errors.Join(err, bad.err())
}

// problems collects what is wrong with a section's keys, each error named
// section.key.
type problems struct {
	section string
	errs    []error
}

func (p *problems) add(key, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s.%s: %s", p.section, key, fmt.Sprintf(format, args...)))
}

func (p *problems) err() error { return errors.Join(p.errs...) }

// applyEntry sets what new entries are and how they are named, identified
// and versioned.
func (r Resource) applyEntry(c MappingConfig, bad *problems) Resource {
	if len(c.ObjectClasses) > 0 {
		r.ObjectClasses = c.ObjectClasses
	}
	if len(c.AuxiliaryClasses) > 0 {
		r.Auxiliary = c.AuxiliaryClasses
	}
	if c.RDN != "" {
		r.RDN = c.RDN
		if _, _, err := r.RDNAttribute(); err != nil {
			bad.add("rdn", "%v", err)
		}
	}
	if c.IDAttribute != "" {
		r.ID, r.IDCodec = c.IDAttribute, CodecString
	}
	if c.IDCodec != "" {
		codec, err := ParseCodec(c.IDCodec)
		if err != nil || (codec != CodecString && codec != CodecGUID) {
			bad.add("id_codec", "must be string or guid")
		}
		r.IDCodec = codec
	}
	if c.VersionAttribute != "" {
		r.Version = c.VersionAttribute
	}
	return r
}

// applyExtensions adds the declared extensions and their mappings.
func (r Resource) applyExtensions(exts []ExtensionConfig, bad *problems) Resource {
	for _, e := range exts {
		s, maps, err := e.schema()
		if err != nil {
			bad.add("extensions", "%v", err)
			continue
		}
		r.Extensions = append(append([]Schema(nil), r.Extensions...), s)
		r.Attributes = append(r.Attributes, maps...)
	}
	return r
}

// applyAttributes adds or replaces the mapping of each SCIM path, or
// removes it where the LDAP attribute is empty. r.Attributes must be r's
// own (apply copies them).
func (r Resource) applyAttributes(attrs []AttributeConfig, bad *problems) Resource {
	for i, a := range attrs {
		key := fmt.Sprintf("attributes[%d]", i)
		p, err := ParsePath(a.SCIM)
		if err != nil {
			bad.add(key+".scim", "%v", err)
			continue
		}
		codec, err := ParseCodec(a.Codec)
		if err != nil {
			bad.add(key+".codec", "%v", err)
			continue
		}
		if !r.knows(p) {
			bad.add(key+".scim", "%s is not an attribute of the %s schema or its extensions", p, r.Schema.Name)
			continue
		}
		// The new mapping replaces any for the same path.
		kept := r.Attributes[:0]
		for _, m := range r.Attributes {
			if !samePath(m.SCIM, p) {
				kept = append(kept, m)
			}
		}
		r.Attributes = kept
		if a.LDAP != "" {
			r.Attributes = append(r.Attributes, AttributeMap{SCIM: p, LDAP: a.LDAP, Codec: codec})
		}
	}
	return r
}

// applyCreate adds the constant attributes of new entries to the
// profile's, in a map of r's own.
func (r Resource) applyCreate(attrs map[string][]string) Resource {
	if len(attrs) == 0 {
		return r
	}
	create := map[string][]string{}
	for k, v := range r.Create {
		create[k] = v
	}
	for k, v := range attrs {
		create[k] = v
	}
	r.Create = create
	return r
}

// applyActive replaces the strategy of "active".
func (r Resource) applyActive(c ActiveConfig, bad *problems) Resource {
	switch s := strings.ToLower(c.Strategy); s {
	case "":
	case "none":
		r.Active = nil
	case string(ActiveLock), string(ActiveBoolean), string(ActiveBitmask), string(ActiveStatus):
		if c.Attribute == "" {
			bad.add("active.attribute", "the %s strategy needs an attribute", s)
		}
		r.Active = &Active{Kind: ActiveKind(s), Attribute: c.Attribute, LockValue: c.LockValue,
			Invert: c.Invert, Bit: c.Bit, Initial: c.Initial, Also: c.Also}
		if s == string(ActiveLock) && r.Active.LockValue == "" {
			r.Active.LockValue = "000001010000Z"
		}
		if s == string(ActiveBitmask) && r.Active.Bit == 0 {
			bad.add("active.bit", "the bitmask strategy needs the bit that disables, e.g. 2")
		}
	default:
		bad.add("active.strategy", "%q is not lock, boolean, bitmask, status or none", c.Strategy)
	}
	return r
}

// applyPassword replaces the strategy of "password".
func (r Resource) applyPassword(c PasswordConfig, bad *problems) Resource {
	switch s := strings.ToLower(c.Strategy); s {
	case "":
	case "none":
		r.Password = nil
	case string(PasswordExtended):
		r.Password = &Password{Kind: PasswordExtended}
	case string(PasswordUnicodePwd), string(PasswordAttribute):
		attr := c.Attribute
		if attr == "" && s == string(PasswordUnicodePwd) {
			attr = "unicodePwd"
		}
		if attr == "" {
			bad.add("password.attribute", "the attribute strategy needs an attribute, e.g. userPassword")
		}
		r.Password = &Password{Kind: PasswordKind(s), Attribute: attr}
	default:
		bad.add("password.strategy", "%q is not extended, unicodepwd, attribute or none", c.Strategy)
	}
	return r
}

// knows reports whether p names an attribute of the resource's schemas.
func (r Resource) knows(p Path) bool {
	if p.URN == "" && strings.EqualFold(p.Attr, "externalId") && p.Sub == "" {
		return true
	}
	schemas := append([]Schema{r.Schema}, r.Extensions...)
	for _, s := range schemas {
		if (p.URN == "" && s.ID == r.Schema.ID) || strings.EqualFold(p.URN, s.ID) {
			a, ok := s.Attribute(p.Attr)
			if !ok {
				return false
			}
			if p.Sub == "" {
				return a.Type != Complex
			}
			_, ok = a.SubAttribute(p.Sub)
			return ok
		}
	}
	return false
}

func samePath(a, b Path) bool {
	return strings.EqualFold(a.URN, b.URN) && strings.EqualFold(a.Attr, b.Attr) &&
		strings.EqualFold(a.Sub, b.Sub) && strings.EqualFold(a.Type, b.Type)
}

// schema builds the declared extension and its mappings.
func (e ExtensionConfig) schema() (Schema, []AttributeMap, error) {
	if !strings.HasPrefix(strings.ToLower(e.URN), "urn:") {
		return Schema{}, nil, fmt.Errorf("urn %q must start with urn:", e.URN)
	}
	name := e.Name
	if name == "" {
		name = e.URN[strings.LastIndex(e.URN, ":")+1:]
	}
	s := Schema{ID: e.URN, Name: name, Description: e.Description}
	var maps []AttributeMap
	for _, a := range e.Attributes {
		if a.Name == "" || strings.ContainsAny(a.Name, ".[]: ") {
			return Schema{}, nil, fmt.Errorf("%s: attribute name %q is not a plain name", e.URN, a.Name)
		}
		t := Type(a.Type)
		if t == "" {
			t = String
		}
		var codec Codec
		switch t {
		case String, Reference, Decimal:
		case Boolean:
			codec = CodecBoolean
		case Integer:
			codec = CodecInteger
		case DateTime:
			codec = CodecDateTime
		case Binary:
			codec = CodecBinary
		default:
			return Schema{}, nil, fmt.Errorf("%s: %s: type %q is not string, boolean, integer, decimal, dateTime, binary or reference", e.URN, a.Name, a.Type)
		}
		if a.Codec != "" {
			c, err := ParseCodec(a.Codec)
			if err != nil {
				return Schema{}, nil, fmt.Errorf("%s: %s: %w", e.URN, a.Name, err)
			}
			codec = c
		}
		m := Mutability(a.Mutability)
		switch m {
		case "":
			m = ReadWrite
		case ReadWrite, ReadOnly, Immutable, WriteOnly:
		default:
			return Schema{}, nil, fmt.Errorf("%s: %s: mutability %q is not readWrite, readOnly, immutable or writeOnly", e.URN, a.Name, a.Mutability)
		}
		at := attr(a.Name, t, a.Description).mutability(m)
		at.MultiValued, at.Required, at.CaseExact = a.MultiValued, a.Required, a.CaseExact
		if m == WriteOnly {
			at.Returned = ReturnedNever
		}
		s.Attributes = append(s.Attributes, at)
		if a.LDAP == "" {
			return Schema{}, nil, fmt.Errorf("%s: %s: needs an ldap attribute", e.URN, a.Name)
		}
		maps = append(maps, AttributeMap{SCIM: Path{URN: e.URN, Attr: a.Name}, LDAP: a.LDAP, Codec: codec})
	}
	return s, maps, nil
}
