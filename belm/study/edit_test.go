package study

import (
	"context"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
	"github.com/belmlab/workbench/belm/pipeline"
)

// Editing on the class-conditional Gaussian mixture (exact ε, float64), as SD's prompts would
// condition it: guidance w = 3 towards a class in both passes. Tolerances: the exact
// samplers reconstruct to ≤ 1e-10 (float64 rounding over 20 steps, measured ~1e-14), with
// and without a frozen part; an edit whose conditioning equals the original returns the
// input the same way; DDIM's reconstruction is off by > 1e-4 (measured 0.84 at w = 3: its inversion
// is not exact); editing towards another class moves the latents by > 0.1 (measured 1.1–1.9).
func TestEdit(t *testing.T) {
	prob, err := analytic.NewProblem("gmm", 4)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(prob.Model, belm.SDConfig, pipeline.Options{DType: dtypes.Float64, Backend: "go", Codec: pipeline.Identity{Shape: []int{4}}})
	if err != nil {
		t.Fatal(err)
	}
	uncond := []float64{0.5, 0.3, 0.2}
	orig := pipeline.Fixed{Cond: []float64{0.8, 0.1, 0.1}, Uncond: uncond, W: 3}
	other := pipeline.Fixed{Cond: []float64{0.1, 0.1, 0.8}, Uncond: uncond, W: 3}
	x := prob.Data(3, 6)
	for _, tc := range []struct {
		sampler string
		freeze  int
		exact   bool
	}{{"belm", 0, true}, {"belm", 5, true}, {"edict", 4, true}, {"bdia", 0, true}, {"ddim", 0, false}} {
		s, err := p.Sampler(tc.sampler, belm.DefaultSamplerOptions, false)
		if err != nil {
			t.Fatal(err)
		}
		var steps int
		cfg := EditConfig{Sampler: s, N: 20, Freeze: tc.freeze, Images: x, Batch: 6, Original: orig, Edited: other,
			Progress: func(done, total int, what string) { steps = total }}
		r, err := Edit(context.Background(), p, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if steps != 3*(20-tc.freeze) {
			t.Errorf("%s: progress total %d, want %d", tc.sampler, steps, 3*(20-tc.freeze))
		}
		e := r.Reconstruction.MaxAbs
		t.Logf("%s F=%d: reconstruction %.2e, edit moved the latents by %.3f (RMS)", tc.sampler, tc.freeze, e, r.EditDistance)
		if tc.exact && e > 1e-10 || !tc.exact && e < 1e-4 {
			t.Errorf("%s F=%d: reconstruction error %.2e (exact sampler: %v)", tc.sampler, tc.freeze, e, tc.exact)
		}
		if r.EditDistance < 0.1 {
			t.Errorf("%s: the edit moved the latents by only %.2e", tc.sampler, r.EditDistance)
		}
		cfg.Edited = orig
		same, err := Edit(context.Background(), p, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if d := belm.Compare(same.Edited, x, 1).MaxAbs; tc.exact && d > 1e-10 {
			t.Errorf("%s: an edit to the original conditioning changed the input by %.2e", tc.sampler, d)
		}
	}
	if p.Conditioner != nil {
		t.Errorf("Edit left the pipeline's conditioner set to %v", p.Conditioner)
	}
}
