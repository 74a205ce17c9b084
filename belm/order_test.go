package belm_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
)

func gaussianFlow(t testing.TB) belm.Flow {
	m := gaussian(t)
	return func(xbar []float64, from, to float64) ([]float64, error) { return m.Transport(xbar, from, to), nil }
}

// The RK4 reference agrees with the Gaussian's closed-form flow to 1e-11, and converges on
// the mixture: 1000 → 2000 steps changes the result by < 1e-10 (measured 4.8e-11; RK4's error
// falls 16× per doubling, so 2000 steps are good to ~3e-12) — ground truth for the mixture.
func TestIntegrateAgainstClosedForm(t *testing.T) {
	m := gaussian(t)
	x0 := m.Sample(belm.Normal(20, 8*dim))
	r := runner(t, m, dtypes.Float64)
	want, _ := gaussianFlow(t)(x0, 0, 20)
	got, err := r.IntegrateFlow(shape, 2000)(x0, 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	if e := belm.Compare(got, want, 0); e.MaxAbs > 1e-11 {
		t.Errorf("RK4 vs closed form: %.2e", e.MaxAbs)
	}
	mix := gmm(t)
	rm := runner(t, mix, dtypes.Float64)
	xg := mix.Sample(belm.Uniform(21, 8), belm.Normal(21, 8*dim))
	a, _ := rm.IntegrateFlow(shape, 1000)(xg, 0, 20)
	b, _ := rm.IntegrateFlow(shape, 2000)(xg, 0, 20)
	if e := belm.Compare(a, b, 0); e.MaxAbs > 1e-10 {
		t.Errorf("mixture RK4 1000 vs 2000 steps: %.2e", e.MaxAbs)
	}
}

// LTE orders (spec §3, Prop. 3–4 and Corollary 1): slopes of log τ vs log h are DDIM 2,
// BDIA 2, O-BELM 3, and 5 for 3-step BELM (its 2k − 1 = 5 order conditions leave τ =
// O(h⁵), spec §2.10), within ±0.25 (the fit uses h from 0.002 to 0.05 at σ̄* = 0.5, where
// the leading term dominates: 3-step BELM's smallest τ, 6e-14, is still 600× the roundoff;
// steps grow by ρ = 1.3 toward the noise, like real grids).
func TestLTEOrders(t *testing.T) {
	m := gaussian(t)
	r := runner(t, m, dtypes.Float64)
	xbar := m.Transport(m.Sample(belm.Normal(22, 8*dim)), 0, 0.5)
	hs := belm.GeometricRange(0.002, 0.05, 8)
	for name, want := range map[string]float64{"ddim": 2, "bdia": 2, "belm": 3, "belm3": 5} {
		s, _ := belm.ParseSampler(name, belm.DefaultSamplerOptions)
		pts, err := r.LTEStudy(s, gaussianFlow(t), xbar, shape, 0.5, 1.3, hs)
		if err != nil {
			t.Fatal(err)
		}
		got := belm.Slope(pts)
		t.Logf("LTE %s slope %.3f (%v)", name, got, pts)
		if math.Abs(got-want) > 0.25 {
			t.Errorf("LTE slope of %s = %.3f, want %g ± 0.25", name, got, want)
		}
	}
}

// Global orders on power grids (ρ = 2, σ̄max = 10): DDIM 1 and O-BELM 2 (Props. 5–6), ±0.25.
// And on the paper's real SD grid O-BELM's global error is below DDIM's for N ≥ 20.
func TestGlobalOrders(t *testing.T) {
	m := gaussian(t)
	r := runner(t, m, dtypes.Float64)
	x0 := m.Sample(belm.Normal(23, 8*dim))
	ns := []int{20, 40, 80, 160}
	for name, want := range map[string]float64{"ddim": 1, "belm": 2} {
		s, _ := belm.ParseSampler(name, belm.DefaultSamplerOptions)
		pts, err := r.GlobalStudy(s, gaussianFlow(t), x0, shape, 10, 2, ns)
		if err != nil {
			t.Fatal(err)
		}
		got := -belm.Slope(pts)
		t.Logf("global %s order %.3f (%v)", name, got, pts)
		if math.Abs(got-want) > 0.25 {
			t.Errorf("global order of %s = %.3f, want %g ± 0.25", name, got, want)
		}
	}
	sched, _ := belm.NewSchedule(belm.SDConfig)
	for _, n := range []int{20, 50, 100} {
		g, _ := sched.Grid(n)
		errs := map[string]float64{}
		for _, name := range []string{"ddim", "belm"} {
			s, _ := belm.ParseSampler(name, belm.DefaultSamplerOptions)
			top := g.Levels[n]
			xbarN := m.Transport(x0, 0, top.SigmaBar())
			xN, _ := belm.NewTensor(scale(xbarN, top.Alpha), dtypes.Float64, shape...)
			out, err := r.Sample(s, g, belm.State{Level: n, Latents: []*tensors.Tensor{xN}})
			if err != nil {
				t.Fatal(err)
			}
			errs[name] = belm.Compare(values(t, out), x0, 0).RMS
		}
		t.Logf("SD grid N=%d: DDIM %.2e, O-BELM %.2e", n, errs["ddim"], errs["belm"])
		if errs["belm"] >= errs["ddim"] {
			t.Errorf("SD grid N=%d: O-BELM error %.2e not below DDIM's %.2e", n, errs["belm"], errs["ddim"])
		}
	}
}

func scale(v []float64, f float64) []float64 {
	out := make([]float64, len(v))
	for i := range v {
		out[i] = v[i] * f
	}
	return out
}

// A diverged point (3-step BELM at large N) encodes to JSON and back: non-finite errors as
// strings, finite ones as numbers, every value bit for bit.
func TestOrderPointJSON(t *testing.T) {
	pts := []belm.OrderPoint{{10, 0.125}, {320, math.Inf(1)}, {640, math.NaN()}, {1280, math.Inf(-1)}, {5, 1e-300}}
	b, err := json.Marshal(pts)
	if err != nil {
		t.Fatal(err)
	}
	if want := `[{"x":10,"error":0.125},{"x":320,"error":"+Inf"},{"x":640,"error":"NaN"},{"x":1280,"error":"-Inf"},{"x":5,"error":1e-300}]`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back []belm.OrderPoint
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for i, p := range pts {
		q := back[i]
		if q.X != p.X || math.Float64bits(q.Error) != math.Float64bits(p.Error) && !(math.IsNaN(p.Error) && math.IsNaN(q.Error)) {
			t.Errorf("point %d: %v back as %v", i, p, q)
		}
	}
	if err := json.Unmarshal([]byte(`{"x":1,"error":"big"}`), &back[0]); err == nil {
		t.Error(`error "big" accepted`)
	}
}
