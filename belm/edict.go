package belm

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
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
// State: two latents; NFE: 2 per step. LTE O(√α_{i−1} h_i) (order 0).
type EDICT struct{ P float64 }

// NewEDICT returns EDICT with mixing parameter p ∈ (0, 1].
func NewEDICT(p float64) (EDICT, error) {
	if !(p > 0 && p <= 1) {
		return EDICT{}, fmt.Errorf("edict_p must be in (0, 1], got %g (EDICT's default is 0.93)", p)
	}
	return EDICT{P: p}, nil
}

func (EDICT) Name() string                 { return NameEDICT }
func (EDICT) NFEPerStep() int              { return 2 }
func (EDICT) Window() int                  { return 1 }
func (EDICT) Validate(dir Direction) error { return nil }

// Coefficients returns (a_i, b_i) of the step between levels i−1 and i.
func (EDICT) Coefficients(g *Grid, i int) (a, b float64) { return ddimMap(g.Levels[i], g.Levels[i-1]) }

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
