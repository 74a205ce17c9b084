//go:build onnx

package quality

import (
	"math"
	"testing"

	"github.com/belmlab/workbench/belm/backends"
	"github.com/belmlab/workbench/data/fashionmnist"
)

// The classifier trains and evaluates on onnx as on go: after 5 steps from the same seed the
// losses agree (float32 rounding of forward and backward passes, ≤ 1e-4 relative) and so do
// the features of the trained weights (≤ 1e-4 of their scale): the shipped classifier was
// trained on onnx and the tests evaluate it on go.
// `go test -tags onnx ./belm/quality -run Onnx` (make test runs it).
func TestOnnxClassifier(t *testing.T) {
	needOnnx(t)
	ds := loadData(t, fashionmnist.Train)
	small := head(ds, 320)
	tc := TrainConfig{Epochs: 1, BatchSize: 64, LearningRate: 1e-3, Seed: 2}
	x := small.Float32(seq(16), 0)
	var losses [2][]float64
	var feats [2][]float32
	for i, backend := range []string{"go", "onnx"} {
		c, err := TrainClassifier(FashionMNISTClassifier(), small, tc, backend, func(_, _ int, l float64) { losses[i] = append(losses[i], l) })
		if err != nil {
			t.Fatal(err)
		}
		if feats[i], _, err = c.Apply(x); err != nil {
			t.Fatal(err)
		}
	}
	for k := range losses[0] {
		if d := math.Abs(losses[0][k]-losses[1][k]) / losses[0][k]; d > 1e-4 {
			t.Errorf("step %d: loss go %.7f, onnx %.7f", k+1, losses[0][k], losses[1][k])
		}
	}
	var scale, diff float64
	for i := range feats[0] {
		scale = math.Max(scale, math.Abs(float64(feats[0][i])))
		diff = math.Max(diff, math.Abs(float64(feats[0][i]-feats[1][i])))
	}
	t.Logf("losses go %v onnx %v; features max diff %.2e of scale %.2f", losses[0], losses[1], diff, scale)
	if diff > 1e-4*scale {
		t.Errorf("features differ by %.2e (scale %.2f)", diff, scale)
	}
}

// needOnnx fails the test when the onnx backend cannot start: a build with -tags onnx
// (make test-onnx) promises ONNX Runtime, so its absence is a failure with the fix, not a skip.
func needOnnx(t *testing.T) {
	t.Helper()
	if _, err := backends.New("onnx"); err != nil {
		t.Fatalf("the onnx backend is unavailable: %v\nFix: run `make onnxruntime` (kernels/onnxruntime.sh fetches libonnxruntime.so.1), or set $ONNXRUNTIME_SHARED_LIBRARY_PATH", err)
	}
}
