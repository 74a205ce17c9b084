//go:build onnx

package belm_test

import (
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
)

// The same sampling pass on the onnx and go backends (float32, the mixture model, whose ε
// uses a softmax): they agree to float32 rounding, and the O-BELM round trip on onnx is as
// exact as on go (≤ 1e-5). Run with `make test` (it fetches ONNX Runtime) or
// `go test -tags onnx ./belm/ -run Onnx`.
func TestOnnxAgreesWithGo(t *testing.T) {
	m := gmm(t)
	g := grids(t, belm.SDConfig, 20)[0]
	data := func() []float64 { return m.Sample(belm.Uniform(31, 8), belm.Normal(31, 8*dim)) }
	var outs [][]float64
	for _, b := range []string{"go", "onnx"} {
		x, e := passOn(t, m, g, b, dtypes.Float32, data)
		if e.MaxAbs > 1e-5 {
			t.Errorf("%s: O-BELM float32 round trip %.2e", b, e.MaxAbs)
		}
		outs = append(outs, x)
	}
	if e := belm.Compare(outs[1], outs[0], 0); e.MaxAbs > 1e-5 {
		t.Errorf("onnx vs go sample: %.2e", e.MaxAbs)
	} else {
		t.Logf("onnx vs go sample: max %.2e of the data scale", e.MaxAbs)
	}
}
