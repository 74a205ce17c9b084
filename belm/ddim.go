package belm

import . "github.com/gomlx/gomlx/core/graph"

// DDIM is the deterministic DDIM sampler (η = 0), explicit Euler on the PF-ODE dx̄ = ε̄ dσ̄
// (paper Eq. 7):
//
//	x_{i−1} = (α_{i−1}/α_i)·x_i + (σ_{i−1} − α_{i−1}σ_i/α_i)·ε_θ(x_i, t_i),   i.e.  x̄_{i−1} = x̄_i − h_i ε̄_i.
//
// DDIM inversion (paper Eq. 8) runs the same map upward with ε taken at the less noisy state:
//
//	x_i = (α_i/α_{i−1})·x_{i−1} + (σ_i − α_iσ_{i−1}/α_{i−1})·ε_θ(x_{i−1}, t_{i−1}).
//
// The two are different relations (ε at x_i versus at x_{i−1}), so DDIM inversion is not
// exact: its reconstruction error is O(h) per step. At the clean endpoint ε_θ(x_0) is
// evaluated at network timestep 1, as the reference code does. State: one latent; NFE: 1.
//
// With Clip > 0 every step goes through the predicted clean sample, clipped as diffusers'
// clip_sample does (the CIFAR-10 / CelebA-HQ DDIM baseline, spec §4.1):
//
//	x̂₀ = clip((x_from − σ_from ε)/α_from, −Clip, Clip),   x_to = α_to x̂₀ + σ_to ε,
//
// which equals the linear map above whenever nothing is clipped.
type DDIM struct{ Clip float64 }

func (DDIM) Name() string { return NameDDIM }

// clippedStep builds the clipped DDIM step from (α_from, σ_from) to (α_to, σ_to).
func (DDIM) clippedStep(eps func(*Node) *Node, x, aFrom, sFrom, aTo, sTo, clip *Node) *Node {
	e := eps(x)
	x0 := Div(Sub(x, Mul(sFrom, e)), aFrom)
	x0 = Min(Max(x0, Neg(clip)), clip)
	return Add(Mul(aTo, x0), Mul(sTo, e))
}
func (DDIM) NFEPerStep() int              { return 1 }
func (DDIM) Window() int                  { return 1 }
func (DDIM) Validate(dir Direction) error { return nil }

// Relation ignores w (always 1).
func (DDIM) Relation(g *Grid, lo, w int, dir Direction) Relation {
	return ddimRelation(g, lo, dir)
}

// ddimRelation is the DDIM step between levels lo and lo+1: ε at the upper state when
// sampling, at the lower state when inverting. It is also the first step of BDIA and BELM.
func ddimRelation(g *Grid, lo int, dir Direction) Relation {
	from, to := g.Levels[lo+1], g.Levels[lo]
	if dir == Inversion {
		from, to = to, from
		a, c := ddimMap(from, to)
		return Relation{Lo: lo, X: []float64{-a, 1}, E: []float64{-c, 0}}
	}
	a, c := ddimMap(from, to)
	return explicitRelation(lo, []float64{a}, []float64{c})
}
