//go:build onnx

package belm_test

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
)

// The same sampling pass on the onnx and go backends (float32, the mixture model, whose ε
// uses a softmax): they agree to float32 rounding, and the O-BELM round trip on onnx is as
// exact as on go (≤ 1e-5). Run with `make test` (it fetches ONNX Runtime) or
// `go test -tags onnx ./belm/ -run Onnx`.
func TestOnnxAgreesWithGo(t *testing.T) {
	m := gmm(t)
	g := grids(t, belm.SDConfig, 20)[0]
	noise := tensorOf(t, belm.Normal(30, 8*dim), dtypes.Float32)
	var outs [][]float64
	for _, b := range []string{"go", "onnx"} {
		r, err := belm.NewRunner(m, b, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		x, err := r.Sample(belm.OBELM{}, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{noise}})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, values(t, x))
		x0 := m.Sample(belm.Uniform(31, 8), belm.Normal(31, 8*dim))
		if e := roundTrip(t, r, belm.OBELM{}, g, x0); e.MaxAbs > 1e-5 {
			t.Errorf("%s: O-BELM float32 round trip %.2e", b, e.MaxAbs)
		}
	}
	if e := belm.Compare(outs[1], outs[0], 0); e.MaxAbs > 1e-5 {
		t.Errorf("onnx vs go sample: %.2e", e.MaxAbs)
	} else {
		t.Logf("onnx vs go sample: max %.2e of the data scale", e.MaxAbs)
	}
}
