package quality

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func gaussian(mean []float64, cov []float64) Gaussian {
	return Gaussian{N: 100, Mean: mean, Cov: mat.NewSymDense(len(mean), cov)}
}

// Diagonal covariances commute: FD = ‖μ₁−μ₂‖² + Σ (√a_i − √b_i)².
func TestFrechetDiagonal(t *testing.T) {
	a := gaussian([]float64{1, 0, -2}, []float64{4, 0, 0, 0, 1, 0, 0, 0, 0.25})
	b := gaussian([]float64{0, 0, -2}, []float64{1, 0, 0, 0, 9, 0, 0, 0, 0.25})
	want := 1.0 + (2-1)*(2-1) + (1-3)*(1-3) + 0
	got, err := FrechetDistance(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// Tolerance: eigendecompositions of 3×3 matrices, a few ulps of the entries.
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("FD = %.15g, want %g", got, want)
	}
	if self, _ := FrechetDistance(a, a); self > 1e-12 {
		t.Errorf("FD(a, a) = %g, want 0", self)
	}
}

// For 2×2 positive definite Σ₁, Σ₂ (not commuting), tr √(Σ₁Σ₂) has a closed form: the
// eigenvalues λ₁, λ₂ of Σ₁Σ₂ are positive, so (√λ₁ + √λ₂)² = tr(Σ₁Σ₂) + 2√det(Σ₁Σ₂).
func TestFrechetTwoByTwoClosedForm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		spd := func() []float64 {
			a, b, c, d := r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), r.NormFloat64()
			// LLᵀ + 0.1 I with L = [[a, 0], [b, c]], plus a random scale
			s := math.Exp(d)
			return []float64{s * (a*a + 0.1), s * a * b, s * a * b, s * (b*b + c*c + 0.1)}
		}
		c1, c2 := spd(), spd()
		m1 := []float64{r.NormFloat64(), r.NormFloat64()}
		m2 := []float64{r.NormFloat64(), r.NormFloat64()}
		tr12 := c1[0]*c2[0] + c1[1]*c2[2] + c1[2]*c2[1] + c1[3]*c2[3]
		det := (c1[0]*c1[3] - c1[1]*c1[2]) * (c2[0]*c2[3] - c2[1]*c2[2])
		want := (m1[0]-m2[0])*(m1[0]-m2[0]) + (m1[1]-m2[1])*(m1[1]-m2[1]) + c1[0] + c1[3] + c2[0] + c2[3] -
			2*math.Sqrt(tr12+2*math.Sqrt(det))
		got, err := FrechetDistance(gaussian(m1, c1), gaussian(m2, c2))
		if err != nil {
			t.Fatal(err)
		}
		back, _ := FrechetDistance(gaussian(m2, c2), gaussian(m1, c1))
		// Relative to the traces involved (up to ~e^3 here): rounding of two eigendecompositions.
		scale := c1[0] + c1[3] + c2[0] + c2[3]
		if math.Abs(got-want) > 1e-10*scale || math.Abs(back-want) > 1e-10*scale {
			t.Errorf("FD = %.15g (reversed %.15g), closed form %.15g", got, back, want)
		}
	}
}

// Fit is numpy.cov (rows = observations, ddof 1) and the mean.
func TestFit(t *testing.T) {
	// Three 2-d points: (1, 2), (3, 6), (5, 4): mean (3, 4), cov [[4, 2], [2, 4]].
	g, err := Fit([]float32{1, 2, 3, 6, 5, 4}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if g.N != 3 || g.Mean[0] != 3 || g.Mean[1] != 4 {
		t.Errorf("N %d mean %v", g.N, g.Mean)
	}
	want := []float64{4, 2, 2, 4}
	for i := range 2 {
		for j := range 2 {
			if math.Abs(g.Cov.At(i, j)-want[2*i+j]) > 1e-12 {
				t.Errorf("cov[%d][%d] = %g, want %g", i, j, g.Cov.At(i, j), want[2*i+j])
			}
		}
	}
}

// Two samples of one Gaussian are close, a shifted one is not: the distance measures what
// it should at the sample sizes the evaluation uses.
func TestFrechetSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const d, n = 8, 5000
	draw := func(shift float64) []float32 {
		out := make([]float32, n*d)
		for i := range n {
			z := r.NormFloat64()
			for j := range d {
				out[i*d+j] = float32(z + 0.5*r.NormFloat64() + shift) // correlated coordinates
			}
		}
		return out
	}
	a, _ := Fit(draw(0), d)
	b, _ := Fit(draw(0), d)
	c, _ := Fit(draw(0.5), d)
	same, _ := FrechetDistance(a, b)
	shifted, _ := FrechetDistance(a, c)
	// The bias of the plug-in estimate is O(d/n)·tr Σ ≈ 0.002 here (tr Σ = 10); the shift
	// adds d·0.5² = 2.
	if same > 0.02 || math.Abs(shifted-2) > 0.1 {
		t.Errorf("FD same distribution %g (want < 0.02), shifted by 0.5 in %d coordinates %g (want ≈ 2)", same, d, shifted)
	}
}

func TestFrechetErrors(t *testing.T) {
	if _, err := Fit([]float32{1, 2}, 2); err == nil {
		t.Error("one vector: no error")
	}
	if _, err := Fit([]float32{1, 2, 3}, 2); err == nil {
		t.Error("3 values of dimension 2: no error")
	}
	if _, err := Fit([]float32{1, 2, float32(math.NaN()), 1}, 2); err == nil {
		t.Error("NaN feature: no error")
	}
	a := gaussian([]float64{0, 0}, []float64{1, 0, 0, 1})
	b := gaussian([]float64{0}, []float64{1})
	if _, err := FrechetDistance(a, b); err == nil {
		t.Error("dimension mismatch: no error")
	}
}
