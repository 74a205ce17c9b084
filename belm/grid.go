package belm

import (
	"fmt"
	"math"
)

// Level is one noise level: the VP coefficients α, σ of x = α x₀ + σ ε and the network
// timestep T fed to a learned model there (NaN on continuous grids, where only analytic
// models, which read α and σ, apply).
type Level struct {
	T     float64
	Alpha float64
	Sigma float64
}

// Clean is the exact clean endpoint α=1, σ=0 (σ̄=0), below the smallest network timestep.
var Clean = Level{T: 0, Alpha: 1, Sigma: 0}

// SigmaBar is σ̄ = σ/α, the paper's time variable (Eq. 11): x̄ = x/α solves dx̄ = ε̄ dσ̄.
func (l Level) SigmaBar() float64 { return l.Sigma / l.Alpha }

// LevelAt returns the VP level (α²+σ²=1) with the given σ̄, for continuous grids.
func LevelAt(sigmaBar float64) Level {
	a := 1 / math.Sqrt(1+sigmaBar*sigmaBar)
	return Level{T: math.NaN(), Alpha: a, Sigma: sigmaBar * a}
}

// Grid is the sequence of levels a sampler walks, in the paper's order: Levels[0] is the
// least noisy (x₀, usually Clean) and Levels[N] the noisiest (x_N); σ̄ increases with the
// index. Sampling walks N → 0, inversion 0 → N.
//
// Net[i] is the network time at which ε of the state at level i is evaluated. It is
// Levels[i], except at a clean endpoint, where the reference code evaluates ε(x₀) at
// network timestep 1 (spec §2.2; it does not affect exactness).
type Grid struct {
	Levels []Level
	Net    []Level
}

// NewGrid checks that levels have strictly increasing σ̄ and builds a grid.
func NewGrid(levels []Level) (*Grid, error) {
	if len(levels) < 2 {
		return nil, fmt.Errorf("a grid needs at least 2 levels (1 step), got %d", len(levels))
	}
	for i, l := range levels {
		if !(l.Alpha > 0) || l.Sigma < 0 || math.IsInf(l.Alpha, 0) || math.IsNaN(l.Sigma) || math.IsInf(l.Sigma, 0) {
			return nil, fmt.Errorf("level %d has α=%g, σ=%g: need α > 0, σ ≥ 0, finite", i, l.Alpha, l.Sigma)
		}
		if i > 0 && !(l.SigmaBar() > levels[i-1].SigmaBar()) {
			return nil, fmt.Errorf("σ̄ must increase with the level index: σ̄[%d]=%g ≤ σ̄[%d]=%g (duplicate timesteps?)",
				i, l.SigmaBar(), i-1, levels[i-1].SigmaBar())
		}
	}
	g := &Grid{Levels: append([]Level(nil), levels...), Net: append([]Level(nil), levels...)}
	return g, nil
}

// SigmaBarGrid builds a continuous grid with the given σ̄ values (increasing).
func SigmaBarGrid(sigmaBars []float64) (*Grid, error) {
	levels := make([]Level, len(sigmaBars))
	for i, s := range sigmaBars {
		levels[i] = LevelAt(s)
		if s == 0 {
			levels[i] = Clean
		}
	}
	return NewGrid(levels)
}

// PowerGrid is the continuous grid σ̄_i = σ̄_max·(i/N)^ρ, i = 0…N, ending exactly at σ̄=0.
// For ρ > 1 it is convex in i, so steps grow toward the noisy end (the paper's
// Assumption 3); it refines uniformly with N, which makes it the grid for convergence
// orders (timestep grids keep h₁ = σ̄(t=0) fixed whatever N).
func PowerGrid(sigmaBarMax float64, n int, rho float64) (*Grid, error) {
	if n < 1 {
		return nil, fmt.Errorf("number of steps must be at least 1, got %d", n)
	}
	s := make([]float64, n+1)
	for i := range s {
		s[i] = sigmaBarMax * math.Pow(float64(i)/float64(n), rho)
	}
	return SigmaBarGrid(s)
}

// N is the number of steps.
func (g *Grid) N() int { return len(g.Levels) - 1 }

// SigmaBar returns σ̄_i.
func (g *Grid) SigmaBar(i int) float64 { return g.Levels[i].SigmaBar() }

// H returns the step size h_i = σ̄_i − σ̄_{i−1} > 0, i = 1…N.
func (g *Grid) H(i int) float64 { return g.SigmaBar(i) - g.SigmaBar(i-1) }

// StepSizes returns h_1 … h_N.
func (g *Grid) StepSizes() []float64 {
	h := make([]float64, g.N())
	for i := range h {
		h[i] = g.H(i + 1)
	}
	return h
}

// Timesteps returns the network timesteps of levels N…1 (the code's loop order).
func (g *Grid) Timesteps() []float64 {
	ts := make([]float64, 0, g.N())
	for i := g.N(); i >= 1; i-- {
		ts = append(ts, g.Levels[i].T)
	}
	return ts
}
