package analytic_test

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
	"github.com/belmlab/workbench/belm/backends"
)

// epsOf evaluates a model's ε at the VP level with σ̄ = sb for a batch of points.
func epsOf(t *testing.T, m belm.Model, x []float64, batch, d int, sb float64) []float64 {
	t.Helper()
	b, err := backends.New("go")
	if err != nil {
		t.Fatal(err)
	}
	l := belm.LevelAt(sb)
	xt, _ := belm.NewTensor(x, dtypes.Float64, batch, d)
	out, err := ExecOnce(b, func(x *Node) *Node {
		g := x.Graph()
		tm := belm.Time{T: Scalar(g, dtypes.Float64, 0), Alpha: Scalar(g, dtypes.Float64, l.Alpha), Sigma: Scalar(g, dtypes.Float64, l.Sigma)}
		return m.Eps(nil, x, tm, nil)
	}, xt)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := belm.Values(out)
	return v
}

// The mixture's ε is −σ̄ ∇_x̄ log p̄(x̄), with p̄ the data density convolved with N(0, σ̄²I): a
// mixture with stds √(s_k² + σ̄²). Checked against central differences of log p̄ (h = 1e-5:
// the difference error ~1e-10, far below the 1e-7 tolerance).
func TestGMMEpsIsTheScore(t *testing.T) {
	p, err := analytic.NewProblem("gmm", 3)
	if err != nil {
		t.Fatal(err)
	}
	m := p.Model.(*analytic.GMM)
	const batch, d = 5, 3
	for _, sb := range []float64{0.05, 0.7, 4} {
		// p̄ at this σ̄ and a point x̄ = x/α.
		stds := make([]float64, len(m.Stds))
		for k, s := range m.Stds {
			stds[k] = math.Sqrt(s*s + sb*sb)
		}
		pbar, err := analytic.NewGMM(m.Weights, m.Means, stds)
		if err != nil {
			t.Fatal(err)
		}
		xbar := belm.Normal(uint64(sb*100), batch*d)
		l := belm.LevelAt(sb)
		x := make([]float64, len(xbar))
		for i := range x {
			x[i] = xbar[i] * l.Alpha
		}
		eps := epsOf(t, m, x, batch, d, sb)
		const h = 1e-5
		for b := 0; b < batch; b++ {
			for j := 0; j < d; j++ {
				pt := append([]float64(nil), xbar[b*d:(b+1)*d]...)
				pt[j] += h
				up := math.Log(pbar.Density(pt))
				pt[j] -= 2 * h
				down := math.Log(pbar.Density(pt))
				want := -sb * (up - down) / (2 * h)
				if got := eps[b*d+j]; math.Abs(got-want) > 1e-7 {
					t.Fatalf("σ̄=%g point %d coord %d: ε = %.12g, −σ̄∇log p̄ = %.12g", sb, b, j, got, want)
				}
			}
		}
	}
}

// The Gaussian's closed-form flow solves dx̄/dσ̄ = ε: a central difference of Transport in σ̄
// equals the model's ε.
func TestGaussianFlowSolvesTheODE(t *testing.T) {
	p, _ := analytic.NewProblem("gaussian", 4)
	g := p.Model.(*analytic.Gaussian)
	x0 := p.Data(3, 2)
	for _, sb := range []float64{0.1, 1, 10} {
		xbar := g.Transport(x0, 0, sb)
		l := belm.LevelAt(sb)
		x := make([]float64, len(xbar))
		for i := range x {
			x[i] = xbar[i] * l.Alpha
		}
		eps := epsOf(t, g, x, 2, 4, sb)
		const h = 1e-6
		up, down := g.Transport(x0, 0, sb+h), g.Transport(x0, 0, sb-h)
		for i := range eps {
			if d := (up[i] - down[i]) / (2 * h); math.Abs(d-eps[i]) > 1e-8 {
				t.Fatalf("σ̄=%g: dx̄/dσ̄ = %.12g, ε = %.12g", sb, d, eps[i])
			}
		}
	}
}

func TestProblemErrors(t *testing.T) {
	if _, err := analytic.NewProblem("mnist", 4); err == nil {
		t.Error("unknown problem: no error")
	}
	if _, err := analytic.NewProblem("shapes", 4); err == nil {
		t.Error("shapes with D=4: no error")
	}
	if _, err := analytic.NewGaussian(3, []float64{1, 2}, 1); err == nil {
		t.Error("mean of the wrong length: no error")
	}
	if _, err := analytic.NewGMM([]float64{0.5, 0.6}, [][]float64{{0}, {1}}, []float64{1, 1}); err == nil {
		t.Error("weights not summing to 1: no error")
	}
}
