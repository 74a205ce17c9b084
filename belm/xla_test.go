//go:build xla

package belm_test

import (
	"os"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
)

// The same sampling pass on xla and go, float32 and float64 (XLA runs float64 for real):
// they agree to rounding, and the O-BELM round trip on xla is as exact as on go. It needs a
// PJRT plugin (`belm install-xla`), so it runs under `make test-xla` (XLA_BACKEND picks
// xla:cpu or xla:cuda), never in `make test`.
func TestXLARuntimeAgreesWithGo(t *testing.T) {
	be := os.Getenv("XLA_BACKEND")
	if be == "" {
		be = "xla:cpu"
	}
	m := gmm(t)
	g := grids(t, belm.SDConfig, 20)[0]
	data := func() []float64 { return m.Sample(belm.Uniform(31, 8), belm.Normal(31, 8*dim)) }
	for _, c := range []struct {
		dt        dtypes.DType
		agree, rt float64
	}{{dtypes.Float32, 1e-5, 1e-5}, {dtypes.Float64, 1e-12, 1e-10}} {
		var outs [][]float64
		for _, b := range []string{"go", be} {
			x, e := passOn(t, m, g, b, c.dt, data)
			if e.MaxAbs > c.rt {
				t.Errorf("%s %s: O-BELM round trip %.2e > %.0e", b, c.dt, e.MaxAbs, c.rt)
			}
			outs = append(outs, x)
		}
		e := belm.Compare(outs[1], outs[0], 0)
		t.Logf("%s vs go, %s: max %.2e of the data scale", be, c.dt, e.MaxAbs)
		if e.MaxAbs > c.agree {
			t.Errorf("%s vs go, %s: %.2e > %.0e", be, c.dt, e.MaxAbs, c.agree)
		}
	}
}
