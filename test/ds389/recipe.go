package ds389

// What the template holds: the texts buildTemplate applies over LDAP, as an
// operator would with ldapmodify and ldapadd.

const (
	suffix          = "dc=example,dc=org"
	rootDN          = "cn=Directory Manager"
	rootPassword    = "directory-secret" // 389 wants 8 characters at least
	serviceDN       = "cn=scimgate," + suffix
	servicePassword = "scimgate-secret"
)

// pluginsLDIF enables the plugins scimgate's 389ds profile relies on or may
// use; 389 loads them at its next start. entryUUID's plugin is on by
// default in 389 2.3 (for entries added over LDAP). The database cache is
// fixed at 64 MiB instead of a quarter of the machine's memory: each
// instance writes its cache's file at start.
const pluginsLDIF = `dn: cn=MemberOf Plugin,cn=plugins,cn=config
changetype: modify
replace: nsslapd-pluginEnabled
nsslapd-pluginEnabled: on
-
replace: memberOfAttr
memberOfAttr: memberOf
-
replace: memberOfGroupAttr
memberOfGroupAttr: member
-
replace: memberOfAutoAddOC
memberOfAutoAddOC: nsMemberOf

dn: cn=referential integrity postoperation,cn=plugins,cn=config
changetype: modify
replace: nsslapd-pluginEnabled
nsslapd-pluginEnabled: on
-
replace: referint-membership-attr
referint-membership-attr: member
referint-membership-attr: uniquemember
referint-membership-attr: owner
referint-membership-attr: seeAlso
referint-membership-attr: manager

dn: cn=Retro Changelog Plugin,cn=plugins,cn=config
changetype: modify
replace: nsslapd-pluginEnabled
nsslapd-pluginEnabled: on
-
replace: nsslapd-attribute
nsslapd-attribute: nsuniqueid:targetUniqueId
-
replace: nsslapd-include-suffix
nsslapd-include-suffix: ` + suffix + `

dn: cn=Content Synchronization,cn=plugins,cn=config
changetype: modify
replace: nsslapd-pluginEnabled
nsslapd-pluginEnabled: on

dn: cn=USN,cn=plugins,cn=config
changetype: modify
replace: nsslapd-pluginEnabled
nsslapd-pluginEnabled: on

dn: cn=bdb,cn=config,cn=ldbm database,cn=plugins,cn=config
changetype: modify
replace: nsslapd-cache-autosize
nsslapd-cache-autosize: 0

dn: cn=bdb,cn=config,cn=ldbm database,cn=plugins,cn=config
changetype: modify
replace: nsslapd-dbcachesize
nsslapd-dbcachesize: 67108864
`

// entriesLDIF is the units and the service account, whose searches 389
// does not limit (its defaults stop a non-root bind at 2,000 entries, and a
// sorted search past 4,000 candidates).
const entriesLDIF = `dn: ou=people,` + suffix + `
objectClass: top
objectClass: organizationalUnit
ou: people

dn: ou=groups,` + suffix + `
objectClass: top
objectClass: organizationalUnit
ou: groups

dn: ` + serviceDN + `
objectClass: top
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: scimgate
userPassword: ` + servicePassword + `
nsSizeLimit: -1
nsLookThroughLimit: -1
nsPagedSizeLimit: -1
nsIDListScanLimit: 1000000
`

// serviceAttributes are the operational attributes the service account may
// read (and, for nsAccountLock, write) besides the user attributes ("*"):
// what scimgate's 389ds profile reads.
const serviceAttributes = "nsUniqueId || entryusn || entryUUID || entrydn || modifyTimestamp || createTimestamp || " +
	"creatorsName || modifiersName || memberOf || nsAccountLock"

// aciLDIF lets the service account do over the suffix all a deployment's
// scimgate does. 389 has no ACI for it by default: without one it sees
// nothing.
const aciLDIF = `dn: ` + suffix + `
changetype: modify
add: aci
aci: (targetattr = "* || ` + serviceAttributes + `")(version 3.0; acl "scimgate"; ` +
	`allow (read, search, compare, write, add, delete) userdn = "ldap:///` + serviceDN + `";)
`
