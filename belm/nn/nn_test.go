package nn

import (
	"math"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// Linear is x·wᵀ + b: a 2×3 input times a 4×3 weight, checked against the sums written out.
// Exact: float64 products of small integers and their sums are exact.
func TestLinear(t *testing.T) {
	x := []float64{1, 2, 3, -1, 0, 2}
	w := []float64{1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}
	b := []float64{10, 20, 30, 40}
	out, err := ExecOnce(goBackend(t), func(x, w, b *Node) *Node { return Linear(x, w, b) },
		toTensor(dtypes.Float64, x, 2, 3), toTensor(dtypes.Float64, w, 4, 3), toTensor(dtypes.Float64, b, 4))
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{11, 22, 33, 46, 9, 20, 32, 41}
	if got := fromTensor(t, out); !slices.Equal(got, want) || !slices.Equal(out.Shape().Dimensions, []int{2, 4}) {
		t.Errorf("Linear = %v %v, want %v [2 4]", got, out.Shape().Dimensions, want)
	}
}

func TestChannelVector(t *testing.T) {
	out, err := ExecOnce(goBackend(t), func(v *Node) *Node { return ChannelVector(v, 4) },
		toTensor(dtypes.Float64, []float64{1, 2, 3}, 3))
	if err != nil {
		t.Fatal(err)
	}
	if d := out.Shape().Dimensions; !slices.Equal(d, []int{1, 3, 1, 1}) {
		t.Errorf("shape %v, want [1 3 1 1]", d)
	}
}

// Conv2D and Conv2DInference follow SetConvAlgorithm and give the backend's Convolve value
// under each setting (float64, go backend: sums of 36 products in another order, 1e-13).
func TestConv2DAlgorithms(t *testing.T) {
	c := convCase{b: 2, c: 4, h: 8, w: 8, o: 3, k: 3, stride: 2, pad: [2][2]int{{1, 1}, {1, 1}}}
	x, w := convInputs(c, dtypes.Float64)
	run := func(f func(x, w *Node, stride int, pad [2][2]int) *Node) []float64 {
		out, err := ExecOnce(goBackend(t), func(x, w *Node) *Node { return f(x, w, c.stride, c.pad) }, x, w)
		if err != nil {
			t.Fatal(err)
		}
		return fromTensor(t, out)
	}
	want := run(convDirect)
	for _, alg := range []ConvAlgorithm{ConvAuto, ConvDirect, ConvIm2col} {
		prev := SetConvAlgorithm(alg)
		for name, f := range map[string]func(x, w *Node, stride int, pad [2][2]int) *Node{"Conv2D": Conv2D, "Conv2DInference": Conv2DInference} {
			got := run(f)
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-13 {
					t.Errorf("%s with %s: [%d] = %v, want %v", name, alg, i, got[i], want[i])
					break
				}
			}
		}
		SetConvAlgorithm(prev)
	}
	if s := ConvAlgorithm(7).String(); s != "ConvAlgorithm(7)" {
		t.Errorf("String of an unknown algorithm: %q", s)
	}
}

// adamwHost is AdamW's formula (see AdamW) in float64 on the host, for one step k.
func adamwHost(o AdamW, w, g, m, v [][]float64, lr float64, k int) (gnorm float64) {
	for _, gi := range g {
		for _, x := range gi {
			gnorm += x * x
		}
	}
	gnorm = math.Sqrt(gnorm)
	coef := 1.0
	if o.MaxGradNorm > 0 {
		coef = min(1, o.MaxGradNorm/(gnorm+1e-6))
	}
	bc1, bc2 := 1-math.Pow(o.Beta1, float64(k)), 1-math.Pow(o.Beta2, float64(k))
	for i := range w {
		for j := range w[i] {
			gr := g[i][j] * coef
			m[i][j] = o.Beta1*m[i][j] + (1-o.Beta1)*gr
			v[i][j] = o.Beta2*v[i][j] + (1-o.Beta2)*gr*gr
			w[i][j] -= lr * o.WeightDecay * w[i][j]
			w[i][j] -= (lr / bc1) * m[i][j] / (math.Sqrt(v[i][j]/bc2) + o.Epsilon)
		}
	}
	return gnorm
}

// TestAdamWKnownAnswer runs 3 steps of AdamW.Step in a float64 graph on two weights (a 2×2
// and a 3-vector) with gradients that change every step, with and without clipping, and
// compares weights, moments and the gradient norm with the formula on the host. Tolerance
// 1e-14 relative to max(1, |value|): the graph and the host round the same operations,
// grouped differently (lr/bc₁ folded, √(v/bc₂) + ε), a few ulps per step.
func TestAdamWKnownAnswer(t *testing.T) {
	for _, clip := range []float64{0, 0.5} {
		o := AdamW{Beta1: 0.9, Beta2: 0.99, Epsilon: 1e-8, WeightDecay: 0.01, MaxGradNorm: clip}
		w := [][]float64{{0.5, -1, 2, 0.25}, {1, -0.5, 0.75}}
		m := [][]float64{make([]float64, 4), make([]float64, 3)}
		v := [][]float64{make([]float64, 4), make([]float64, 3)}
		// Inputs: w0, w1, g0, g1, m0, m1, v0, v1, [lr, bc₁, bc₂].
		exec, err := NewExec(goBackend(t), func(in []*Node) []*Node {
			h := func(i int) *Node { return Reshape(Slice(in[8], AxisElem(i))) }
			nw, nm, nv, gn := o.Step(in[0:2], in[2:4], in[4:6], in[6:8], h(0), h(1), h(2))
			return []*Node{nw[0], nw[1], nm[0], nm[1], nv[0], nv[1], gn}
		})
		if err != nil {
			t.Fatal(err)
		}
		gw, gm, gv := clone(w), clone(m), clone(v) // the graph's state
		for k := 1; k <= 3; k++ {
			g := [][]float64{{float64(k), -2, 0.5, 3}, {-1, float64(k * k), 0.1}}
			lr := 0.1 / float64(k)
			bc1, bc2 := o.BiasCorrections(k)
			out, err := exec.Exec(toTensor(dtypes.Float64, gw[0], 2, 2), toTensor(dtypes.Float64, gw[1], 3),
				toTensor(dtypes.Float64, g[0], 2, 2), toTensor(dtypes.Float64, g[1], 3),
				toTensor(dtypes.Float64, gm[0], 2, 2), toTensor(dtypes.Float64, gm[1], 3),
				toTensor(dtypes.Float64, gv[0], 2, 2), toTensor(dtypes.Float64, gv[1], 3),
				toTensor(dtypes.Float64, []float64{lr, bc1, bc2}, 3))
			if err != nil {
				t.Fatal(err)
			}
			vals := make([][]float64, len(out))
			for i, o := range out {
				vals[i] = fromTensor(t, o)
			}
			gw, gm, gv = [][]float64{vals[0], vals[1]}, [][]float64{vals[2], vals[3]}, [][]float64{vals[4], vals[5]}
			wantNorm := adamwHost(o, w, g, m, v, lr, k)
			check := func(what string, got, want [][]float64) {
				for i := range want {
					for j := range want[i] {
						if d := math.Abs(got[i][j] - want[i][j]); d > 1e-14*max(1, math.Abs(want[i][j])) {
							t.Errorf("clip %g, step %d: %s[%d][%d] = %.17g, formula %.17g", clip, k, what, i, j, got[i][j], want[i][j])
						}
					}
				}
			}
			check("w", gw, w)
			check("m", gm, m)
			check("v", gv, v)
			check("‖g‖", [][]float64{vals[6]}, [][]float64{{wantNorm}})
		}
	}
}

func clone(a [][]float64) [][]float64 {
	out := make([][]float64, len(a))
	for i := range a {
		out[i] = slices.Clone(a[i])
	}
	return out
}

// Clipping at c makes the applied gradient's global norm min(‖g‖, c)·‖g‖/(‖g‖+1e-6):
// after one step from zero moments m = (1−β₁)·g·coef, so ‖m‖/(1−β₁) is the applied norm.
func TestAdamWClipping(t *testing.T) {
	o := AdamW{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, MaxGradNorm: 1}
	g := []float64{3, 4} // ‖g‖ = 5
	out, err := ExecOnceN(goBackend(t), func(w, g, z, hyper *Node) []*Node {
		h := func(i int) *Node { return Reshape(Slice(hyper, AxisElem(i))) }
		_, nm, _, gn := o.Step([]*Node{w}, []*Node{g}, []*Node{z}, []*Node{z}, h(0), h(1), h(2))
		return []*Node{nm[0], gn}
	}, tensors.FromFlatDataAndDimensions([]float64{0, 0}, 2), tensors.FromFlatDataAndDimensions(g, 2),
		tensors.FromFlatDataAndDimensions([]float64{0, 0}, 2), tensors.FromFlatDataAndDimensions([]float64{1e-3, 0.1, 0.001}, 3))
	if err != nil {
		t.Fatal(err)
	}
	m, gn := fromTensor(t, out[0]), fromTensor(t, out[1])
	applied := math.Hypot(m[0], m[1]) / (1 - o.Beta1)
	want := 5 * (1 / (5 + 1e-6))
	// 1e-15: a handful of float64 roundings on values of order 1.
	if math.Abs(applied-want) > 1e-15 || gn[0] != 5 {
		t.Errorf("applied norm %.17g (want %.17g), reported ‖g‖ %v (want 5)", applied, want, gn[0])
	}
}
