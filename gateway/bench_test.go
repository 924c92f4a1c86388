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
	benchGet(b, benchGateway(b)+"/Users?filter=userName%20eq%20%22alovelace%22")
}

// BenchmarkGetUser is one GET /Users/{id} through the whole gateway (the
// handler's answer rendered once, past the SCIM library): allocation per request
// for review (go test -bench GetUser -benchmem).
func BenchmarkGetUser(b *testing.B) {
	base := benchGateway(b)
	res, err := benchRequest(base + "/Users?filter=userName%20eq%20%22alovelace%22&attributes=id")
	if err != nil {
		b.Fatal(err)
	}
	var list struct{ Resources []struct{ ID string } }
	json.NewDecoder(res.Body).Decode(&list)
	res.Body.Close()
	if len(list.Resources) != 1 {
		b.Fatal("no alovelace")
	}
	benchGet(b, base+"/Users/"+list.Resources[0].ID)
}

// benchGateway serves the demo directory; it returns the SCIM base URL.
func benchGateway(b *testing.B) string {
	dir := slapd.New(b, slapd.Options{})
	if err := dir.AddLDIF(context.Background(), slapd.DemoLDIF(dir)); err != nil {
		b.Fatal(err)
	}
	return newGateway(b, dir, zap.NewNop(), ldapstore.Options{}).URL + "/scim/v2"
}

func benchRequest(url string) (*http.Response, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	return http.DefaultClient.Do(req)
}

// benchGet times GETs of url, each answered 200.
func benchGet(b *testing.B, url string) {
	b.ResetTimer()
	for b.Loop() {
		res, err := benchRequest(url)
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
