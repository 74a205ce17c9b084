package belm_test

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
)

// One EDICT step against a hand derivation on the Gaussian N(m, 1), m = 0.5, over the grid
// σ̄ = (0, 1): level 1 has α₁ = σ₁ = 1/√2, level 0 is the clean endpoint α₀ = 1, σ₀ = 0.
//
// EDICT's coefficients there are a = α₀/α₁ = √2 and b = σ₀ − aσ₁ = −1, and the Gaussian's ε
// at σ̄ = 1 is ε(v) = σ̄(v/α₁ − m)/(1 + σ̄²) = (√2 v − m)/2, so b·ε(v) = −v/√2 + m/2. The
// sampling step from (x, y) at level 1 (Eq. 9) is then, coordinate by coordinate,
//
//	x' = a x + b ε(y)  = √2 x − y/√2 + m/2
//	y' = a y + b ε(x') = √2 y − x'/√2 + m/2 = √2 y − x + y/2 + m/2 − m/(2√2)
//	x₀ = p x' + (1−p) y'
//	y₀ = p y' + (1−p) x₀,
//
// and the inversion step from (x₀, y₀) gives back (x, y). Tolerance 1e-14 of the data
// scale: a few float64 roundings of O(1) values.
func TestEDICTStepClosedForm(t *testing.T) {
	const m, p = 0.5, 0.93
	model, err := analytic.NewGaussian(dim, []float64{m}, 1)
	if err != nil {
		t.Fatal(err)
	}
	g, err := belm.SigmaBarGrid([]float64{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	x, y := belm.Normal(50, 8*dim), belm.Normal(51, 8*dim)
	wantX, wantY := make([]float64, len(x)), make([]float64, len(x))
	r2 := math.Sqrt2
	for i := range x {
		xi := r2*x[i] - y[i]/r2 + m/2
		yi := r2*y[i] - x[i] + y[i]/2 + m/2 - m/(2*r2)
		wantX[i] = p*xi + (1-p)*yi
		wantY[i] = p*yi + (1-p)*wantX[i]
	}
	r := runner(t, model, dtypes.Float64)
	s := belm.EDICT{P: p}
	st, err := r.Run(s, g, belm.State{Level: 1, Latents: []*tensors.Tensor{tensorOf(t, x, dtypes.Float64), tensorOf(t, y, dtypes.Float64)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ex, ey := belm.Compare(values(t, st.Latents[0]), wantX, 0), belm.Compare(values(t, st.Latents[1]), wantY, 0)
	t.Logf("EDICT step vs closed form: x %.1e, y %.1e", ex.MaxAbs, ey.MaxAbs)
	if ex.MaxAbs > 1e-14 || ey.MaxAbs > 1e-14 {
		t.Errorf("EDICT step differs from the closed form: x by %.2e, y by %.2e", ex.MaxAbs, ey.MaxAbs)
	}
	back, err := r.Run(s, g, st, 1)
	if err != nil {
		t.Fatal(err)
	}
	bx, by := belm.Compare(values(t, back.Latents[0]), x, 0), belm.Compare(values(t, back.Latents[1]), y, 0)
	if bx.MaxAbs > 1e-14 || by.MaxAbs > 1e-14 {
		t.Errorf("EDICT inversion step does not give back (x, y): off by %.2e, %.2e", bx.MaxAbs, by.MaxAbs)
	}
}
