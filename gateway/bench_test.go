package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"go.uber.org/zap"

	"github.com/scimgate/scimgate/ldapstore"
	"github.com/scimgate/scimgate/test/slapd"
)

// BenchmarkUserNameEq is one GET /Users?filter=userName eq "..." through
// the whole gateway (HTTP, auth, metrics, LDAP) against slapd: for CPU
// profiles of the request path (go test -bench UserNameEq -cpuprofile).
// The ratio figures are make bench's.
func BenchmarkUserNameEq(b *testing.B) {
	dir := slapd.New(b, slapd.Options{})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		b.Fatal(err)
	}
	hs := newGateway(b, dir, zap.NewNop(), ldapstore.Options{})
	req, _ := http.NewRequest("GET", hs.URL+"/scim/v2/Users?filter=userName%20eq%20%22alovelace%22", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	client := &http.Client{}
	b.ResetTimer()
	for b.Loop() {
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatal(res.Status)
		}
	}
}

// BenchmarkGetUser is one GET /Users/{id} through the whole gateway (the
// SCIM library's answer, fixed by fixResponse): allocation per request
// for review (go test -bench GetUser -benchmem).
func BenchmarkGetUser(b *testing.B) {
	dir := slapd.New(b, slapd.Options{})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		b.Fatal(err)
	}
	hs := newGateway(b, dir, zap.NewNop(), ldapstore.Options{})
	req, _ := http.NewRequest("GET", hs.URL+"/scim/v2/Users?filter=userName%20eq%20%22alovelace%22&attributes=id", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	var list struct{ Resources []struct{ ID string } }
	json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if len(list.Resources) != 1 {
		b.Fatal("no alovelace")
	}
	req, _ = http.NewRequest("GET", hs.URL+"/scim/v2/Users/"+list.Resources[0].ID, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	client := &http.Client{}
	b.ResetTimer()
	for b.Loop() {
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatal(res.Status)
		}
	}
}
