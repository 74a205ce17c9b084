package belm_test

import (
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
)

// TestConformance runs every registered sampler (belm.Samplers: belm3 stands for k-step
// BELM) through the same checks, against what its registry entry claims:
//
//   - the entry is consistent with the sampler it builds (name, aliases, NFE, colour);
//   - the round trip on the analytic Gaussian: exact samplers ≤ 1e-10 of the data scale in
//     float64, inexact ones (DDIM) ≥ 1e-4 at N = 10;
//   - the LTE slope and the global order on the Gaussian, ±0.25 of the entry's;
//   - the coefficients: each full step's relation is exact on polynomials in σ̄ up to
//     the degree its LTE slope implies and not beyond, and the inversion solves the sampling
//     relation (exact samplers) or a different one (DDIM);
//   - classifier-free guidance, in both orders of cond and uncond: still exact;
//   - float32 samples agree with float64 ones.
//
// Samplers that are not zero-stable (k ≥ 3 BELM: no global order in their entry) blow
// roundoff up by ~10× per step, so their round trips use a 4-step grid.
func TestConformance(t *testing.T) {
	for _, info := range belm.Samplers() {
		t.Run(info.Name, func(t *testing.T) {
			s, err := info.New(belm.DefaultSamplerOptions)
			if err != nil {
				t.Fatal(err)
			}
			checkEntry(t, info, s)
			checkRoundTrips(t, info, s)
			checkOrders(t, info, s)
			checkRelations(t, info, s)
			checkGuidance(t, info, s)
			checkFloat32(t, info, s)
		})
	}
}

// roundTripGrids are the grids a sampler's round trips run on: the paper's SD (N=10, 50)
// and DDPM (N=20) grids, or a 4-step power grid for samplers that are not zero-stable.
func roundTripGrids(t *testing.T, info belm.SamplerInfo) []*belm.Grid {
	if info.GlobalOrder == 0 {
		g, err := belm.PowerGrid(10, 4, 2)
		if err != nil {
			t.Fatal(err)
		}
		return []*belm.Grid{g}
	}
	return append(grids(t, belm.SDConfig, 10, 50), grids(t, belm.DDPMConfig, 20)...)
}

var hexColour = regexp.MustCompile(`^(#[0-9A-F]{6})?$`)

// checkEntry: the entry names the sampler it builds, every alias finds it, its NFE is the
// sampler's (and a sampling pass from noise costs N·NFE), and its colour is "#RRGGBB" or "".
func checkEntry(t *testing.T, info belm.SamplerInfo, s belm.Sampler) {
	if s.Name() != info.Name || s.NFEPerStep() != info.NFEPerStep || info.Label == "" || !hexColour.MatchString(info.Color) {
		t.Errorf("entry %+v builds %s with %d NFE per step", info, s.Name(), s.NFEPerStep())
	}
	for _, n := range append([]string{info.Name, strings.ToUpper(info.Name), " " + info.Label + " "}, info.Aliases...) {
		if got, ok := belm.LookupSampler(n); !ok || got.Name != info.Name {
			t.Errorf("LookupSampler(%q) = %q, %v; want %s", n, got.Name, ok, info.Name)
		}
	}
	m := gaussian(t)
	r := runner(t, m, dtypes.Float64)
	g := roundTripGrids(t, info)[0]
	if _, err := r.Sample(s, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{tensorOf(t, belm.Normal(40, 8*dim), dtypes.Float64)}}); err != nil {
		t.Fatal(err)
	}
	if r.NFE() != info.NFEPerStep*g.N() {
		t.Errorf("a %d-step sampling pass from noise cost %d NFE, want %d", g.N(), r.NFE(), info.NFEPerStep*g.N())
	}
}

// checkRoundTrips: exact samplers reconstruct x₀ to ≤ 1e-10 of the data scale in float64
// (roundoff, amplified by the inversion's parasitic mode, TestRoundTripFloat64); DDIM's
// reconstruction error is its O(h) inexactness, ≥ 1e-4 at N = 10.
func checkRoundTrips(t *testing.T, info belm.SamplerInfo, s belm.Sampler) {
	m := gaussian(t)
	r := runner(t, m, dtypes.Float64)
	x0 := m.Sample(belm.Normal(41, 8*dim))
	for _, g := range roundTripGrids(t, info) {
		e := roundTrip(t, r, s, g, x0)
		t.Logf("round trip N=%d: %.2e", g.N(), e.MaxAbs)
		switch {
		case info.Exact && e.MaxAbs > 1e-10:
			t.Errorf("N=%d: round-trip error %.2e > 1e-10 for an exact sampler", g.N(), e.MaxAbs)
		case !info.Exact && g.N() == 10 && e.MaxAbs < 1e-4:
			t.Errorf("N=10: round-trip error %.2e < 1e-4 for a sampler the registry calls inexact", e.MaxAbs)
		}
	}
}

// checkOrders: the LTE slope (one step from exact latents at σ̄* = 0.5, h from 0.002 to
// 0.05, steps growing by 1.3 toward the noise, as TestLTEOrders) and the global order (power
// grids σ̄max = 10, ρ = 2, as TestGlobalOrders but N = 640…5120, where every sampler is in its
// asymptotic regime: BDIA's error changes sign near N = 160 and EDICT's falls faster than
// order 1 below it) are the entry's within ±0.25, which holds once the leading error term
// dominates (measured: BDIA 0.94, the furthest). k ≥ 3 BELM has no global order to check.
func checkOrders(t *testing.T, info belm.SamplerInfo, s belm.Sampler) {
	m := gaussian(t)
	r := runner(t, m, dtypes.Float64)
	xbar := m.Transport(m.Sample(belm.Normal(22, 8*dim)), 0, 0.5)
	pts, err := r.LTEStudy(s, gaussianFlow(t), xbar, shape, 0.5, 1.3, belm.GeometricRange(0.002, 0.05, 8))
	if err != nil {
		t.Fatal(err)
	}
	slope := belm.Slope(pts)
	t.Logf("LTE slope %.3f (registry %g)", slope, info.LTESlope)
	if math.Abs(slope-info.LTESlope) > 0.25 {
		t.Errorf("LTE slope %.3f, registry says %g ± 0.25", slope, info.LTESlope)
	}
	if info.GlobalOrder == 0 {
		return
	}
	pts, err = r.GlobalStudy(s, gaussianFlow(t), m.Sample(belm.Normal(23, 8*dim)), shape, 10, 2, []int{640, 1280, 2560, 5120})
	if err != nil {
		t.Fatal(err)
	}
	order := -belm.Slope(pts)
	t.Logf("global order %.3f (registry %g)", order, info.GlobalOrder)
	if math.Abs(order-info.GlobalOrder) > 0.25 {
		t.Errorf("global order %.3f, registry says %g ± 0.25", order, info.GlobalOrder)
	}
}

// checkRelations: for Multistep samplers, every full-window sampling relation on the SD
// 10-step grid (σ̄ up to 14.6, the last step to σ̄ = 0) annihilates x̄ = σ̄^m, ε = m σ̄^{m−1}
// for m < LTESlope (the order conditions: relative residual ≤ 1e-12, a few roundoffs of the
// terms; measured ≤ 1.5e-16) and not for m = LTESlope (relative residual ≥ 1e-6; measured
// ≥ 1.5e-3): the coefficients have exactly the order the registry claims. An exact sampler's inversion relation is the
// sampling relation (proportional coefficients: Prop. 2); DDIM's is another. EDICT's a_i, b_i
// are DDIM's map.
func checkRelations(t *testing.T, info belm.SamplerInfo, s belm.Sampler) {
	g := grids(t, belm.SDConfig, 10)[0]
	ms, ok := s.(belm.Multistep)
	if !ok {
		rows, err := belm.CoefficientTable(s, g)
		if err != nil {
			t.Fatal(err)
		}
		ddim, _ := belm.CoefficientTable(belm.DDIM{}, g)
		for i, row := range rows[:g.N()] {
			a, b := row.Coef["a"], row.Coef["b"]
			if !near(a, ddim[i].Coef["x_i"], 1e-15) || !near(b, ddim[i].Coef["eps_i"], 1e-15) {
				t.Errorf("sampling step %d: (a, b) = (%g, %g), DDIM's map (%g, %g)", i, a, b, ddim[i].Coef["x_i"], ddim[i].Coef["eps_i"])
			}
		}
		return
	}
	W, p := s.Window(), int(info.LTESlope)
	worst, least := 0.0, math.Inf(1) // the largest residual for m < p, the smallest for m = p
	for lo := 0; lo+W <= g.N(); lo++ {
		rel := ms.Relation(g, lo, W, belm.Sampling)
		for m := 0; m <= p; m++ {
			res := polynomialResidual(g, rel, m)
			if m < p {
				worst = math.Max(worst, res)
			} else {
				least = math.Min(least, res)
			}
			if m < p && res > 1e-12 || m == p && res < 1e-6 {
				t.Errorf("levels %d…%d, x̄ = σ̄^%d: relative residual %.2e (LTE slope %g)", lo, lo+W, m, res, info.LTESlope)
			}
		}
		inv := ms.Relation(g, lo, W, belm.Inversion)
		if same := proportional(rel, inv); same != info.Exact {
			t.Errorf("levels %d…%d: inversion relation is the sampling one: %v, but the registry says exact: %v", lo, lo+W, same, info.Exact)
		}
	}
	t.Logf("order conditions: residual ≤ %.1e for σ̄^0 … σ̄^%d, ≥ %.1e for σ̄^%d", worst, p-1, least, p)
}

// polynomialResidual is |Σ_j X_j α_j σ̄_j^m + m Σ_j E_j σ̄_j^{m−1}| / Σ |terms|: the relation
// applied to the exact solution x̄ = σ̄^m of dx̄/dσ̄ = ε with ε = m σ̄^{m−1} (x = α x̄).
func polynomialResidual(g *belm.Grid, r belm.Relation, m int) float64 {
	var sum, abs float64
	for j := range r.X {
		l := g.Levels[r.Lo+j]
		terms := []float64{r.X[j] * l.Alpha * math.Pow(l.SigmaBar(), float64(m))}
		if m > 0 {
			terms = append(terms, float64(m)*r.E[j]*math.Pow(l.SigmaBar(), float64(m-1)))
		}
		for _, v := range terms {
			sum, abs = sum+v, abs+math.Abs(v)
		}
	}
	return math.Abs(sum) / abs
}

// proportional reports whether two relations over the same levels are multiples of each
// other (to 1e-12 relative).
func proportional(a, b belm.Relation) bool {
	if a.Lo != b.Lo || len(a.X) != len(b.X) {
		return false
	}
	ratio := b.X[len(b.X)-1] / a.X[len(a.X)-1]
	for j := range a.X {
		if !near(b.X[j], ratio*a.X[j], 1e-12) || !near(b.E[j], ratio*a.E[j], 1e-12) {
			return false
		}
	}
	return true
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// checkGuidance: with classifier-free guidance (w = 3) on the class-conditional mixture,
// applied identically in both directions, exact samplers stay exact (≤ 1e-10), with cond
// and uncond in either order (w > 1 extrapolates away from either).
func checkGuidance(t *testing.T, info belm.SamplerInfo, s belm.Sampler) {
	if !info.Exact {
		return
	}
	m := gmm(t)
	x0 := m.Sample(belm.Uniform(6, 8), belm.Normal(6, 8*dim))
	cond, uncond := classConditioning(m)
	g := roundTripGrids(t, info)[0]
	for _, pair := range [][2]*tensors.Tensor{{cond, uncond}, {uncond, cond}} {
		r := runner(t, m, dtypes.Float64)
		if err := r.SetConditioning(pair[0], pair[1], 3); err != nil {
			t.Fatal(err)
		}
		if e := roundTrip(t, r, s, g, x0); e.MaxAbs > 1e-10 {
			t.Errorf("guided round trip (cond first: %v) N=%d: %.2e > 1e-10", pair[0] == cond, g.N(), e.MaxAbs)
		}
	}
}

// checkFloat32: a float32 sampling pass from the same noise agrees with the float64 one to
// 1e-5 of the data scale: float32 rounding (6e-8) of a few operations per step, over 20
// steps, amplified by at most the sampler's growth of perturbations.
func checkFloat32(t *testing.T, info belm.SamplerInfo, s belm.Sampler) {
	m := gaussian(t)
	g := roundTripGrids(t, info)[0]
	if info.GlobalOrder != 0 {
		g = grids(t, belm.SDConfig, 20)[0]
	}
	noise := belm.Normal(42, 8*dim)
	var out [2][]float64
	for i, dt := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
		x, err := runner(t, m, dt).Sample(s, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{tensorOf(t, noise, dt)}})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = values(t, x)
	}
	e := belm.Compare(out[1], out[0], 0)
	t.Logf("float32 vs float64 sample N=%d: %.2e", g.N(), e.MaxAbs)
	if e.MaxAbs > 1e-5 {
		t.Errorf("float32 sample differs from float64 by %.2e > 1e-5 of the data scale", e.MaxAbs)
	}
}

// Every spelling the registry accepts (name, alias, label) names one sampler, and names and
// aliases are lower case, as LookupSampler compares them.
func TestRegistrySpellingsUnique(t *testing.T) {
	owner := map[string]string{}
	for _, info := range belm.Samplers() {
		for _, n := range append([]string{info.Name, strings.ToLower(info.Label)}, info.Aliases...) {
			if o, dup := owner[n]; dup && o != info.Name {
				t.Errorf("%q names both %s and %s", n, o, info.Name)
			}
			owner[n] = info.Name
		}
		for _, n := range append([]string{info.Name}, info.Aliases...) {
			if n != strings.ToLower(strings.TrimSpace(n)) {
				t.Errorf("%s: spelling %q is not lower case and trimmed", info.Name, n)
			}
		}
	}
}
