package belm_test

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
	"github.com/belmlab/workbench/belm/backends"
)

// float32 round trips: O-BELM ≤ 1e-5 of the data scale (spec §7.2 measured 1e-6…1e-5: float32
// rounding amplified by the inversion's parasitic mode); EDICT and BDIA(0.96) alike.
func TestRoundTripFloat32(t *testing.T) {
	m := gaussian(t)
	x0 := m.Sample(belm.Normal(3, 8*dim))
	r := runner(t, m, dtypes.Float32)
	for _, cfg := range []belm.SchedulerConfig{belm.SDConfig, belm.DDPMConfig} {
		for _, g := range grids(t, cfg, 10, 20, 50, 100) {
			for _, name := range []string{"belm", "edict", "bdia"} {
				s, _ := belm.ParseSampler(name, belm.DefaultSamplerOptions)
				e := roundTrip(t, r, s, g, x0)
				t.Logf("%s N=%3d %-5s float32 max %.2e", cfg.BetaSchedule, g.N(), name, e.MaxAbs)
				// O-BELM is the claim (≤ 1e-5); EDICT's 1/p and 1/a_i divisions amplify float32
				// rounding more on the DDPM grid at small N (measured up to 1.6e-4).
				if tol := map[string]float64{"belm": 1e-5, "bdia": 1e-5, "edict": 1e-3}[name]; e.MaxAbs > tol {
					t.Errorf("%s N=%d %s float32: round-trip error %.2e > %.0e", cfg.BetaSchedule, g.N(), name, e.MaxAbs, tol)
				}
			}
		}
	}
}

// One step graph per window size, reused for every step, every N and both directions.
func TestNoRecompilation(t *testing.T) {
	m := gaussian(t)
	x0 := m.Sample(belm.Normal(4, 8*dim))
	for _, tc := range []struct {
		sampler string
		want    int
	}{{"belm", 1}, {"bdia", 1}, {"ddim", 1}, {"belm3", 2}, {"edict", 2}} { // belm3: + the ε graph
		r := runner(t, m, dtypes.Float64)
		s, _ := belm.ParseSampler(tc.sampler, belm.DefaultSamplerOptions)
		for _, g := range grids(t, belm.SDConfig, 10, 50, 20) {
			roundTrip(t, r, s, g, x0)
		}
		if got := r.Compilations(); got != tc.want {
			t.Errorf("%s: %d graph compilations over 3 round trips, want %d", tc.sampler, got, tc.want)
		}
		// Inversion: N steps; sampling from the inverted state: N − (Window−1) steps, plus the
		// Window−2 kept ε values recomputed (k-step BELM, k ≥ 3).
		want := 0
		for _, n := range []int{10, 50, 20} {
			want += s.NFEPerStep() * (n + n - (s.Window() - 1) + max(0, s.Window()-2))
		}
		if r.NFE() != want {
			t.Errorf("%s: NFE %d, want %d", tc.sampler, r.NFE(), want)
		}
	}
}

// ReleaseGraphs frees the step graphs: the next pass compiles again and computes the same.
func TestReleaseGraphs(t *testing.T) {
	m := gaussian(t)
	x0 := m.Sample(belm.Normal(4, 8*dim))
	r := runner(t, m, dtypes.Float64)
	s, _ := belm.ParseSampler("belm", belm.DefaultSamplerOptions)
	g := grids(t, belm.SDConfig, 10)[0]
	before := roundTrip(t, r, s, g, x0)
	r.ReleaseGraphs()
	after := roundTrip(t, r, s, g, x0)
	if got := r.Compilations(); got != 2 {
		t.Errorf("%d compilations over two round trips with a release between, want 2", got)
	}
	if before.MaxAbs != after.MaxAbs {
		t.Errorf("round trip error %g before the release, %g after", before.MaxAbs, after.MaxAbs)
	}
}

// Partial inversion (freeze_step F, spec §2.7): invert to level N−F, sample back from there.
func TestPartialInversion(t *testing.T) {
	m := gmm(t)
	x0 := m.Sample(belm.Uniform(5, 8), belm.Normal(5, 8*dim))
	r := runner(t, m, dtypes.Float64)
	g := grids(t, belm.SDConfig, 50)[0]
	for _, name := range []string{"belm", "bdia", "edict"} {
		s, _ := belm.ParseSampler(name, belm.DefaultSamplerOptions)
		st, err := r.Invert(s, g, tensorOf(t, x0, dtypes.Float64), 40)
		if err != nil {
			t.Fatal(err)
		}
		if st.Level != 40 || len(st.Latents) != 2 {
			t.Fatalf("%s: inverted state at level %d with %d latents", name, st.Level, len(st.Latents))
		}
		x, err := r.Sample(s, g, st)
		if err != nil {
			t.Fatal(err)
		}
		if e := belm.Compare(values(t, x), x0, 0); e.MaxAbs > 1e-10 {
			t.Errorf("%s: partial round trip %.2e", name, e.MaxAbs)
		}
	}
}

// Classifier-free guidance with the class-conditional mixture: the guided ε is
// ε_u + w(ε_c − ε_u), applied identically in both directions, so the round trip stays exact.
func TestGuidanceRoundTrip(t *testing.T) {
	m := gmm(t)
	x0 := m.Sample(belm.Uniform(6, 8), belm.Normal(6, 8*dim))
	cond, uncond := classConditioning(m)
	g := grids(t, belm.SDConfig, 20)[0]
	plain := runner(t, m, dtypes.Float64)
	guided := runner(t, m, dtypes.Float64)
	if err := guided.SetConditioning(cond, uncond, 3); err != nil {
		t.Fatal(err)
	}
	noise := tensorOf(t, belm.Normal(7, 8*dim), dtypes.Float64)
	a, _ := plain.Sample(belm.OBELM{}, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{noise}})
	b, _ := guided.Sample(belm.OBELM{}, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{noise}})
	if e := belm.Compare(values(t, a), values(t, b), 0); e.MaxAbs < 1e-2 {
		t.Errorf("guidance w=3 changed the sample by only %.2e", e.MaxAbs)
	}
	if e := roundTrip(t, guided, belm.OBELM{}, g, x0); e.MaxAbs > 1e-10 {
		t.Errorf("guided O-BELM round trip %.2e", e.MaxAbs)
	}
	// w ≤ 1 turns CFG off: ε = ε(x, cond), as the reference scripts do.
	condOnly := runner(t, m, dtypes.Float64)
	_ = condOnly.SetConditioning(cond, nil, 1)
	w1 := runner(t, m, dtypes.Float64)
	_ = w1.SetConditioning(cond, uncond, 1)
	c1, _ := condOnly.Sample(belm.OBELM{}, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{noise}})
	c2, _ := w1.Sample(belm.OBELM{}, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{noise}})
	if e := belm.Compare(values(t, c1), values(t, c2), 0); e.MaxAbs != 0 {
		t.Errorf("w=1 differs from the conditional model: %.2e", e.MaxAbs)
	}
	bad, _ := belm.NewTensor(make([]float64, 4*3), dtypes.Float64, 4, 3)
	_ = condOnly.SetConditioning(bad, nil, 1)
	if _, err := condOnly.Sample(belm.OBELM{}, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{noise}}); err == nil || !strings.Contains(err.Error(), "batch") {
		t.Errorf("conditioning batch mismatch: %v", err)
	}
}

// classConditioning is the mixture's conditioning for a batch of 8: item b conditioned on
// class b mod 3 (a one-hot row of weights), unconditioned on the mixture's own weights.
func classConditioning(m *analytic.GMM) (cond, uncond *tensors.Tensor) {
	condV := make([]float64, 8*3)
	uncondV := make([]float64, 8*3)
	for b := 0; b < 8; b++ {
		condV[b*3+b%3] = 1
		copy(uncondV[b*3:], m.Weights)
	}
	cond, _ = belm.NewTensor(condV, dtypes.Float64, 8, 3)
	uncond, _ = belm.NewTensor(uncondV, dtypes.Float64, 8, 3)
	return cond, uncond
}

// EpsFromPrediction against numbers worked out by hand from the definitions alone,
// x_t = α x₀ + σ ε and v = α ε − σ x₀ (diffusers' prediction types), not from the formulas
// the code inverts: at α = 0.6, σ = 0.8 (α² + σ² = 1), x₀ = 0.5 and ε = 0.875 give
// x_t = 0.3 + 0.7 = 1 and v = 0.525 − 0.4 = 0.125; at α = 0.28, σ = 0.96, x₀ = −1 and ε = 2
// give x_t = −0.28 + 1.92 = 1.64 and v = 0.56 + 0.96 = 1.52. So ε must come back from
// (v, x_t) and from (x̂₀ = x₀, x_t); diffusers' own forms of the same, x̂₀ = α x_t − σ v and
// ε = α v + σ x_t, agree (0.6 − 0.1 = 0.5; 0.4592 − 1.4592 = −1). Tolerance 1e-15: the
// decimals are not exact in binary.
func TestEpsFromPredictionKnownAnswers(t *testing.T) {
	b, err := backends.New("go")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alpha, sigma, xt, x0, v, eps float64
	}{
		{0.6, 0.8, 1, 0.5, 0.125, 0.875},
		{0.28, 0.96, 1.64, -1, 1.52, 2},
	} {
		for pt, out := range map[string]float64{"epsilon": tc.eps, "v_prediction": tc.v, "sample": tc.x0} {
			res, err := ExecOnce(b, func(x, o *Node) *Node {
				g := x.Graph()
				tm := belm.Time{T: Scalar(g, dtypes.Float64, 0), Alpha: Scalar(g, dtypes.Float64, tc.alpha), Sigma: Scalar(g, dtypes.Float64, tc.sigma)}
				return belm.EpsFromPrediction(pt, o, x, tm)
			}, []float64{tc.xt}, []float64{out})
			if err != nil {
				t.Fatal(err)
			}
			if got := values(t, res)[0]; math.Abs(got-tc.eps) > 1e-15 {
				t.Errorf("α=%g %s: ε = %.17g, want %g", tc.alpha, pt, got, tc.eps)
			}
		}
	}
	if err := belm.ValidatePrediction("x0"); err == nil {
		t.Error(`prediction type "x0": no error`)
	}
}

// v_prediction and sample models are converted to ε: the trajectories match the ε model's.
// (The Gaussian's v and x̂₀ outputs are the inverses of the runner's conversions, so this
// checks the plumbing; TestEpsFromPredictionKnownAnswers and the diffusers v_prediction
// golden loops check the formulas.)
func TestPredictionTypes(t *testing.T) {
	g := grids(t, belm.SDConfig, 10)[0]
	noise := tensorOf(t, belm.Normal(8, 8*dim), dtypes.Float64)
	ref, err := runner(t, gaussian(t), dtypes.Float64).Sample(belm.OBELM{}, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{noise}})
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range []string{"v_prediction", "sample"} {
		m := gaussian(t)
		m.Prediction = pt
		x, err := runner(t, m, dtypes.Float64).Sample(belm.OBELM{}, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{noise}})
		if err != nil {
			t.Fatal(err)
		}
		if e := belm.Compare(values(t, x), values(t, ref), 0); e.MaxAbs > 1e-12 {
			t.Errorf("%s: differs from the ε model by %.2e", pt, e.MaxAbs)
		}
	}
}

// k-step BELM is exact in exact arithmetic, but for k ≥ 3 it is not zero-stable (spec
// §2.10): roundoff grows by a factor ~10–50 per step. On a short grid the round trip is
// still at machine precision; on a 10-step grid the growth is plain to see.
func TestKStepBELM(t *testing.T) {
	m := gaussian(t)
	x0 := m.Sample(belm.Normal(9, 8*dim))
	r := runner(t, m, dtypes.Float64)
	short, _ := belm.PowerGrid(10, 4, 2)
	long := grids(t, belm.SDConfig, 10)[0]
	for k := 2; k <= 4; k++ {
		s, _ := belm.NewBELM(k)
		st, err := r.Invert(s, short, tensorOf(t, x0, dtypes.Float64), short.N())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Latents) != k {
			t.Errorf("k=%d: inverted state has %d latents", k, len(st.Latents))
		}
		x, err := r.Sample(s, short, st)
		if err != nil {
			t.Fatal(err)
		}
		eShort := belm.Compare(values(t, x), x0, 0)
		eLong := roundTrip(t, r, s, long, x0)
		t.Logf("belm%d round trip: N=4 %.2e, N=10 %.2e", k, eShort.MaxAbs, eLong.MaxAbs)
		if eShort.MaxAbs > 1e-10 {
			t.Errorf("belm%d N=4 round trip %.2e > 1e-10", k, eShort.MaxAbs)
		}
		if k == 2 && eLong.MaxAbs > 1e-10 {
			t.Errorf("belm2 N=10 round trip %.2e > 1e-10", eLong.MaxAbs)
		}
		if k >= 3 && eLong.MaxAbs < 1e-6 {
			t.Errorf("belm%d N=10 round trip %.2e: the k ≥ 3 instability should show", k, eLong.MaxAbs)
		}
	}
	// k=2 general BELM is O-BELM.
	a, _ := r.Sample(belm.BELM{K: 2}, long, belm.State{Level: long.N(), Latents: []*tensors.Tensor{tensorOf(t, belm.Normal(10, 8*dim), dtypes.Float64)}})
	b, _ := r.Sample(belm.OBELM{}, long, belm.State{Level: long.N(), Latents: []*tensors.Tensor{tensorOf(t, belm.Normal(10, 8*dim), dtypes.Float64)}})
	if e := belm.Compare(values(t, a), values(t, b), 0); e.MaxAbs > 1e-12 {
		t.Errorf("belm2 vs O-BELM samples differ by %.2e", e.MaxAbs)
	}
}

// nanModel returns NaN wherever x > 2 (so some steps succeed first).
type nanModel struct{}

func (nanModel) Eps(_ *model.Scope, x *Node, tm belm.Time, _ *Node) *Node {
	return Div(Mul(x, tm.Sigma), Sub(ScalarOne(x.Graph(), x.DType()), OnesLike(x)))
}

func TestBadInput(t *testing.T) {
	g := grids(t, belm.SDConfig, 10)[0]
	x := tensorOf(t, belm.Normal(11, 8*dim), dtypes.Float64)
	// A model returning NaN.
	if _, err := runner(t, nanModel{}, dtypes.Float64).Sample(belm.OBELM{}, g, belm.State{Level: 10, Latents: []*tensors.Tensor{x}}); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN model: %v", err)
	}
	r := runner(t, gaussian(t), dtypes.Float64)
	// Latents of the wrong shape for the model.
	wrong, _ := belm.NewTensor(make([]float64, 8*5), dtypes.Float64, 8, 5)
	if _, err := r.Sample(belm.OBELM{}, g, belm.State{Level: 10, Latents: []*tensors.Tensor{wrong}}); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Errorf("wrong shape: %v", err)
	}
	// Mismatched latent shapes within a state, and a dtype mismatch.
	if _, err := r.Sample(belm.OBELM{}, g, belm.State{Level: 10, Latents: []*tensors.Tensor{x, wrong}}); err == nil {
		t.Error("mismatched latents: no error")
	}
	x32 := tensorOf(t, belm.Normal(11, 8*dim), dtypes.Float32)
	if _, err := r.Sample(belm.OBELM{}, g, belm.State{Level: 10, Latents: []*tensors.Tensor{x32}}); err == nil || !strings.Contains(err.Error(), "dtype") {
		t.Errorf("dtype mismatch: %v", err)
	}
	// BDIA γ=0 inversion, and BDIA γ=0.1 whose inversion overflows (spec §7.2).
	if _, err := r.Invert(belm.BDIA{Gamma: 0}, g, x, 10); err == nil || !strings.Contains(err.Error(), "γ") {
		t.Errorf("BDIA γ=0 inversion: %v", err)
	}
	g200 := grids(t, belm.SDConfig, 200)[0]
	if _, err := r.Invert(belm.BDIA{Gamma: 0.001}, g200, x, 200); err == nil || !strings.Contains(err.Error(), "overflow") {
		t.Errorf("BDIA γ=0.001 N=200 inversion: %v", err)
	}
	// Levels outside the grid; an unsupported dtype; an uncompiled backend.
	if _, err := r.Run(belm.OBELM{}, g, belm.State{Level: 11, Latents: []*tensors.Tensor{x}}, 0); err == nil {
		t.Error("level 11 of a 10-step grid: no error")
	}
	if _, err := belm.NewRunner(gaussian(t), "go", dtypes.Int32); err == nil {
		t.Error("int32 runner: no error")
	}
	if _, err := belm.NewRunner(gaussian(t), "nosuch", dtypes.Float32); err == nil || !strings.Contains(err.Error(), "not compiled") {
		t.Errorf("unknown backend: %v", err)
	}
	if _, err := belm.NewRunner(gaussian(t), "onnx", dtypes.Float64); err == nil || !strings.Contains(err.Error(), "float64") {
		t.Errorf("float64 on onnx: %v", err)
	}
}
