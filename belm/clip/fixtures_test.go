package clip

import (
	"testing"

	"github.com/belmlab/workbench/internal/fixtures"
)

// fixture returns the path of an SD fixture file (README.md section 3); a missing one
// fails the test (never a skip).
func fixture(tb testing.TB, name string) string { return fixtures.File(tb, "sd", name) }
