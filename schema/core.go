package schema

// URNs of the schemas scimgate knows.
const (
	UserURN           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupURN          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// attr returns a read-write, default-returned, non-unique, case-insensitive
// attribute: the characteristics RFC 7643 section 2.2 gives when none are said.
func attr(name string, t Type, desc string, subs ...Attribute) Attribute {
	return Attribute{
		Name:          name,
		Type:          t,
		Description:   desc,
		SubAttributes: subs,
		Mutability:    ReadWrite,
		Returned:      ReturnedDefault,
		Uniqueness:    UniquenessNone,
	}
}

func (a Attribute) multi() Attribute                  { a.MultiValued = true; return a }
func (a Attribute) required() Attribute               { a.Required = true; return a }
func (a Attribute) exact() Attribute                  { a.CaseExact = true; return a }
func (a Attribute) mutability(m Mutability) Attribute { a.Mutability = m; return a }
func (a Attribute) returned(r Returned) Attribute     { a.Returned = r; return a }
func (a Attribute) unique(u Uniqueness) Attribute     { a.Uniqueness = u; return a }
func (a Attribute) canonical(v ...string) Attribute   { a.CanonicalValues = v; return a }
func (a Attribute) refs(t ...string) Attribute {
	a.ReferenceTypes = t
	a.CaseExact = true
	return a
}

// typedValues is the shape RFC 7643 gives emails, phoneNumbers, ims, photos,
// entitlements, roles and x509Certificates: value, display, type, primary.
func typedValues(name, desc string, value Attribute, types ...string) Attribute {
	return attr(name, Complex, desc,
		value,
		attr("display", String, "A human-readable name, primarily used for display purposes."),
		attr("type", String, "A label indicating the attribute's function.").canonical(types...),
		attr("primary", Boolean, "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
	).multi()
}

// User returns the core User schema of RFC 7643 section 8.7.1, complete.
// The gateway advertises only the part of it that the directory mapping can
// store; see Schema.Restrict.
func User() Schema {
	return Schema{
		ID:          UserURN,
		Name:        "User",
		Description: "User Account",
		Attributes: []Attribute{
			attr("userName", String, "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.").required().unique(UniquenessServer),
			attr("name", Complex, "The components of the user's real name.",
				attr("formatted", String, "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
				attr("familyName", String, "The family name of the User, or last name in most Western languages."),
				attr("givenName", String, "The given name of the User, or first name in most Western languages."),
				attr("middleName", String, "The middle name(s) of the User."),
				attr("honorificPrefix", String, "The honorific prefix(es) of the User, or title in most Western languages."),
				attr("honorificSuffix", String, "The honorific suffix(es) of the User, or suffix in most Western languages."),
			),
			attr("displayName", String, "The name of the User, suitable for display to end-users."),
			attr("nickName", String, "The casual way to address the user in real life."),
			attr("profileUrl", Reference, "A fully qualified URL pointing to a page representing the User's online profile.").refs("external"),
			attr("title", String, "The user's title, such as \"Vice President.\""),
			attr("userType", String, "Used to identify the relationship between the organization and the user."),
			attr("preferredLanguage", String, "Indicates the User's preferred written or spoken language."),
			attr("locale", String, "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations."),
			attr("timezone", String, "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'."),
			attr("active", Boolean, "A Boolean value indicating the User's administrative status."),
			attr("password", String, "The User's cleartext password, used to set or change it. Never returned.").mutability(WriteOnly).returned(ReturnedNever),
			typedValues("emails", "Email addresses for the user.",
				attr("value", String, "Email addresses for the user."), "work", "home", "other"),
			typedValues("phoneNumbers", "Phone numbers for the User.",
				attr("value", String, "Phone number of the User."), "work", "home", "mobile", "fax", "pager", "other"),
			typedValues("ims", "Instant messaging addresses for the User.",
				attr("value", String, "Instant messaging address for the User."), "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
			typedValues("photos", "URLs of photos of the User.",
				attr("value", Reference, "URL of a photo of the User.").refs("external"), "photo", "thumbnail"),
			attr("addresses", Complex, "A physical mailing address for this User.",
				attr("formatted", String, "The full mailing address, formatted for display or use with a mailing label."),
				attr("streetAddress", String, "The full street address component."),
				attr("locality", String, "The city or locality component."),
				attr("region", String, "The state or region component."),
				attr("postalCode", String, "The zip code or postal code component."),
				attr("country", String, "The country name component."),
				attr("type", String, "A label indicating the attribute's function.").canonical("work", "home", "other"),
				attr("primary", Boolean, "A Boolean value indicating the 'primary' or preferred address."),
			).multi(),
			attr("groups", Complex, "A list of groups to which the user belongs, either through direct membership or through nested groups.",
				attr("value", String, "The identifier of the User's group.").mutability(ReadOnly),
				attr("$ref", Reference, "The URI of the corresponding 'Group' resource to which the user belongs.").refs("User", "Group").mutability(ReadOnly),
				attr("display", String, "A human-readable name, primarily used for display purposes.").mutability(ReadOnly),
				attr("type", String, "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.").canonical("direct", "indirect").mutability(ReadOnly),
			).multi().mutability(ReadOnly),
			typedValues("entitlements", "A list of entitlements for the User that represent a thing the User has.",
				attr("value", String, "The value of an entitlement.")),
			typedValues("roles", "A list of roles for the User that collectively represent who the User is, e.g., 'Student', 'Faculty'.",
				attr("value", String, "The value of a role.")),
			typedValues("x509Certificates", "A list of certificates issued to the User.",
				attr("value", Binary, "The value of an X.509 certificate.").exact()),
		},
	}
}

// Group returns the core Group schema of RFC 7643 section 8.7.1, with the
// read-only members.display that clients such as Entra ID and Janssen's use.
func Group() Schema {
	return Schema{
		ID:          GroupURN,
		Name:        "Group",
		Description: "Group",
		Attributes: []Attribute{
			attr("displayName", String, "A human-readable name for the Group.").required().unique(UniquenessServer),
			attr("members", Complex, "A list of members of the Group.",
				attr("value", String, "Identifier of the member of this Group.").mutability(Immutable),
				attr("$ref", Reference, "The URI corresponding to a SCIM resource that is a member of this Group.").refs("User", "Group").mutability(Immutable),
				attr("type", String, "A label indicating the type of resource, e.g., 'User' or 'Group'.").canonical("User", "Group").mutability(Immutable),
				attr("display", String, "A human-readable name for the member.").mutability(ReadOnly),
			).multi(),
		},
	}
}

// EnterpriseUser returns the Enterprise User extension of RFC 7643
// section 8.7.1.
func EnterpriseUser() Schema {
	return Schema{
		ID:          EnterpriseUserURN,
		Name:        "EnterpriseUser",
		Description: "Enterprise User",
		Attributes: []Attribute{
			attr("employeeNumber", String, "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization."),
			attr("costCenter", String, "Identifies the name of a cost center."),
			attr("organization", String, "Identifies the name of an organization."),
			attr("division", String, "Identifies the name of a division."),
			attr("department", String, "Identifies the name of a department."),
			attr("manager", Complex, "The User's manager.",
				attr("value", String, "The id of the SCIM resource representing the User's manager."),
				attr("$ref", Reference, "The URI of the SCIM resource representing the User's manager.").refs("User"),
				attr("displayName", String, "The displayName of the User's manager.").mutability(ReadOnly),
			),
		},
	}
}
