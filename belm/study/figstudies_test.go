package study

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
)

// Eq18 against the closed form of the paper's Eq. 18 on the same grid,
//
//	A = (h²_i/h²_{i+1})(α_{i−1}/α_{i+1}),  B = ((h²_{i+1} − h²_i)/h²_{i+1})(α_{i−1}/α_i),  C = −(h_i(h_i+h_{i+1})/h_{i+1}) α_{i−1},
//
// on two schedules. The table solves belm's linear relation numerically: the two agree to
// roundoff, 1e-12 relative (the coefficients are O(1); ratios of σ̄ differences up to
// ~15 lose a few digits at most).
func TestOBELMCoefficientsAreEq18(t *testing.T) {
	ddpm := belm.DDPMConfig
	for _, sc := range []belm.SchedulerConfig{{}, ddpm} {
		c := Common{Schedule: sc}
		r, err := OBELMCoefficients(c, 10)
		if err != nil {
			t.Fatal(err)
		}
		g, err := c.Grid(10)
		if err != nil {
			t.Fatal(err)
		}
		steps := r.Eq18()
		if len(steps) != 9 || len(r.Rows) != 20 { // steps 1 … 9 of sampling; 10 + 10 rows in all
			t.Fatalf("%s: %d Eq. 18 steps of %d rows, want 9 of 20", sc.BetaSchedule, len(steps), len(r.Rows))
		}
		for _, s := range steps {
			i := 10 - s.Step
			hi, hn := g.H(i), g.H(i+1)
			al := func(l int) float64 { return g.Levels[l].Alpha }
			want := [3]float64{hi * hi / (hn * hn) * al(i-1) / al(i+1), (hn*hn - hi*hi) / (hn * hn) * al(i-1) / al(i), -hi * (hi + hn) / hn * al(i-1)}
			for k, got := range [3]float64{s.A, s.B, s.C} {
				if math.Abs(got-want[k]) > 1e-12*math.Max(1, math.Abs(want[k])) {
					t.Errorf("%s step %d: %c = %.17g, Eq. 18 gives %.17g", sc.BetaSchedule, s.Step, "ABC"[k], got, want[k])
				}
			}
			if s.Hi != hi || s.Hnext != hn {
				t.Errorf("step %d: h_i, h_i+1 = %g, %g; the grid's are %g, %g", s.Step, s.Hi, s.Hnext, hi, hn)
			}
		}
	}
}

// The 2-D paths: each starts at its data point, sampling starts where inversion ended,
// and O-BELM comes back to the data point to roundoff (exact inversion: 1e-12 bounds the
// float64 roundoff of 2 × 10 steps on O(1) values), DDIM does not (its O(h) inexactness at
// N = 10 is about 1e-2; 1e-4 separates it from roundoff by eight decades).
func TestTrajectories(t *testing.T) {
	r, err := Trajectories(Common{}, 10, []string{"ddim", "belm"})
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 10 || len(r.Paths) != 2*trajectoryPoints {
		t.Fatalf("N %d, %d paths; want 10, %d", r.N, len(r.Paths), 2*trajectoryPoints)
	}
	for i, p := range r.Paths {
		// x₀ or x_N, then a latent a step; O-BELM's inverted state already holds x_{N−1},
		// so its sampling pass takes N−1 steps.
		wantSampling := 11
		if p.Sampler == "belm" {
			wantSampling = 10
		}
		if len(p.Inversion) != 11 || len(p.Sampling) != wantSampling {
			t.Fatalf("path %d (%s): %d and %d points, want 11 and %d", i, p.Sampler, len(p.Inversion), len(p.Sampling), wantSampling)
		}
		if p.Inversion[0] != r.Paths[i%trajectoryPoints].Inversion[0] {
			t.Errorf("path %d (%s) starts at %v, not at the data point %v", i, p.Sampler, p.Inversion[0], r.Paths[i%trajectoryPoints].Inversion[0])
		}
		if p.Sampling[0] != p.Inversion[10] {
			t.Errorf("path %d (%s): sampling starts at %v, inversion ended at %v", i, p.Sampler, p.Sampling[0], p.Inversion[10])
		}
		e := p.ReconstructionError()
		switch {
		case p.Sampler == "belm" && !(e < 1e-12):
			t.Errorf("O-BELM path %d: |x̂₀ − x₀| = %g, want < 1e-12 (exact inversion)", i, e)
		case p.Sampler == "ddim" && !(e > 1e-4):
			t.Errorf("DDIM path %d: |x̂₀ − x₀| = %g, want > 1e-4 (inexact inversion)", i, e)
		}
	}
	if d := r.Density(r.Paths[0].Inversion[0][0], r.Paths[0].Inversion[0][1]); !(d > 0) {
		t.Errorf("density at a data point = %g, want > 0", d)
	}
}

// Both precisions, on the same data: float64 rows in float64, float32 rows in float32;
// Rows follows the dtype asked; InvertedNoise is at the smallest N with belm.MeanStd's
// numbers (the same arithmetic: equal exactly).
func TestRoundTripsInBothPrecisions(t *testing.T) {
	c := Common{D: 4, Batch: 8, DType: dtypes.Float32}
	r, err := RoundTripsInBothPrecisions(c, []string{"ddim", "belm"}, []int{8, 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Float64) != 4 || len(r.Float32) != 4 || r.Float64[0].DType != "Float64" || r.Float32[0].DType != "Float32" || r.Model != "gaussian" {
		t.Fatalf("rows %d (%s), %d (%s), model %q; want 4 Float64, 4 Float32, gaussian", len(r.Float64), r.Float64[0].DType, len(r.Float32), r.Float32[0].DType, r.Model)
	}
	if &r.Rows()[0] != &r.Float32[0] {
		t.Error("Rows of a float32 study are not the float32 rows")
	}
	// O-BELM in float64 is exact to roundoff (1e-12, as above); float32 roundoff is ~1e-7.
	if e64, e32 := r.Float64[3].MaxAbs, r.Float32[3].MaxAbs; r.Float64[3].Sampler != "belm" || !(e64 < 1e-12) || !(e32 > 1e-9 && e32 < 1e-4) {
		t.Errorf("O-BELM round trip: %g (float64), %g (float32); want < 1e-12 and in (1e-9, 1e-4)", e64, e32)
	}
	noise := r.InvertedNoise()
	if noise.N != 4 || len(noise.Samples) != 2 || noise.DType != dtypes.Float32 {
		t.Fatalf("inverted noise at N = %d, %d samplers, %s; want 4, 2, float32", noise.N, len(noise.Samples), noise.DType)
	}
	for _, s := range noise.Samples {
		m, sd := belm.MeanStd(s.Values)
		if len(s.Values) != 4*8 || s.Mean != m || s.Std != sd {
			t.Errorf("%s: %d values, mean %g std %g; want 32, %g, %g", s.Sampler, len(s.Values), s.Mean, s.Std, m, sd)
		}
	}
}
