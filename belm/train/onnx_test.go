//go:build onnx

package train

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm/backends"
)

// Training runs on the onnx backend (its strided convolutions built differentiably, see
// unet.WithDifferentiableStrides) and agrees with go step by step: the same seed gives the
// same losses (≤ 1e-4 relative: float32 rounding of forward and backward passes; measured
// ≤ 1e-6) and the same Adam moments and EMA weights after 3 steps (≤ 1e-3 relative to their
// scale), which proves that the optimiser state is carried from step to step on both.
// `go test -tags onnx ./belm/train -run Onnx` (make test runs it).
func TestOnnxTraining(t *testing.T) {
	needOnnx(t)
	var losses [2][]float64
	var state [2][][][]float32 // [backend][m, v, ema][variable][value]
	for i, backend := range []string{"go", "onnx"} {
		tr, err := New(tinyConfig(), blobs{n: 64}, backend)
		if err != nil {
			t.Fatal(err)
		}
		losses[i] = run(t, tr, 3)
		for _, vs := range [][]*model.Variable{tr.m, tr.v, tr.ema} {
			v, err := values(vs)
			if err != nil {
				t.Fatal(err)
			}
			state[i] = append(state[i], v)
		}
	}
	for j, what := range []string{"Adam m", "Adam v", "EMA"} {
		var diff, scale float64
		for k := range state[0][j] {
			for l, a := range state[0][j][k] {
				b := state[1][j][k][l]
				diff = math.Max(diff, math.Abs(float64(a-b)))
				scale = math.Max(scale, math.Abs(float64(a)))
			}
		}
		if diff > 1e-3*scale {
			t.Errorf("%s after 3 steps: onnx differs from go by %.3g (scale %.3g)", what, diff, scale)
		}
	}
	for k := range losses[0] {
		if d := math.Abs(losses[1][k]-losses[0][k]) / losses[0][k]; d > 1e-4 {
			t.Errorf("step %d: onnx loss %.7g vs go %.7g", k, losses[1][k], losses[0][k])
		}
	}
	if l := losses[1]; !(l[2] < l[1] && l[1] < l[0]) {
		t.Errorf("onnx losses do not fall: %v", l)
	}
	t.Logf("losses go %v, onnx %v", losses[0], losses[1])
}

// needOnnx fails the test when the onnx backend cannot start: a build with -tags onnx
// (make test-onnx) promises ONNX Runtime, so its absence is a failure with the fix, not a skip.
func needOnnx(t *testing.T) {
	t.Helper()
	if _, err := backends.New("onnx"); err != nil {
		t.Fatalf("the onnx backend is unavailable: %v\nFix: run `make onnxruntime` (kernels/onnxruntime.sh fetches libonnxruntime.so.1), or set $ONNXRUNTIME_SHARED_LIBRARY_PATH", err)
	}
}
