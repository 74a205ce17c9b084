//go:build onnx

package unet

import (
	"math"
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/backends"
)

// Run with: go test -tags onnx ./belm/unet/ -run Onnx   (needs `make onnxruntime`)

// needOnnx fails the test when the onnx backend cannot start: a build with -tags onnx
// (make test-onnx) promises ONNX Runtime, so its absence is a failure with the fix, not a skip.
func needOnnx(t *testing.T) {
	t.Helper()
	if _, err := backends.New("onnx"); err != nil {
		t.Fatalf("the onnx backend is unavailable: %v\nFix: run `make onnxruntime` (kernels/onnxruntime.sh fetches libonnxruntime.so.1), or set $ONNXRUNTIME_SHARED_LIBRARY_PATH", err)
	}
}

// tinyFixture is the tiny UNet fixture's input x (with its shape), its timesteps and diffusers' ε.
func tinyFixture(t *testing.T) (x []float64, xShape []int, tv, eps []float64) {
	f := openIO(t)
	x, xShape = fixture(t, f, "x")
	tv, _ = fixture(t, f, "t")
	eps, _ = fixture(t, f, "eps")
	return x, xShape, tv, eps
}

// TestOnnxForward: the tiny UNet's float32 forward on onnx agrees with go (and both with
// diffusers' fixture) to 1e-5.
func TestOnnxForward(t *testing.T) {
	needOnnx(t)
	x, xShape, tv, want := tinyFixture(t)
	var outs [][]float64
	for _, name := range []string{"go", "onnx"} {
		u := loadTiny(t)
		b, err := backends.New(name)
		if err != nil {
			t.Fatal(err)
		}
		exec, err := model.NewExec(b, u.Store(), func(scope *model.Scope, x, t *Node) *Node { return u.Forward(scope, x, t) })
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		res, err := exec.Exec(toTensor(dtypes.Float32, x, xShape...), toTensor(dtypes.Float32, tv, len(tv)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := fromTensor(t, res[0])
		t.Logf("%s: eps vs diffusers max|Δ| = %.2e (first call, compile included: %s)", name, maxAbsDiff(t, out, want), time.Since(start).Round(time.Millisecond))
		outs = append(outs, out)
	}
	d := maxAbsDiff(t, outs[0], outs[1])
	t.Logf("go vs onnx eps: max|Δ| = %.2e", d)
	if d > 1e-5 {
		t.Errorf("go and onnx disagree by %.2e > 1e-5", d)
	}
}

// TestOnnxSampling: an O-BELM sampling pass (and an EDICT round trip) with the tiny UNet on
// onnx agrees with the same pass on go, float32, to 1e-5·max(1, |x|).
func TestOnnxSampling(t *testing.T) {
	needOnnx(t)
	sched, err := belm.NewSchedule(belm.DDPMConfig)
	if err != nil {
		t.Fatal(err)
	}
	g, err := sched.Grid(10)
	if err != nil {
		t.Fatal(err)
	}
	noise := belm.Normal(5, 2*3*8*8)
	run := func(name string) (sample, recon []float64) {
		r, err := belm.NewRunner(loadTiny(t), name, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := belm.NewTensor(noise, dtypes.Float32, 2, 3, 8, 8)
		start := time.Now()
		out, err := r.Sample(belm.OBELM{}, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{x}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sample, _ = belm.Values(out)
		e, _ := belm.NewEDICT(0.93)
		st, err := r.Invert(e, g, out, g.N())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := r.Sample(e, g, st)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		recon, _ = belm.Values(back)
		t.Logf("%s: O-BELM sample + EDICT round trip, N=10, batch 2: %s", name, time.Since(start).Round(time.Millisecond))
		return sample, recon
	}
	gs, gr := run("go")
	xs, xr := run("onnx")
	for _, c := range []struct {
		what string
		a, b []float64
	}{{"O-BELM sample", gs, xs}, {"EDICT reconstruction", gr, xr}} {
		scale := 1.0
		for _, v := range c.a {
			scale = math.Max(scale, math.Abs(v))
		}
		d := maxAbsDiff(t, c.a, c.b) / scale
		t.Logf("%s: go vs onnx max|Δ| = %.2e·max(1,|x|)", c.what, d)
		if d > 1e-5 {
			t.Errorf("%s: go and onnx disagree by %.2e > 1e-5", c.what, d)
		}
	}
	// The exact sampler's round trip holds on onnx too (float32).
	worst := 0.0
	for i := range xs {
		worst = math.Max(worst, math.Abs(xr[i]-xs[i]))
	}
	t.Logf("onnx EDICT float32 round trip: max|Δ| = %.2e", worst)
}

// TestOnnxInlineWeights: an inference graph on onnx holds the weights as constants (its only
// parameters are x and t), one built with WithInlineWeights(false) or for training reads
// them as parameters, and all give the same ε to float32 roundoff: inlining lets ONNX
// Runtime pack kernels and fold biases (reordered sums: ≤ 1e-5 here, the float32 parity
// tolerance of the fixtures), never different arithmetic.
func TestOnnxInlineWeights(t *testing.T) {
	needOnnx(t)
	x, xShape, tv, want := tinyFixture(t)
	b, err := backends.New("onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		opts   []Option
		inline bool
	}{
		{"default (inlined)", nil, true},
		{"WithInlineWeights(false)", []Option{WithInlineWeights(false)}, false},
		{"training graph", []Option{WithDifferentiableStrides(true)}, false},
	} {
		u := loadTiny(t, c.opts...)
		exec, err := model.NewExec(b, u.Store(), func(scope *model.Scope, x, t *Node) *Node { return u.Forward(scope, x, t) })
		if err != nil {
			t.Fatal(err)
		}
		res, g, err := exec.ExecWithGraph(toTensor(dtypes.Float32, x, xShape...), toTensor(dtypes.Float32, tv, len(tv)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		params := -2 // x and t
		for _, n := range g.Nodes() {
			if n.Type() == NodeTypeParameter {
				params++
			}
		}
		wantP := len(u.ParameterNames())
		if c.inline {
			wantP = 0
		}
		if params != wantP {
			t.Errorf("%s: %d weight parameters in the graph, want %d", c.name, params, wantP)
		}
		d := maxAbsDiff(t, fromTensor(t, res[0]), want)
		t.Logf("%s: %d weight parameters, eps vs diffusers max|Δ| = %.2e", c.name, params, d)
		if d > 1e-5 {
			t.Errorf("%s: eps differs from diffusers by %.2e > 1e-5", c.name, d)
		}
	}
}
