package belm

// OBELM is O-BELM, the optimal 2-step bidirectional explicit linear multistep sampler (paper
// Eq. 15 with the coefficients of Prop. 4). In x̄ = x/α and σ̄ = σ/α, with h_i = σ̄_i − σ̄_{i−1}:
//
//	x̄_{i−1} = a₂ x̄_{i+1} + a₁ x̄_i + b₁ h_i ε̄_i,   a₁ = (h²_{i+1} − h²_i)/h²_{i+1},  a₂ = h²_i/h²_{i+1},  b₁ = −(h_i + h_{i+1})/h_{i+1},
//
// the unique choice that zeroes the Taylor terms up to second order, so the local truncation
// error is O((h_i+h_{i+1})³) and the global error O(h²) (zero-stable, Prop. 5). In x-space
// (Eq. 18):
//
//	x_{i−1} = (h²_i/h²_{i+1})(α_{i−1}/α_{i+1}) x_{i+1} + ((h²_{i+1} − h²_i)/h²_{i+1})(α_{i−1}/α_i) x_i − (h_i(h_i+h_{i+1})/h_{i+1}) α_{i−1} ε_θ(x_i, t_i).
//
// There is no ε at x_{i−1} or x_{i+1}, so the same relation solved for x_{i+1} is the exact
// inverse (Eq. 19):
//
//	x_{i+1} = (h²_{i+1}/h²_i)(α_{i+1}/α_{i−1}) x_{i−1} + ((h²_i − h²_{i+1})/h²_i)(α_{i+1}/α_i) x_i + (h_{i+1}(h_i+h_{i+1})/h_i) α_{i+1} ε_θ(x_i, t_i).
//
// The first sampling step (x_N → x_{N−1}) is DDIM, the first inversion step (x_0 → x_1) DDIM
// inversion (Algorithm 1); every other step, including the last one to the clean endpoint,
// uses Eq. 18/19. Inversion returns the pair (x_N, x_{N−1}), which exact reconstruction needs.
// The last step lands on the grid's level 0, the reference's clean endpoint α = 1, σ = 0
// (never diffusers' ᾱ₀: see DDIM.Final).
// State: the last two latents; NFE: 1 per step.
type OBELM struct{}

// obelmEntry is O-BELM's registry entry: LTE O((h_i+h_{i+1})³) (Prop. 4), zero-stable, so
// global order 2 (Props. 5–6). "lag" is the reference scripts' default --sampler_type.
var obelmEntry = SamplerInfo{Name: NameBELM, Aliases: []string{"obelm", "o-belm", "o_belm", "lag"},
	Label: "O-BELM", Color: "#6A3D9A", // purple
	NFEPerStep: 1, Exact: true, LTESlope: 3, GlobalOrder: 2,
	New: func(SamplerOptions) (Sampler, error) { return OBELM{}, nil }}

func (OBELM) Name() string                 { return obelmEntry.Name }
func (OBELM) NFEPerStep() int              { return obelmEntry.NFEPerStep }
func (OBELM) Window() int                  { return 2 }
func (OBELM) Validate(dir Direction) error { return nil }

func (OBELM) Relation(g *Grid, lo, w int, dir Direction) Relation {
	if w < 2 {
		return ddimRelation(g, lo, dir)
	}
	hi, hn := g.H(lo+1), g.H(lo+2) // h_i, h_{i+1} with i = lo+1
	r2 := (hi * hi) / (hn * hn)
	aLo, aCur, aPrev := g.Levels[lo].Alpha, g.Levels[lo+1].Alpha, g.Levels[lo+2].Alpha
	return explicitRelation(lo,
		[]float64{(1 - r2) * aLo / aCur, r2 * aLo / aPrev},
		[]float64{-hi * (hi + hn) / hn * aLo, 0})
}
