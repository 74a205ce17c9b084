package belm

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// EDICT is Exact Diffusion Inversion via Coupled Transformations (paper Eq. 9, App. A.1)
// with mixing parameter p. The state is a pair (x, y); with a_i = α_{i−1}/α_i and
// b_i = σ_{i−1} − a_i σ_i (the DDIM map i → i−1) and both network calls at t_i, a sampling
// step i → i−1 is
//
//	x' = a_i x_i + b_i ε_θ(y_i, t_i),   y' = a_i y_i + b_i ε_θ(x', t_i),
//	x_{i−1} = p x' + (1−p) y',          y_{i−1} = p y' + (1−p) x_{i−1},
//
// and its exact inverse, run in the reverse order, is the inversion step i−1 → i:
//
//	y' = (y_{i−1} − (1−p) x_{i−1})/p,   x' = (x_{i−1} − (1−p) y')/p,
//	y_i = (y' − b_i ε_θ(x', t_i))/a_i,  x_i = (x' − b_i ε_θ(y_i, t_i))/a_i.
//
// Sampling from noise starts with x_N = y_N; inversion starts from x_0 = y_0 and returns both
// chains (x_N, y_N), which exact reconstruction needs. The output image is x_0. p ≤ 0.9
// diverges (paper App. D.1); the code's default is 0.93, the paper's Table 3 uses 0.97.
// State: two latents; NFE: 2 per step. LTE O(√α_{i−1} h_i) (order 0). It ends at the grid's
// level 0, the reference's clean endpoint α = 1, σ = 0 (not diffusers' ᾱ₀: see DDIM.Final).
type EDICT struct{ P float64 }

// NewEDICT returns EDICT with mixing parameter p ∈ (0, 1].
func NewEDICT(p float64) (EDICT, error) {
	if !(p > 0 && p <= 1) {
		return EDICT{}, fmt.Errorf("edict_p must be in (0, 1], got %g (EDICT's default is 0.93)", p)
	}
	return EDICT{P: p}, nil
}

// edictEntry is EDICT's registry entry. Its LTE on the Gaussian, one step from x = y exact,
// is O(h²): x' is the DDIM step, and the p-mixing adds (1−p)·b_i·(ε(x') − ε(x)) with
// x' − x = O(h) and b_i = O(h); the O(√α h) of Corollary 1 bounds chains already apart.
// Globally EDICT converges with order 1 on the Gaussian's power grids (measured 0.99–1.01 for
// N = 320…1280, ρ = 1…3; below N ≈ 160 its error falls faster, like N^−1.5 to N^−2), above
// the order 0 of Prop. 6, whose bound Remark 3 calls possibly loose.
var edictEntry = SamplerInfo{Name: NameEDICT, Label: "EDICT", Color: "#0072B2", // blue
	NFEPerStep: 2, Exact: true, LTESlope: 2, GlobalOrder: 1,
	New: func(o SamplerOptions) (Sampler, error) { return NewEDICT(o.EDICTP) }}

func (EDICT) Name() string                 { return edictEntry.Name }
func (EDICT) NFEPerStep() int              { return edictEntry.NFEPerStep }
func (EDICT) Window() int                  { return 1 }
func (EDICT) Validate(dir Direction) error { return nil }

// Coefficients returns (a_i, b_i) of the step between levels i−1 and i.
func (EDICT) Coefficients(g *Grid, i int) (a, b float64) { return ddimMap(g.Levels[i], g.Levels[i-1]) }

// stepCoefficients reports a_i, b_i and p of the step between levels from and to.
func (e EDICT) stepCoefficients(g *Grid, from, to int) ([]string, []float64) {
	a, b := e.Coefficients(g, max(from, to))
	return []string{"a", "b", "p"}, []float64{a, b, e.P}
}

// EDICT steps its pair (x, y) itself: one graph per direction, whatever p (a parameter).
func (EDICT) ownSteps(Direction) bool { return true }

func (e EDICT) stepGraph(dir Direction) (string, stepGraph) {
	return "edict/" + dir.String(), func(env stepEnv, in []*Node) ([]*Node, []*Node) {
		p := env.Param
		xn, yn := e.step(dir, env.Eps, in[0], in[1], p(pHead), p(pHead+1), p(pHead+2))
		return []*Node{xn, yn}, nil
	}
}

// stepParams: the step between levels i−1 and i uses a_i, b_i and ε at t_i in both directions.
func (e EDICT) stepParams(g *Grid, from, to int, _ Direction) (Level, []float64) {
	i := max(from, to)
	a, b := e.Coefficients(g, i)
	return g.Net[i], []float64{a, b, e.P}
}

// startLatents is the pair (x, y) of a state, or (x, x) from a single latent.
func (EDICT) startLatents(ls []*tensors.Tensor) []*tensors.Tensor {
	if len(ls) > 1 {
		return ls[:2]
	}
	return []*tensors.Tensor{ls[0], ls[0]}
}

// step builds one EDICT step in the graph; eps evaluates ε_θ at the step's network time t_i.
func (e EDICT) step(dir Direction, eps func(*Node) *Node, x, y, a, b, p *Node) (*Node, *Node) {
	q := OneMinus(p)
	if dir == Sampling {
		xi := Add(Mul(a, x), Mul(b, eps(y)))
		yi := Add(Mul(a, y), Mul(b, eps(xi)))
		xn := Add(Mul(p, xi), Mul(q, yi))
		yn := Add(Mul(p, yi), Mul(q, xn))
		return xn, yn
	}
	yi := Div(Sub(y, Mul(q, x)), p)
	xi := Div(Sub(x, Mul(q, yi)), p)
	yn := Div(Sub(yi, Mul(b, eps(xi))), a)
	xn := Div(Sub(xi, Mul(b, eps(yn))), a)
	return xn, yn
}
