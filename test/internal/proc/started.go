package proc

import (
	"errors"
	"os"
	"testing"
)

// CheckStarted ends the test t if a server did not start (err): when its
// program is missing (err is notInstalled) the test is skipped, unless the
// CI environment variable is set: then it fails, so that CI never passes
// without its integration tests. name names the server in the messages.
func CheckStarted(t testing.TB, err, notInstalled error, name string) {
	t.Helper()
	if errors.Is(err, notInstalled) {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and the integration tests need %s: %v", name, err)
		}
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
}
