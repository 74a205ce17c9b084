package clip

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureDirs are where the SD fixtures (README.md section 3) are looked for: the
// project's shared/ beside the main checkout (../../../shared from this package), or,
// from a worktree one level deeper (/work/wt/NAME), ../../../../shared. $BELM_SD_FIXTURES
// overrides both.
var fixtureDirs = []string{"../../../shared/fixtures/sd", "../../../../shared/fixtures/sd"}

// fixture returns the path of a fixture file; a missing one fails the test (never a skip).
func fixture(tb testing.TB, name string) string {
	tb.Helper()
	dirs := fixtureDirs
	if d := os.Getenv("BELM_SD_FIXTURES"); d != "" {
		dirs = []string{d}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	tb.Fatalf("fixture %s not found in %s: the SD fixtures (shared/fixtures/sd) are needed; set BELM_SD_FIXTURES to their folder",
		name, strings.Join(dirs, ", "))
	return ""
}
