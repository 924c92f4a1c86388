package directory

import (
	"fmt"
	"strings"
)

// DemoUsers is the number of users in DemoLDIF.
const DemoUsers = 40

// Dialect is how a directory program spells users and groups.
type Dialect int

const (
	// InetOrgPerson: inetOrgPerson users named by uid, groupOfNames groups
	// (OpenLDAP, 389 Directory Server).
	InetOrgPerson Dialect = iota
	// ActiveDirectory: user objects named by cn, with sAMAccountName and
	// userPrincipalName uid@example.org, group objects.
	ActiveDirectory
)

var (
	demoGiven  = []string{"Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "Hedy", "John", "Katherine", "Ken", "Leslie", "Linus", "Margaret", "Niklaus", "Radia", "Shafi", "Tim", "Whitfield"}
	demoFamily = []string{"Lovelace", "Turing", "Liskov", "Shannon", "Ritchie", "Dijkstra", "Allen", "Hopper", "Lamarr", "Backus", "Johnson", "Thompson", "Lamport", "Torvalds", "Hamilton", "Wirth", "Perlman", "Goldwasser", "Berners-Lee", "Diffie"}
	demoTitles = []string{"Software Engineer", "Senior Software Engineer", "Engineering Manager", "Account Executive", "Support Specialist", "Site Reliability Engineer", "Product Manager", "Security Engineer"}
	demoGroups = []struct {
		name    string
		members func(i int) bool
	}{
		{"Engineering", func(i int) bool { return i%8 == 0 || i%8 == 1 || i%8 == 2 || i%8 == 5 || i%8 == 7 }},
		{"Sales", func(i int) bool { return i%8 == 3 }},
		{"Support", func(i int) bool { return i%8 == 4 }},
		{"Product", func(i int) bool { return i%8 == 6 }},
		{"Administrators", func(i int) bool { return i < 3 }},
	}
)

// DemoLDIF returns demo data below i's people and groups units, in the
// directory's dialect: DemoUsers users with names, emails, titles and phone
// numbers, and a handful of groups.
func DemoLDIF(i *Info, d Dialect) string {
	var b strings.Builder
	dns := make([]string, DemoUsers)
	for n := range DemoUsers {
		given := demoGiven[n%len(demoGiven)]
		family := demoFamily[(n*7+n/len(demoGiven))%len(demoFamily)]
		uid := strings.ToLower(given[:1] + strings.ReplaceAll(family, "-", ""))
		if n >= len(demoGiven) {
			uid += fmt.Sprint(n / len(demoGiven))
		}
		switch d {
		case ActiveDirectory:
			dns[n] = "CN=" + uid + "," + i.PeopleDN
			fmt.Fprintf(&b, "dn: %s\nobjectClass: user\ncn: %s\nsAMAccountName: %s\nuserPrincipalName: %s@example.org\n", dns[n], uid, uid, uid)
		default:
			dns[n] = "uid=" + uid + "," + i.PeopleDN
			fmt.Fprintf(&b, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s %s\n", dns[n], uid, given, family)
		}
		fmt.Fprintf(&b, "givenName: %s\nsn: %s\ndisplayName: %s %s\ntitle: %s\nmail: %s@example.org\ntelephoneNumber: +1 555 01%02d\nemployeeNumber: %d\n\n",
			given, family, given, family, demoTitles[n%len(demoTitles)], uid, n, 1000+n)
	}
	class := map[Dialect]string{InetOrgPerson: "groupOfNames", ActiveDirectory: "group"}[d]
	for _, g := range demoGroups {
		fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: %s\ncn: %s\n", g.name, i.GroupsDN, class, g.name)
		for n, dn := range dns {
			if g.members(n) {
				fmt.Fprintf(&b, "member: %s\n", dn)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
