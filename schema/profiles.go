package schema

import (
	"fmt"
	"sort"
)

// Profile is the mapping preset for one kind of directory.
type Profile struct {
	Name   string
	Users  Resource
	Groups Resource

	// DNAttribute is the operational attribute holding an entry's own DN,
	// by which member DNs are resolved many at a time: entryDN on OpenLDAP,
	// entrydn on 389, distinguishedName on Active Directory.
	DNAttribute string
}

// Profiles lists the names Preset accepts.
func Profiles() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var presets = map[string]func() Profile{
	"openldap":        openLDAP,
	"389ds":           ds389,
	"activedirectory": activeDirectory,
	"janssen":         janssen,
}

// Preset returns the named profile.
func Preset(name string) (Profile, error) {
	f, ok := presets[name]
	if !ok {
		return Profile{}, fmt.Errorf("unknown directory profile %q (known: %v)", name, Profiles())
	}
	return f(), nil
}

func path(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err) // presets are constants; a bad one is a programming error caught by tests
	}
	return p
}

// maps builds mappings from (SCIM path, LDAP attribute[:codec]) pairs.
func maps(pairs ...string) []AttributeMap {
	out := make([]AttributeMap, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		m := AttributeMap{SCIM: path(pairs[i]), LDAP: pairs[i+1]}
		if j := len(m.LDAP) - 1; j > 0 {
			for k := j; k > 0; k-- {
				if m.LDAP[k] == ':' {
					m.Codec = Codec(m.LDAP[k+1:])
					m.LDAP = m.LDAP[:k]
					break
				}
			}
		}
		out = append(out, m)
	}
	return out
}

const ent = EnterpriseUserURN + ":"

// standardMaps are the mappings the openldap, 389ds and activedirectory
// presets share: to X.500's person and organizationalPerson attribute
// types and inetOrgPerson's, which Active Directory's user holds too
// (the janssen preset names several otherwise).
func standardMaps() []AttributeMap {
	return maps(
		"name.familyName", "sn",
		"name.givenName", "givenName",
		"displayName", "displayName",
		"title", "title",
		"preferredLanguage", "preferredLanguage",
		`emails[type eq "work"].value`, "mail",
		`phoneNumbers[type eq "work"].value`, "telephoneNumber",
		`phoneNumbers[type eq "mobile"].value`, "mobile",
		`phoneNumbers[type eq "fax"].value`, "facsimileTelephoneNumber",
		`phoneNumbers[type eq "home"].value`, "homePhone",
		`phoneNumbers[type eq "pager"].value`, "pager",
		`addresses[type eq "work"].locality`, "l",
		`addresses[type eq "work"].region`, "st",
		`addresses[type eq "work"].postalCode`, "postalCode",
		`addresses[type eq "work"].country`, "co",
		ent+"employeeNumber", "employeeNumber",
		ent+"manager.value", "manager:dn",
	)
}

// personMaps are the mappings that inetOrgPerson directories (OpenLDAP,
// 389) share; the scim* attributes are those of deploy/ldap/scimgate.schema,
// left out at start where the directory lacks them.
func personMaps() []AttributeMap {
	return append(standardMaps(), maps(
		"userName", "uid",
		"externalId", "scimExternalId",
		"name.formatted", "cn",
		"name.middleName", "scimMiddleName",
		"name.honorificPrefix", "scimHonorificPrefix",
		"name.honorificSuffix", "scimHonorificSuffix",
		"nickName", "scimNickName",
		"profileUrl", "scimProfileUrl",
		"userType", "scimUserType",
		"locale", "scimLocale",
		"timezone", "scimTimezone",
		`emails[type eq "home"].value`, "scimHomeEmail",
		`emails[type eq "other"].value`, "scimOtherEmail",
		`addresses[type eq "work"].formatted`, "postalAddress:postaladdress",
		`addresses[type eq "work"].streetAddress`, "street",
		`addresses[type eq "home"].formatted`, "homePostalAddress:postaladdress",
		"roles.value", "scimRole",
		"entitlements.value", "scimEntitlement",
		"x509Certificates.value", "userCertificate;binary:binary",
		ent+"costCenter", "scimCostCenter",
		ent+"organization", "o",
		ent+"division", "scimDivision",
		ent+"department", "departmentNumber",
	)...)
}

// personUserMaps are personMaps with, where scimgate's schema is installed,
// a JSON home for each complex multi-valued attribute: every element as
// the client sent it (any type, primary, display, every sub-attribute),
// one document per value. The standard attributes keep copies for other
// LDAP readers, read where an entry has no JSON (written by another tool).
func personUserMaps() []AttributeMap {
	return withJSON(personMaps(), map[string]string{
		"emails": "scimEmails", "phoneNumbers": "scimPhoneNumbers", "ims": "scimIms", "photos": "scimPhotos",
		"addresses": "scimAddresses", "entitlements": "scimEntitlements", "roles": "scimRoles",
		"x509Certificates": "scimX509Certificates",
	})
}

// withJSON adds to ms a whole-element JSON mapping for each attribute of
// homes (SCIM attribute → LDAP attribute), ahead of ms, and makes the
// attribute's other mappings fallbacks.
func withJSON(ms []AttributeMap, homes map[string]string) []AttributeMap {
	var out []AttributeMap
	for _, attr := range sortedKeys(homes) {
		out = append(out, AttributeMap{SCIM: Path{Attr: attr}, LDAP: homes[attr], Codec: CodecJSON})
	}
	for _, m := range ms {
		if _, ok := homes[m.SCIM.Attr]; ok && m.SCIM.URN == "" {
			m.Fallback = true
		}
		out = append(out, m)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func personDerive() []Derivation {
	return []Derivation{
		{LDAP: "cn", From: []string{"{name.formatted}", "{displayName}", "{name.givenName} {name.familyName}", "{userName}"}},
		{LDAP: "sn", From: []string{"{name.familyName}", "{userName}"}},
	}
}

// openLDAP is the preset for OpenLDAP: inetOrgPerson users, groupOfNames
// groups, entryUUID ids, entryCSN versions, memberof and ppolicy overlays.
func openLDAP() Profile {
	return Profile{
		Name:        "openldap",
		DNAttribute: "entryDN",
		// A ppolicy lock stops the user from binding: what "inactive" should
		// mean. "000001010000Z" locks until an administrator unlocks.
		Users: personUsers("entryUUID", "entryCSN",
			&Active{Kind: ActiveLock, Attribute: "pwdAccountLockedTime", LockValue: "000001010000Z"}),
		Groups: openLDAPGroups(),
	}
}

// personUsers are inetOrgPerson users, named by uid, whose passwords the
// directory sets through the Password Modify extended operation.
func personUsers(id, version string, active *Active) Resource {
	return Resource{
		Schema:         User(),
		Extensions:     []Schema{EnterpriseUser()},
		ObjectClasses:  []string{"inetOrgPerson"},
		Auxiliary:      []string{"scimgateUser"},
		RDN:            "uid={userName}",
		ID:             id,
		Version:        version,
		Created:        "createTimestamp",
		Modified:       "modifyTimestamp",
		Attributes:     personUserMaps(),
		Derive:         personDerive(),
		DerivedMarker:  "scimDerived",
		KeptReferences: "scimManager",
		MemberOf:       "memberOf",
		Active:         active,
		Password:       &Password{Kind: PasswordExtended},
	}
}

// openLDAPGroups are groupOfNames groups, which OpenLDAP's schema does not
// let be empty: an empty group keeps a placeholder member. Set
// refint_nothing to the same DN, so that deleting a group's last member
// leaves the placeholder too.
func openLDAPGroups() Resource {
	g := groupOfNames("entryUUID", "entryCSN")
	g.MemberPlaceholder = DefaultMemberPlaceholder
	return g
}

// DefaultMemberPlaceholder is the placeholder member of empty groups where
// the directory requires a member.
const DefaultMemberPlaceholder = "cn=empty-group-placeholder"

func groupOfNames(id, version string) Resource {
	return Resource{
		Schema:        Group(),
		ObjectClasses: []string{"groupOfNames"},
		Auxiliary:     []string{"scimgateGroup"},
		RDN:           "cn={displayName}",
		ID:            id,
		Version:       version,
		Created:       "createTimestamp",
		Modified:      "modifyTimestamp",
		Attributes:    maps("displayName", "cn", "externalId", "scimExternalId"),
		Members:       "member",
	}
}

// ds389 is the preset for 389 Directory Server: inetOrgPerson users with
// nsUniqueId ids (every entry has one; entryUUID only those added over
// LDAP) and nsAccountLock, groupOfNames groups (which 389 lets be empty),
// the MemberOf plugin. Versions are entryusn, the USN plugin's change
// number; without the plugin the store falls back to modifyTimestamp, to
// the second, and says so.
func ds389() Profile {
	return Profile{
		Name:        "389ds",
		DNAttribute: "entrydn",
		Users:       personUsers("nsUniqueId", "entryusn", &Active{Kind: ActiveBoolean, Attribute: "nsAccountLock", Invert: true}),
		Groups:      groupOfNames("nsUniqueId", "entryusn"),
	}
}

// activeDirectory is the preset for Microsoft Active Directory: user and
// group objects, objectGUID ids, uSNChanged versions, userAccountControl
// for active, unicodePwd for passwords, externalId and the other
// attributes AD has no home for in its cloud extension attributes.
func activeDirectory() Profile {
	users := Resource{
		Schema:        User(),
		Extensions:    []Schema{EnterpriseUser()},
		ObjectClasses: []string{"top", "person", "organizationalPerson", "user"},
		RDN:           "cn={userName}",
		ID:            "objectGUID",
		IDCodec:       CodecGUID,
		Version:       "uSNChanged",
		Created:       "whenCreated",
		Modified:      "whenChanged",
		Attributes: append(standardMaps(), maps(
			"userName", "userPrincipalName",
			// AD keeps no externalId, locale, timezone, nickName or
			// formatted name: the cloud extension attributes (Windows
			// Server 2012 schema and later: "an arbitrary cloud-relevant
			// string", indexed) do.
			"externalId", "msDS-cloudExtensionAttribute1",
			"locale", "msDS-cloudExtensionAttribute2",
			"timezone", "msDS-cloudExtensionAttribute3",
			"nickName", "msDS-cloudExtensionAttribute4",
			"name.formatted", "msDS-cloudExtensionAttribute5",
			"name.middleName", "middleName",
			"name.honorificPrefix", "personalTitle",
			"name.honorificSuffix", "generationQualifier",
			"userType", "employeeType",
			"profileUrl", "wWWHomePage",
			`emails[type eq "other"].value`, "otherMailbox",
			`addresses[type eq "work"].streetAddress`, "streetAddress",
			"x509Certificates.value", "userCertificate:binary",
			ent+"organization", "company",
			ent+"division", "division",
			ent+"department", "department",
		)...),
		Derive: []Derivation{
			{LDAP: "sAMAccountName", From: []string{"{userName}"}, Transform: SAMAccountName},
		},
		// A manager no user is yet, kept as given until one is.
		KeptReferences: "msDS-cloudExtensionAttribute20",
		MemberOf:       "memberOf",
		Active:         &Active{Kind: ActiveBitmask, Attribute: "userAccountControl", Bit: 0x2, Initial: 0x200},
		Password:       &Password{Kind: PasswordUnicodePwd, Attribute: "unicodePwd"},
	}
	groups := Resource{
		Schema:        Group(),
		ObjectClasses: []string{"top", "group"},
		RDN:           "cn={displayName}",
		ID:            "objectGUID",
		IDCodec:       CodecGUID,
		Version:       "uSNChanged",
		Created:       "whenCreated",
		Modified:      "whenChanged",
		// A group has no cloud extension attributes: its externalId goes
		// to adminDescription, which every AD object may hold.
		Attributes: maps("displayName", "cn", "externalId", "adminDescription"),
		Derive: []Derivation{
			{LDAP: "sAMAccountName", From: []string{"{displayName}"}, Transform: GroupSAMAccountName},
		},
		Members: "member",
	}
	return Profile{Name: "activedirectory", DNAttribute: "distinguishedName", Users: users, Groups: groups}
}

// janssen is the preset for the Janssen Server's own directory (o=jans), so
// that scimgate can stand in for its SCIM module: jansPerson users and
// jansGrp groups named by inum, which the gateway assigns (a UUID) and
// which is the SCIM id, so member ids come straight from member DNs;
// active kept as Janssen keeps it, in jansStatus and jansActive. Janssen's
// directory maintains no memberOf: the gateway writes it, as Janssen does.
// Complex multi-valued attributes are JSON documents, one per value
// (jansEmail, jansPhoneValue, jansAddres, ...), as Janssen keeps them.
func janssen() Profile {
	// Entries named by an inum the gateway assigns, on Janssen's OpenLDAP.
	entries := func(s Schema, class string) Resource {
		return Resource{Schema: s, ObjectClasses: []string{class}, RDN: "inum={id}", ID: "inum", AssignID: true,
			Version: "entryCSN", Created: "createTimestamp", Modified: "modifyTimestamp",
			AppCreated: "jansMetaCreated", AppModified: "jansMetaLastMod"}
	}
	users := entries(User(), "jansPerson")
	users.ExtraClasses = []string{"jansCustomPerson"}
	users.Attributes = maps(
		"userName", "uid",
		"externalId", "jansExtId",
		"name.formatted", "jansNameFormatted",
		"name.familyName", "sn",
		"name.givenName", "givenName",
		"name.middleName", "middleName",
		"name.honorificPrefix", "jansHonorificPrefix",
		"name.honorificSuffix", "jansHonorificSuffix",
		"displayName", "displayName",
		"nickName", "nickname",
		"profileUrl", "jansProfileURL",
		"title", "jansTitle",
		"userType", "jansUsrTyp",
		"preferredLanguage", "preferredLanguage",
		"locale", "locale",
		"timezone", "zoneinfo",
		// Complex multi-valued attributes: one JSON document per value.
		"emails", "jansEmail:json",
		"phoneNumbers", "jansPhoneValue:json",
		"ims", "jansImsValue:json",
		"photos", "jansPhotos:json",
		"addresses", "jansAddres:json",
		"entitlements", "jansEntitlements:json",
		"roles", "jansRole:json",
		"x509Certificates", "jansx509Certificate:json",
		// mail keeps the addresses too, primary first, for LDAP readers
		// (and emails.value filters): read where jansEmail is absent.
		"emails.value", "mail",
	)
	users.MemberOf = "memberOf" // kept by Janssen, and by the gateway in its stead
	users.Active = &Active{Kind: ActiveStatus, Attribute: "jansStatus", Also: "jansActive"}
	users.Password = &Password{Kind: PasswordExtended}
	for i := range users.Attributes {
		if users.Attributes[i].LDAP == "mail" {
			users.Attributes[i].Fallback = true
		}
	}
	groups := entries(Group(), "jansGrp")
	groups.Attributes = maps("displayName", "displayName", "externalId", "jansExtId")
	groups.Members = "member"
	// Janssen's directory keeps neither memberOf nor referential integrity:
	// the gateway does both.
	groups.MaintainMemberOf = "memberOf"
	groups.RemoveDeletedMembers = true
	return Profile{Name: "janssen", DNAttribute: "entryDN", Users: users, Groups: groups}
}
