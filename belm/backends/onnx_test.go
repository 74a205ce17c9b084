//go:build onnx

package backends

import (
	"math"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	timage "github.com/gomlx/gomlx/core/tensors/images"
)

// TestOnnxThreads: the threads=N, spinning=0|1 and arena=0|1 options of our compute-onnx patch
// reach ONNX Runtime (a bad value is an error) and do not change results beyond float32
// rounding: a batch of 3×3 convolutions, large enough for ORT to split it among threads, agrees
// across 1 and 2 threads to 1e-5 relative (the partition may change summation order).
func TestOnnxThreads(t *testing.T) {
	if _, err := New("onnx"); err != nil { // -tags onnx promises ONNX Runtime: a failure, not a skip
		t.Fatalf("the onnx backend is unavailable: %v\nFix: run `make onnxruntime` (kernels/onnxruntime.sh fetches libonnxruntime.so.1), or set $ONNXRUNTIME_SHARED_LIBRARY_PATH", err)
	}
	const b, hw, c = 4, 16, 64
	x := make([]float32, b*hw*hw*c)
	w := make([]float32, 3*3*c*c)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.37))
	}
	for i := range w {
		w[i] = float32(math.Cos(float64(i)*0.11)) / 24
	}
	run := func(config string) []float32 {
		be, err := New(config)
		if err != nil {
			t.Fatalf("%s: %v", config, err)
		}
		exec, err := NewExec(be, func(x, w *Node) *Node {
			return Convolve(x, w).ChannelsAxis(timage.ChannelsLast).PadSame().Done()
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, b, hw, hw, c), tensors.FromFlatDataAndDimensions(w, 3, 3, c, c))
		if err != nil {
			t.Fatalf("%s: %v", config, err)
		}
		return tensors.MustCopyFlatData[float32](out[0])
	}
	one := run("onnx:cpu,threads=1")
	for _, config := range []string{"onnx:cpu,threads=2", "onnx:cpu,threads=2,spinning=0", "onnx:cpu,threads=2,arena=0"} {
		got := run(config)
		worst := 0.0
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i]-one[i]))/(1+math.Abs(float64(one[i]))))
		}
		t.Logf("%s vs threads=1: max relative |Δ| = %.2e", config, worst)
		if worst > 1e-5 {
			t.Errorf("%s differs from threads=1 by %.2e > 1e-5", config, worst)
		}
	}
	for config, want := range map[string]string{
		"onnx:cpu,threads=0":      "invalid threads=",
		"onnx:cpu,threads=two":    "invalid threads=",
		"onnx:cpu,spinning=maybe": "invalid spinning=",
		"onnx:cpu,arena=none":     "invalid arena=",
	} {
		if _, err := New(config); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error naming %q, got %v", config, want, err)
		}
	}
}
