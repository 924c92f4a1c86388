package proc

import (
	"errors"
	"os"
	"testing"
)

// CheckStarted ends the test t when a server named name did not start:
// err is what its Start returned, and notInstalled its harness's error for
// software missing from this machine. Without the software the test is
// skipped, unless the CI environment variable is set: then it fails, so
// that CI never passes without its integration tests.
func CheckStarted(t testing.TB, name string, err, notInstalled error) {
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
