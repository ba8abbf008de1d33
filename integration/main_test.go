//go:build integration

package integration

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain checks, after a full run, that the sidecar tests together called
// every route openapi.yaml documents. A run filtered with -run or -skip, or
// one that only lists tests, skips the check: the routes are spread over
// several tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 || !fullRun() {
		os.Exit(code)
	}
	missing, err := uncalledOpenAPIRoutes()
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapi coverage:", err)
		os.Exit(1)
	}
	if len(missing) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: documented in openapi.yaml but called by no integration test:")
		for _, r := range missing {
			fmt.Fprintln(os.Stderr, "   ", r)
		}
		os.Exit(1)
	}
	fmt.Println("openapi coverage: every documented route was called")
}

func fullRun() bool {
	for _, name := range []string{"test.run", "test.skip", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}
