// Command floor is the bench's floor for a SCIM look-up: a plain net/http
// server that answers GET /Users?filter=userName eq "…" with one go-ldap
// search — the filter and attributes the raw case sends — and the entry's
// attributes encoded by encoding/json. No echo, SCIM library, resource
// mapping, authentication, metrics or log: what any Go gateway built on
// the design card's HTTP server and LDAP client spends at least. The
// bench's CPU section runs it beside scimgate (docs/benchmarks.md).
//
// Configured by FLOOR_LISTEN, FLOOR_LDAP_URL, FLOOR_BIND_DN,
// FLOOR_BIND_PASSWORD, FLOOR_BASE_DN and FLOOR_CONNS.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// attributes are the bench's raw attributes (cpu.go rawAttributes).
var attributes = []string{"*", "entryUUID", "entryCSN", "createTimestamp", "modifyTimestamp", "memberOf"}

func main() {
	n, _ := strconv.Atoi(os.Getenv("FLOOR_CONNS"))
	conns := make(chan *ldap.Conn, max(n, 1))
	for range cap(conns) {
		c, err := ldap.DialURL(os.Getenv("FLOOR_LDAP_URL"))
		if err != nil {
			log.Fatal(err)
		}
		if err := c.Bind(os.Getenv("FLOOR_BIND_DN"), os.Getenv("FLOOR_BIND_PASSWORD")); err != nil {
			log.Fatal(err)
		}
		conns <- c
	}
	base := os.Getenv("FLOOR_BASE_DN")
	http.HandleFunc("GET /Users", func(w http.ResponseWriter, r *http.Request) {
		// userName eq "v": the value between the quotes.
		f := r.URL.Query().Get("filter")
		v := f[strings.IndexByte(f, '"')+1 : max(strings.LastIndexByte(f, '"'), strings.IndexByte(f, '"')+1)]
		c := <-conns
		res, err := c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass=inetOrgPerson)(uid="+ldap.EscapeFilter(v)+"))", attributes, nil))
		conns <- c
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var out struct {
			Resources    []map[string][]string
			TotalResults int `json:"totalResults"`
		}
		for _, e := range res.Entries {
			m := map[string][]string{}
			for _, a := range e.Attributes {
				m[a.Name] = a.Values
			}
			out.Resources = append(out.Resources, m)
		}
		out.TotalResults = len(out.Resources)
		w.Header().Set("Content-Type", "application/scim+json")
		if err := json.NewEncoder(w).Encode(out); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	})
	log.Fatal(http.ListenAndServe(os.Getenv("FLOOR_LISTEN"), nil))
}
