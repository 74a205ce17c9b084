package nn

import (
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/belmlab/workbench/belm"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	_ "github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

var (
	backendOnce sync.Once
	backend     compute.Backend
	backendErr  error
)

// goBackend is the pure-Go backend, shared by the tests.
func goBackend(tb testing.TB) compute.Backend {
	tb.Helper()
	backendOnce.Do(func() { backend, backendErr = compute.NewWithConfig("go") })
	if backendErr != nil {
		tb.Fatal(backendErr)
	}
	return backend
}

// toTensor and fromTensor are belm.NewTensor and belm.Values for tests (valid shapes only).
func toTensor(dt dtypes.DType, v []float64, dims ...int) *tensors.Tensor {
	t, err := belm.NewTensor(v, dt, dims...)
	if err != nil {
		panic(err)
	}
	return t
}

func fromTensor(tb testing.TB, t *tensors.Tensor) []float64 {
	tb.Helper()
	v, err := belm.Values(t)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// convCase is one convolution of the UNet: input [B, C, H, W], O outputs, k×k kernel.
type convCase struct {
	b, c, h, w, o, k, stride int
	pad                      [2][2]int
}

func (c convCase) String() string {
	return fmt.Sprintf("B%d_%dx%d_%d-%d_k%d_s%d_p%v", c.b, c.h, c.w, c.c, c.o, c.k, c.stride, c.pad)
}

func (c convCase) flops() float64 {
	ho := (c.h+c.pad[0][0]+c.pad[0][1]-c.k)/c.stride + 1
	wo := (c.w+c.pad[1][0]+c.pad[1][1]-c.k)/c.stride + 1
	return 2 * float64(c.b*c.o*ho*wo*c.c*c.k*c.k)
}

func convInputs(c convCase, dt dtypes.DType) (*tensors.Tensor, *tensors.Tensor) {
	x := make([]float64, c.b*c.c*c.h*c.w)
	for i := range x {
		x[i] = math.Sin(0.37*float64(i)) + 0.1*math.Cos(float64(i*i%101))
	}
	w := make([]float64, c.o*c.c*c.k*c.k)
	for i := range w {
		w[i] = math.Cos(0.11*float64(i)+0.5) / float64(c.c*c.k)
	}
	return toTensor(dt, x, c.b, c.c, c.h, c.w), toTensor(dt, w, c.o, c.c, c.k, c.k)
}

// TestConvIm2col checks the patches + matmul convolution against the backend's Convolve on
// every kind of convolution the UNet has (3×3 stride 1 and 2, asymmetric padding, 1×1),
// at batch 1 and 3, in float32 and float64.
func TestConvIm2col(t *testing.T) {
	cases := []convCase{
		{b: 1, c: 3, h: 8, w: 8, o: 5, k: 3, stride: 1, pad: [2][2]int{{1, 1}, {1, 1}}},
		{b: 3, c: 4, h: 8, w: 6, o: 5, k: 3, stride: 1, pad: [2][2]int{{1, 1}, {1, 1}}},
		{b: 3, c: 4, h: 8, w: 8, o: 4, k: 3, stride: 2, pad: [2][2]int{{1, 1}, {1, 1}}},
		{b: 2, c: 4, h: 8, w: 8, o: 4, k: 3, stride: 2, pad: [2][2]int{{0, 1}, {0, 1}}},
		{b: 3, c: 6, h: 4, w: 4, o: 2, k: 1, stride: 1},
		{b: 1, c: 6, h: 4, w: 4, o: 2, k: 1, stride: 1},
	}
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%s", dt, c), func(t *testing.T) {
				x, w := convInputs(c, dt)
				run := func(f func(x, w *Node, stride int, pad [2][2]int) *Node) []float64 {
					out, err := ExecOnce(goBackend(t), func(x, w *Node) *Node { return f(x, w, c.stride, c.pad) }, x, w)
					if err != nil {
						t.Fatal(err)
					}
					return fromTensor(t, out)
				}
				want := run(convDirect)
				check := func(name string, got []float64) {
					if len(want) != len(got) {
						t.Fatalf("%s: sizes %d vs %d", name, len(got), len(want))
					}
					tol := 1e-5
					if dt == dtypes.Float64 {
						tol = 1e-13
					}
					var worst float64
					for i := range want {
						worst = math.Max(worst, math.Abs(got[i]-want[i]))
					}
					if worst > tol {
						t.Errorf("max |%s − direct| = %.3g > %g", name, worst, tol)
					}
				}
				check("im2col", run(convIm2col))
				if c.stride == 1 {
					check("shift", run(func(x, w *Node, _ int, pad [2][2]int) *Node { return convShift(x, w, pad) }))
				} else {
					check("differentiable", run(convDifferentiable))
				}
			})
		}
	}
}

// TestConvDifferentiableGradient checks convDifferentiable — the training form: strided
// convolutions subsampled, the weight gradient as one matmul (convWeightGrad) — against the
// backend's Convolve and GoMLX's own gradient of it: value, ∂L/∂x and ∂L/∂w of
// L = Σ r·conv(x, w) for a fixed r, on the UNet's kinds of convolution, on the go backend
// (its Convolve is exact), to 1e-12 in float64 and 1e-5 in float32, relative to the largest
// entry (sums of up to B·Ho·Wo products, in another order).
func TestConvDifferentiableGradient(t *testing.T) {
	cases := []convCase{
		{b: 2, c: 3, h: 6, w: 5, o: 4, k: 3, stride: 1, pad: [2][2]int{{1, 1}, {1, 1}}},
		{b: 3, c: 4, h: 8, w: 8, o: 4, k: 3, stride: 2, pad: [2][2]int{{1, 1}, {1, 1}}},
		{b: 2, c: 4, h: 8, w: 8, o: 3, k: 3, stride: 2, pad: [2][2]int{{0, 1}, {0, 1}}},
		{b: 3, c: 6, h: 4, w: 4, o: 2, k: 1, stride: 1},
	}
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%s", dt, c), func(t *testing.T) {
				x, w := convInputs(c, dt)
				run := func(f func(x, w *Node, stride int, pad [2][2]int) *Node) [][]float64 {
					outs, err := ExecOnceN(goBackend(t), func(x, w *Node) []*Node {
						y := f(x, w, c.stride, c.pad)
						r := Sin(Iota(x.Graph(), y.Shape(), -1))
						r = Add(r, Cos(Iota(x.Graph(), y.Shape(), 1)))
						g := Gradient(ReduceAllSum(Mul(r, y)), x, w)
						return []*Node{y, g[0], g[1]}
					}, x, w)
					if err != nil {
						t.Fatal(err)
					}
					var res [][]float64
					for _, o := range outs {
						res = append(res, fromTensor(t, o))
					}
					return res
				}
				want, got := run(convDirect), run(convDifferentiable)
				tol := 1e-5
				if dt == dtypes.Float64 {
					tol = 1e-12
				}
				for k, name := range []string{"y", "∂L/∂x", "∂L/∂w"} {
					var worst, scale float64
					for i := range want[k] {
						worst = math.Max(worst, math.Abs(got[k][i]-want[k][i]))
						scale = math.Max(scale, math.Abs(want[k][i]))
					}
					if worst > tol*math.Max(1, scale) {
						t.Errorf("%s: max |differentiable − direct| = %.3g > %g × max(1, %.3g)", name, worst, tol, scale)
					}
				}
			})
		}
	}
}

// unetConvs are the 3×3 convolutions of ddpm-cifar10-32 at batch 8 (one of each size).
var unetConvs = []convCase{
	{b: 8, c: 128, h: 32, w: 32, o: 128, k: 3, stride: 1, pad: [2][2]int{{1, 1}, {1, 1}}},
	{b: 8, c: 256, h: 16, w: 16, o: 256, k: 3, stride: 1, pad: [2][2]int{{1, 1}, {1, 1}}},
	{b: 8, c: 256, h: 8, w: 8, o: 256, k: 3, stride: 1, pad: [2][2]int{{1, 1}, {1, 1}}},
	{b: 8, c: 256, h: 16, w: 16, o: 256, k: 3, stride: 2, pad: [2][2]int{{1, 1}, {1, 1}}},
}

// BenchmarkConv compares the backend's Convolve with patches + matmul on the UNet's
// convolutions (float32, go backend); it reports GFLOP/s.
func BenchmarkConv(b *testing.B) {
	for _, c := range unetConvs {
		for _, algo := range []string{"direct", "im2col", "shift"} {
			if algo == "shift" && c.stride != 1 {
				continue
			}
			b.Run(c.String()+"/"+algo, func(b *testing.B) {
				f := convDirect
				switch algo {
				case "im2col":
					f = convIm2col
				case "shift":
					f = func(x, w *Node, _ int, pad [2][2]int) *Node { return convShift(x, w, pad) }
				}
				exec, err := NewExec(goBackend(b), func(x, w *Node) *Node { return f(x, w, c.stride, c.pad) })
				if err != nil {
					b.Fatal(err)
				}
				x, w := convInputs(c, dtypes.Float32)
				if _, err := exec.Exec(x, w); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					out, err := exec.Exec(x, w)
					if err != nil {
						b.Fatal(err)
					}
					out[0].FinalizeAll()
				}
				b.ReportMetric(c.flops()*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
