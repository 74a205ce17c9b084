package pipeline

import (
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
)

// mixture is the 4-d, 3-component Gaussian mixture (class-conditional through its
// weights) as a pipeline in float64 on the go backend.
func mixture(t *testing.T, c Conditioner) *Pipeline {
	t.Helper()
	prob, err := analytic.NewProblem("gmm", 4)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(prob.Model, belm.SDConfig, Options{DType: dtypes.Float64, Backend: "go", Codec: Identity{Shape: []int{4}}, Conditioner: c})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A conditioned pipeline applies the same conditioning in both directions: with classifier-
// free guidance (w = 3, towards the second component) O-BELM still inverts exactly
// (≤ 1e-10 in float64, rounding amplified by 10 steps), and the guidance changes the
// samples (by 1.0 measured, > 0.1 asserted: w = 3 pulls them towards the second component).
func TestConditioner(t *testing.T) {
	cfg := Fixed{Cond: []float64{0.1, 0.8, 0.1}, Uncond: []float64{0.5, 0.3, 0.2}, W: 3}
	guided, plain := mixture(t, cfg), mixture(t, nil)
	s, err := guided.Sampler("belm", belm.DefaultSamplerOptions, false)
	if err != nil {
		t.Fatal(err)
	}
	noise := Noise(2, guided.Size(6))
	x, err := guided.Sample(s, 10, noise, 6)
	if err != nil {
		t.Fatal(err)
	}
	y, err := plain.Sample(s, 10, noise, 6)
	if err != nil {
		t.Fatal(err)
	}
	d := belm.Compare(x, y, 1).MaxAbs
	t.Logf("guidance moves the samples by %.3f", d)
	if d < 0.1 {
		t.Errorf("guided and unguided samples differ by %.2e: the conditioning was not applied", d)
	}
	back, _, err := guided.Reconstruct(s, 10, x, 6)
	if err != nil {
		t.Fatal(err)
	}
	e := belm.Compare(back, x, 1).MaxAbs
	t.Logf("guided O-BELM round trip: %.2e", e)
	if e > 1e-10 {
		t.Errorf("guided O-BELM reconstructs with error %.2e > 1e-10", e)
	}
	bad := mixture(t, Fixed{Cond: []float64{1, 0}, Shape: []int{3}})
	if _, err := bad.Sample(s, 10, noise, 6); err == nil || !strings.Contains(err.Error(), "conditioning") {
		t.Errorf("a conditioning of the wrong size: %v", err)
	}
}

// A model without a UNet config needs a codec; a codec's shapes must hold values; the
// memory estimate of a model without weights or config is 16 latents an image (affine in
// the batch, exactly: 16 · 4 values · 8 bytes · slack 1.75 · heap factor per image).
func TestNewModel(t *testing.T) {
	prob, err := analytic.NewProblem("gaussian", 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(prob.Model, belm.SDConfig, Options{DType: dtypes.Float64, Backend: "go"}); err == nil || !strings.Contains(err.Error(), "Codec") {
		t.Errorf("no codec: %v", err)
	}
	if _, err := New(prob.Model, belm.SDConfig, Options{DType: dtypes.Float64, Backend: "go", Codec: Identity{Shape: []int{0, 4}}}); err == nil {
		t.Error("a codec of 0×4 images accepted")
	}
	p, err := New(prob.Model, belm.SDConfig, Options{DType: dtypes.Float64, Backend: "go", Codec: Identity{Shape: []int{1, 2, 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.UNet != nil || p.Channels() != 1 || p.SampleSize() != 2 || p.Size(3) != 12 || p.Schedule.Config.Float32 {
		t.Errorf("pipeline: UNet %v, %d channels, side %d, %d values for 3, float32 schedule %v", p.UNet, p.Channels(), p.SampleSize(), p.Size(3), p.Schedule.Config.Float32)
	}
	e1, e2 := p.EstimateBytes(1), p.EstimateBytes(2)
	want := 16 * 4 * 8 * allocatorSlack * heapFactor(p.Runner.Backend())
	if float64(e2-e1) < want-1 || float64(e2-e1) > want+1 || e1 != e2-e1 {
		t.Errorf("EstimateBytes: %d, %d; want %g an image, nothing else", e1, e2, want)
	}
	if _, err := p.Eps(nil, nil); err == nil || !strings.Contains(err.Error(), "per-image timesteps") {
		t.Errorf("Eps of an analytic model: %v", err)
	}
}

// Partial inversion (freeze_step F): inverting N−F steps and sampling them back is exact for
// the exact samplers (≤ 1e-10, float64 rounding over ≤ 20 steps), the state sits at level
// N−F, a guided pass included; F outside [0, N) is refused naming the flag.
func TestInvertPartial(t *testing.T) {
	p := mixture(t, Fixed{Cond: []float64{0.1, 0.8, 0.1}, Uncond: []float64{0.5, 0.3, 0.2}, W: 3})
	x0 := Noise(4, p.Size(5))
	for _, name := range []string{"belm", "bdia", "edict"} {
		s, err := p.Sampler(name, belm.DefaultSamplerOptions, false)
		if err != nil {
			t.Fatal(err)
		}
		st, err := p.InvertPartial(s, 20, 5, x0, 5)
		if err != nil {
			t.Fatal(err)
		}
		if st.Level != 15 {
			t.Errorf("%s: state at level %d, want 15", name, st.Level)
		}
		// The partial inversion is the full one stopped at level 15 (the same grid).
		var at15 []float64
		p.Runner.Observer = func(si belm.StepInfo) {
			if si.Dir == belm.Inversion && si.To == 15 {
				at15, _ = belm.Values(si.Latent)
			}
		}
		if _, err := p.Invert(s, 20, x0, 5); err != nil {
			t.Fatal(err)
		}
		p.Runner.Observer = nil
		x15, _ := belm.Values(st.X())
		if d := belm.Compare(x15, at15, 1).MaxAbs; at15 == nil || d != 0 {
			t.Errorf("%s: the partial state differs from the full inversion's level 15 by %.2e", name, d)
		}
		back, err := p.SampleFrom(s, 20, st)
		if err != nil {
			t.Fatal(err)
		}
		if e := belm.Compare(back, x0, 1).MaxAbs; e > 1e-10 {
			t.Errorf("%s: partial round trip (F = 5 of 20) %.2e > 1e-10", name, e)
		}
	}
	s, _ := p.Sampler("belm", belm.DefaultSamplerOptions, false)
	for _, f := range []int{-1, 20} {
		if _, err := p.InvertPartial(s, 20, f, x0, 5); err == nil || !strings.Contains(err.Error(), "--freeze_step") {
			t.Errorf("freeze %d: %v", f, err)
		}
	}
}
