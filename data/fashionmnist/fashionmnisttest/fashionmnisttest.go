// Package fashionmnisttest gives tests Debian's Fashion-MNIST, or fails them saying how to
// install it. A test that needs the real data must not pass, nor skip, without it: under
// `make test` (which installs it: `make data`) a missing data set is a failure with the fix.
//
//	ds := fashionmnisttest.Load(t, fashionmnist.Test)
package fashionmnisttest

import (
	"sync"
	"testing"

	"github.com/belmlab/workbench/data/fashionmnist"
)

// Fix is what to do when the data set is missing.
const Fix = "run `make data` (it runs `sudo " + fashionmnist.InstallHint + "`), or set $" +
	fashionmnist.EnvDir + " to a folder holding the four .gz files"

var (
	mu     sync.Mutex
	loaded = map[fashionmnist.Split]*fashionmnist.Dataset{}
)

// Load returns a split read from fashionmnist.Dir(), or fails tb (Fatalf) with Load's error
// and Fix. Each split is read once per test binary and shared: do not modify it.
func Load(tb testing.TB, split fashionmnist.Split) *fashionmnist.Dataset {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if ds, ok := loaded[split]; ok {
		return ds
	}
	ds, err := fashionmnist.Load(fashionmnist.Dir(), split)
	if err != nil {
		tb.Fatalf("this test needs Fashion-MNIST: %v\nFix: %s", err, Fix)
	}
	loaded[split] = ds
	return ds
}
