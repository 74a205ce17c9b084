package belm

import (
	"fmt"
	"math"
)

// Relation is one linear multistep relation among consecutive levels Lo … Lo+len(X)−1 of a
// grid, in x-space:
//
//	Σ_j X[j]·x_{Lo+j} + Σ_j E[j]·ε_θ(x_{Lo+j}) = 0.
//
// Every sampler step here is such a relation solved for one of its states: sampling solves
// for the lowest level, inversion for the highest. A relation with no ε at its two ends
// (E[0] = E[last] = 0, the "bidirectional explicit" property of BELM, paper Eq. 13–14) can be
// solved explicitly in both directions, and the two solutions are exact inverses of each
// other for the same ε values (paper Prop. 2). DDIM's step has ε at its upper end, so it
// can only be solved downward; DDIM inversion is a different relation (ε at the lower end),
// which is why DDIM is not exactly invertible.
//
// Err, if set, says why the relation could not be built (k-step BELM's order conditions
// singular on the grid): Solve returns it.
type Relation struct {
	Lo  int
	X   []float64
	E   []float64
	Err error
}

// Hi is the highest level of the relation.
func (r Relation) Hi() int { return r.Lo + len(r.X) - 1 }

// Explicit is a relation solved for one level: x_To = Σ_j A[j]·x_{Lo+j} + Σ_j C[j]·ε_θ(x_{Lo+j}),
// where A[To−Lo] = C[To−Lo] = 0.
type Explicit struct {
	To int
	Lo int
	A  []float64
	C  []float64
}

// Solve solves the relation for the state at level `to`. It fails when that state does not
// appear (X = 0: e.g. BDIA with γ = 0 solved upward) or appears inside an ε (not explicit).
func (r Relation) Solve(to int) (Explicit, error) {
	if r.Err != nil {
		return Explicit{}, r.Err
	}
	j := to - r.Lo
	if j < 0 || j >= len(r.X) {
		return Explicit{}, fmt.Errorf("level %d is outside the relation's levels %d…%d", to, r.Lo, r.Hi())
	}
	if r.E[j] != 0 {
		return Explicit{}, fmt.Errorf("the relation has ε(x_%d): it is implicit in x_%d and cannot be solved for it", to, to)
	}
	p := r.X[j]
	if p == 0 || nonFinite(p) {
		return Explicit{}, fmt.Errorf("the coefficient of x_%d is %g: the relation cannot be solved for x_%d", to, p, to)
	}
	for i := range r.X {
		if nonFinite(r.X[i]) || nonFinite(r.E[i]) {
			return Explicit{}, fmt.Errorf("the relation's coefficients of x_%d are %g and %g (ε): a grid level's α or σ̄ is degenerate; build the grid with NewGrid", r.Lo+i, r.X[i], r.E[i])
		}
	}
	e := Explicit{To: to, Lo: r.Lo, A: make([]float64, len(r.X)), C: make([]float64, len(r.X))}
	for i := range r.X {
		if i == j {
			continue
		}
		e.A[i] = -r.X[i] / p
		e.C[i] = -r.E[i] / p
	}
	return e, nil
}

// nonFinite reports whether v is NaN or ±Inf.
func nonFinite(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }

// explicitRelation builds the relation x_lo − Σ_{j≥1} A[j−1]·x_{lo+j} − Σ_{j≥1} C[j−1]·ε(x_{lo+j}) = 0
// from the sampling form x_lo = Σ A·x + Σ C·ε over levels lo+1 … lo+len(A). Dividing by the
// unit coefficient is exact, so solving it for lo gives back A and C bit for bit.
func explicitRelation(lo int, a, c []float64) Relation {
	r := Relation{Lo: lo, X: make([]float64, len(a)+1), E: make([]float64, len(a)+1)}
	r.X[0] = 1
	for j := range a {
		r.X[j+1] = -a[j]
		r.E[j+1] = -c[j]
	}
	return r
}
