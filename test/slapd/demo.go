package slapd

import (
	"fmt"
	"strings"

	"github.com/scimgate/scimgate/test/directory"
)

// DemoUsers is the number of users in DemoLDIF.
const DemoUsers = 40

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

// DemoLDIF returns demo data below the people and groups units of ds (any
// directory with inetOrgPerson: slapd, 389): DemoUsers inetOrgPerson users
// with names, emails, titles and phone numbers, and a handful of
// groupOfNames groups.
func DemoLDIF(ds directory.Server) string {
	s := ds.Directory()
	var b strings.Builder
	uids := make([]string, DemoUsers)
	for i := range DemoUsers {
		given := demoGiven[i%len(demoGiven)]
		family := demoFamily[(i*7+i/len(demoGiven))%len(demoFamily)]
		uid := strings.ToLower(given[:1] + strings.ReplaceAll(family, "-", ""))
		if i >= len(demoGiven) {
			uid += fmt.Sprint(i / len(demoGiven))
		}
		uids[i] = uid
		fmt.Fprintf(&b, `dn: uid=%s,%s
objectClass: inetOrgPerson
uid: %s
cn: %s %s
givenName: %s
sn: %s
displayName: %s %s
title: %s
mail: %s@example.org
telephoneNumber: +1 555 01%02d
employeeNumber: %d

`, uid, s.PeopleDN, uid, given, family, given, family, given, family,
			demoTitles[i%len(demoTitles)], uid, i, 1000+i)
	}
	for _, g := range demoGroups {
		fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n", g.name, s.GroupsDN, g.name)
		for i, uid := range uids {
			if g.members(i) {
				fmt.Fprintf(&b, "member: uid=%s,%s\n", uid, s.PeopleDN)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
