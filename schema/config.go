package schema

import (
	"errors"
	"fmt"
	"strings"
)

// MappingConfig changes a profile's mapping for one resource type: the part
// of the "users" and "groups" configuration sections below base_dn.
//
//	users:
//	  object_classes: [inetOrgPerson]
//	  auxiliary_classes: [scimgateUser]
//	  rdn: uid={userName}
//	  id_attribute: entryUUID
//	  version_attribute: entryCSN
//	  attributes:                      # added to the profile's, or replacing the one for the same SCIM path
//	    - {scim: externalId, ldap: employeeNumber}
//	    - {scim: 'emails[type eq "home"].value', ldap: otherMailbox}
//	    - {scim: nickName, ldap: ""}   # an empty ldap removes the profile's mapping
//	  create_attributes:               # constant values of every new entry
//	    description: [provisioned by scimgate]
//	  active: {strategy: boolean, attribute: scimActive}
//	  password: {strategy: extended}
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
	// MemberOf lists an entry's groups, maintained by the directory;
	// "none" where the directory keeps no such attribute (groups are then
	// searched for the member).
	MemberOf string `yaml:"member_of"`
	// Members (groups) is the attribute holding the members: member
	// (groupOfNames), uniqueMember (groupOfUniqueNames), memberUid
	// (posixGroup, with member_value: uid).
	Members string `yaml:"members"`
	// MemberValue (groups) is the members' attribute whose value Members
	// holds, where it holds no DNs: uid for posixGroup's memberUid. Such
	// groups have users as members, not groups.
	MemberValue string `yaml:"member_value"`
	// RemoveDeletedMembers (groups): scimgate itself removes a deleted user
	// or group from the groups it was in, for directories that do not
	// (OpenLDAP without the refint overlay).
	RemoveDeletedMembers bool `yaml:"remove_deleted_members"`
	// MemberPlaceholder (groups) is a DN kept as the only member of an
	// empty group where the schema requires a member (OpenLDAP's
	// groupOfNames); it is never shown, counted or matched. "none" turns
	// it off.
	MemberPlaceholder string `yaml:"member_placeholder"`
	// Attributes add to or replace the profile's mappings.
	Attributes []AttributeConfig `yaml:"attributes"`
	// CreateAttributes are written, as given, to every new entry.
	CreateAttributes map[string][]string `yaml:"create_attributes"`
	// Active and Password replace the profile's strategies.
	Active   StrategyConfig `yaml:"active"`
	Password StrategyConfig `yaml:"password"`
	// Extensions declare schema extensions of this resource type.
	Extensions []ExtensionConfig `yaml:"extensions"`
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

// StrategyConfig chooses how "active" or "password" is stored.
type StrategyConfig struct {
	// Strategy: for active, lock, boolean, bitmask, status or none; for password,
	// extended, unicodepwd, attribute or none. Empty keeps the profile's.
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

// Apply returns r changed by c. Errors name the keys under section.
func (r Resource) Apply(section string, c MappingConfig) (Resource, error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", section, key, fmt.Sprintf(format, args...)))
	}
	if r.Schema.ID == GroupURN && (c.Active.Strategy != "" || c.Password.Strategy != "") {
		bad("active", "groups have neither active nor password")
	}
	if len(c.ObjectClasses) > 0 {
		r.ObjectClasses = c.ObjectClasses
	}
	if len(c.AuxiliaryClasses) > 0 {
		r.Auxiliary = c.AuxiliaryClasses
	}
	if c.RDN != "" {
		r.RDN = c.RDN
		if _, _, err := r.RDNAttribute(); err != nil {
			bad("rdn", "%v", err)
		}
	}
	if c.IDAttribute != "" {
		r.ID, r.IDCodec = c.IDAttribute, CodecString
	}
	if c.IDCodec != "" {
		codec, err := ParseCodec(c.IDCodec)
		if err != nil || (codec != CodecString && codec != CodecGUID) {
			bad("id_codec", "must be string or guid")
		}
		r.IDCodec = codec
	}
	if c.VersionAttribute != "" {
		r.Version = c.VersionAttribute
	}
	switch {
	case strings.EqualFold(c.MemberOf, "none"):
		r.MemberOf = ""
	case c.MemberOf != "":
		r.MemberOf = c.MemberOf
	}
	if c.Members != "" {
		if r.Schema.ID != GroupURN {
			bad("members", "only groups have members")
		}
		r.Members = c.Members
	}
	if c.RemoveDeletedMembers {
		if r.Schema.ID != GroupURN {
			bad("remove_deleted_members", "only groups have members")
		}
		r.RemoveDeletedMembers = true
	}
	if c.MemberValue != "" {
		if r.Schema.ID != GroupURN {
			bad("member_value", "only groups have members")
		}
		r.MemberValue = c.MemberValue
		r.MemberPlaceholder = "" // a placeholder is a DN
	}
	switch {
	case c.MemberPlaceholder == "":
	case r.Schema.ID != GroupURN:
		bad("member_placeholder", "only groups have members")
	case strings.EqualFold(c.MemberPlaceholder, "none"):
		r.MemberPlaceholder = ""
	case !strings.Contains(c.MemberPlaceholder, "="):
		bad("member_placeholder", "%q is not a DN such as cn=empty-group-placeholder", c.MemberPlaceholder)
	default:
		r.MemberPlaceholder = c.MemberPlaceholder
	}
	r.Attributes = append([]AttributeMap(nil), r.Attributes...)
	for _, e := range c.Extensions {
		s, maps, err := e.schema()
		if err != nil {
			bad("extensions", "%v", err)
			continue
		}
		r.Extensions = append(append([]Schema(nil), r.Extensions...), s)
		r.Attributes = append(r.Attributes, maps...)
	}
	for i, a := range c.Attributes {
		key := fmt.Sprintf("attributes[%d]", i)
		p, err := ParsePath(a.SCIM)
		if err != nil {
			bad(key+".scim", "%v", err)
			continue
		}
		codec, err := ParseCodec(a.Codec)
		if err != nil {
			bad(key+".codec", "%v", err)
			continue
		}
		if !r.knows(p) {
			bad(key+".scim", "%s is not an attribute of the %s schema or its extensions", p, r.Schema.Name)
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
	if len(c.CreateAttributes) > 0 {
		create := map[string][]string{}
		for k, v := range r.Create {
			create[k] = v
		}
		for k, v := range c.CreateAttributes {
			create[k] = v
		}
		r.Create = create
	}
	switch s := strings.ToLower(c.Active.Strategy); s {
	case "":
	case "none":
		r.Active = nil
	case string(ActiveLock), string(ActiveBoolean), string(ActiveBitmask), string(ActiveStatus):
		if c.Active.Attribute == "" {
			bad("active.attribute", "the %s strategy needs an attribute", s)
		}
		r.Active = &Active{Kind: ActiveKind(s), Attribute: c.Active.Attribute, LockValue: c.Active.LockValue,
			Invert: c.Active.Invert, Bit: c.Active.Bit, Initial: c.Active.Initial, Also: c.Active.Also}
		if s == string(ActiveLock) && r.Active.LockValue == "" {
			r.Active.LockValue = "000001010000Z"
		}
		if s == string(ActiveBitmask) && r.Active.Bit == 0 {
			bad("active.bit", "the bitmask strategy needs the bit that disables, e.g. 2")
		}
	default:
		bad("active.strategy", "%q is not lock, boolean, bitmask, status or none", c.Active.Strategy)
	}
	switch s := strings.ToLower(c.Password.Strategy); s {
	case "":
	case "none":
		r.Password = nil
	case string(PasswordExtended):
		r.Password = &Password{Kind: PasswordExtended}
	case string(PasswordUnicodePwd), string(PasswordAttribute):
		attr := c.Password.Attribute
		if attr == "" && s == string(PasswordUnicodePwd) {
			attr = "unicodePwd"
		}
		if attr == "" {
			bad("password.attribute", "the attribute strategy needs an attribute, e.g. userPassword")
		}
		r.Password = &Password{Kind: PasswordKind(s), Attribute: attr}
	default:
		bad("password.strategy", "%q is not extended, unicodepwd, attribute or none", c.Password.Strategy)
	}
	return r, errors.Join(errs...)
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
