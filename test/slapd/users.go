package slapd

import (
	"bufio"
	"fmt"
	"os"
)

// WriteUsersLDIF writes, for Preload, n users (uid user000000...) below
// ou=people,dc=example,dc=org, each in a group of groupSize (team0000...)
// and in the group "everyone" of all of them, and a group "solo" of the
// first user, with the memberOf values that slapadd (which runs no
// overlays) would not compute: a large directory for benchmarks and
// bounded-memory tests.
func WriteUsersLDIF(path string, n, groupSize int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	const people, groups = "ou=people,dc=example,dc=org", "ou=groups,dc=example,dc=org"
	given := []string{"Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Grace", "Ken", "Radia", "Tim"}
	family := []string{"Lovelace", "Turing", "Liskov", "Shannon", "Ritchie", "Dijkstra", "Hopper", "Thompson", "Perlman", "Berners-Lee"}
	for i := range n {
		g, f := given[i%len(given)], family[(i/len(given))%len(family)]
		fmt.Fprintf(w, "dn: uid=user%06d,%s\nobjectClass: inetOrgPerson\nuid: user%06d\ncn: %s %s\ngivenName: %s\nsn: %s\n"+
			"displayName: %s %s\nmail: user%06d@example.org\ntitle: Engineer\ntelephoneNumber: +1 555 %07d\nemployeeNumber: %d\n"+
			"memberOf: cn=team%04d,%s\nmemberOf: cn=everyone,%s\n", i, people, i, g, f, g, f, g, f, i, i, i, i/groupSize, groups, groups)
		if i == 0 {
			fmt.Fprintf(w, "memberOf: cn=solo,%s\n", groups)
		}
		w.WriteString("\n")
	}
	// The large group: every user; and a group of one, to compare with.
	fmt.Fprintf(w, "dn: cn=everyone,%s\nobjectClass: groupOfNames\ncn: everyone\n", groups)
	for i := range n {
		fmt.Fprintf(w, "member: uid=user%06d,%s\n", i, people)
	}
	fmt.Fprintf(w, "\ndn: cn=solo,%s\nobjectClass: groupOfNames\ncn: solo\nmember: uid=user000000,%s\n\n", groups, people)
	for gi := 0; gi*groupSize < n; gi++ {
		fmt.Fprintf(w, "dn: cn=team%04d,%s\nobjectClass: groupOfNames\ncn: team%04d\n", gi, groups, gi)
		for i := gi * groupSize; i < min((gi+1)*groupSize, n); i++ {
			fmt.Fprintf(w, "member: uid=user%06d,%s\n", i, people)
		}
		w.WriteString("\n")
	}
	return w.Flush()
}
