package belm

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

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
//
// Final, if set, replaces the grid's level 0 as the level the last sampling step lands on
// (and the first inversion step starts from). diffusers' DDIMScheduler lands on ᾱ = 1 with
// set_alpha_to_one (the grid's clean endpoint, as nil) and on ᾱ₀ = alphas_cumprod[0] without
// it (FinalLevel builds that level from a schedule); when the grid's level 1 is timestep 0
// too, that last step is the identity up to clipping. The BELM family (BDIA, O-BELM, EDICT,
// k-step BELM) always ends at the reference's clean endpoint α = 1, σ = 0.
//
// Inversion picks the convention of the inversion step (the sampling step is the same):
// InvertPaper (the default, Eq. 8) or InvertDiffusers (diffusers' DDIMInverseScheduler).
type DDIM struct {
	Clip      float64
	Final     *Level
	Inversion DDIMInversion
}

// DDIMInversion is the convention of a DDIM inversion step from level i−1 to level i.
type DDIMInversion int

const (
	// InvertPaper evaluates ε at the source state x_{i−1} and its network time t_{i−1} (t=1
	// at the clean endpoint), paper Eq. 8 and the reference code.
	InvertPaper DDIMInversion = iota
	// InvertDiffusers is diffusers' DDIMInverseScheduler.step: the network sees the source
	// state x_{i−1} at the TARGET timestep t_i (the timestep the pipeline's loop passes), and
	// its output is read with the source's ᾱ (alpha_prod_t, ᾱ of t_i − T/N, the initial ᾱ at
	// the first step): ε = out, or ε = √ᾱ_{i−1}·v + √(1−ᾱ_{i−1})·x for v_prediction; then
	//
	//	x̂₀ = (x_{i−1} − σ_{i−1} ε)/α_{i−1} (clipped with Clip),   x_i = α_i x̂₀ + σ_i ε.
	//
	// Its linear coefficients are Eq. 8's, which CoefficientTable lists; only the time of ε
	// differs. Registered as the sampler "ddim-inverse-diffusers".
	InvertDiffusers
)

// ddimEntry and ddimInverseDiffusersEntry are DDIM's registry entries. DDIM is Euler: LTE
// O(h²) and global order 1 (Corollary 1, Prop. 7); sampling is the same in both conventions.
var (
	ddimEntry = SamplerInfo{Name: NameDDIM, Label: "DDIM", Color: "#D55E00", // vermillion
		NFEPerStep: 1, Exact: false, LTESlope: 2, GlobalOrder: 1,
		New: func(SamplerOptions) (Sampler, error) { return DDIM{}, nil }}
	ddimInverseDiffusersEntry = SamplerInfo{Name: "ddim-inverse-diffusers", Aliases: []string{"ddim-diffusers"},
		Label: "DDIM (diffusers inversion)", Color: "#56B4E9", // sky blue
		NFEPerStep: 1, Exact: false, LTESlope: 2, GlobalOrder: 1,
		New: func(SamplerOptions) (Sampler, error) { return DDIM{Inversion: InvertDiffusers}, nil }}
)

// FinalLevel is the level diffusers' DDIMScheduler ends on (final_alpha_cumprod) for a
// schedule: the clean endpoint α = 1, σ = 0 when its config's set_alpha_to_one is true or
// unset (diffusers' default), else the level of ᾱ₀ = alphas_cumprod[0]. Use it as DDIM.Final.
func FinalLevel(s *Schedule) Level {
	if a := s.Config.SetAlphaToOne; a == nil || *a {
		return Clean
	}
	return s.Level(0)
}

// ForSchedule is DDIM as diffusers' DDIMScheduler runs it with s's configuration: when
// sampling with clip_sample, x̂₀ clipped to ±clip_sample_range (DDIMPipeline; inversion and
// reconstruction use the plain linear map, as the reference scripts do), and with
// set_alpha_to_one false the last step landing on ᾱ₀ (FinalLevel) in both directions.
func (d DDIM) ForSchedule(s *Schedule, sampling bool) Sampler {
	if sampling && s.Config.ClipSample {
		d.Clip = s.Config.ClipSampleRange
	}
	if final := FinalLevel(s); final != Clean {
		d.Final = &final
	}
	return d
}

func (d DDIM) Name() string {
	if d.Inversion == InvertDiffusers {
		return ddimInverseDiffusersEntry.Name
	}
	return ddimEntry.Name
}
func (DDIM) NFEPerStep() int              { return ddimEntry.NFEPerStep }
func (DDIM) Window() int                  { return 1 }
func (DDIM) Validate(dir Direction) error { return nil }

// level is grid level i, with Final in place of level 0.
func (d DDIM) level(g *Grid, i int) Level {
	if i == 0 && d.Final != nil {
		return *d.Final
	}
	return g.Levels[i]
}

// Relation ignores w (always 1).
func (d DDIM) Relation(g *Grid, lo, w int, dir Direction) Relation {
	return ddimRelationAt(lo, d.level(g, lo), g.Levels[lo+1], dir)
}

// ddimRelation is the DDIM step between levels lo and lo+1: ε at the upper state when
// sampling, at the lower state when inverting. It is also the first step of BDIA and BELM.
func ddimRelation(g *Grid, lo int, dir Direction) Relation {
	return ddimRelationAt(lo, g.Levels[lo], g.Levels[lo+1], dir)
}

// ddimRelationAt is ddimRelation with the levels lo (lower) and lo+1 (upper) given.
func ddimRelationAt(lo int, lower, upper Level, dir Direction) Relation {
	if dir == Inversion {
		a, c := ddimMap(lower, upper)
		return Relation{Lo: lo, X: []float64{-a, 1}, E: []float64{-c, 0}}
	}
	a, c := ddimMap(upper, lower)
	return explicitRelation(lo, []float64{a}, []float64{c})
}

// ownSteps: DDIM runs its own steps when it clips x̂₀ or inverts in diffusers' convention;
// otherwise it is the Multistep relation above.
func (d DDIM) ownSteps(dir Direction) bool {
	return d.Clip > 0 || (dir == Inversion && d.Inversion == InvertDiffusers)
}

// stepGraph is the x̂₀ form of the step, one graph for both directions and conventions. Its
// parameters after the head: the α, σ that read the model's prediction, α_from, σ_from,
// α_to, σ_to and the clip range (+Inf: none).
func (DDIM) stepGraph(Direction) (string, stepGraph) {
	return "ddim", func(env stepEnv, in []*Node) ([]*Node, []*Node) {
		p := env.Param
		e := env.EpsAt(in[0], env.Net, Time{T: env.Net.T, Alpha: p(pHead), Sigma: p(pHead + 1)})
		return []*Node{clippedStep(e, in[0], p(pHead+2), p(pHead+3), p(pHead+4), p(pHead+5), p(pHead+6))}, nil
	}
}

// stepParams: the paper's convention evaluates ε at the upper state when sampling and at the
// lower one when inverting, and reads the prediction at that network level; diffusers'
// inversion evaluates it at the target's network level and reads it with the source's α, σ.
func (d DDIM) stepParams(g *Grid, from, to int, dir Direction) (Level, []float64) {
	f, t := d.level(g, from), d.level(g, to)
	net, conv := g.Net[from], g.Net[from]
	if dir == Inversion && d.Inversion == InvertDiffusers {
		net, conv = g.Net[to], f
	}
	clip := math.Inf(1)
	if d.Clip > 0 {
		clip = d.Clip
	}
	return net, []float64{conv.Alpha, conv.Sigma, f.Alpha, f.Sigma, t.Alpha, t.Sigma, clip}
}

func (DDIM) startLatents(ls []*tensors.Tensor) []*tensors.Tensor { return ls[:1] }

// clippedStep builds the x̂₀ form of a DDIM step from (α_from, σ_from) to (α_to, σ_to) with ε = e.
func clippedStep(e, x, aFrom, sFrom, aTo, sTo, clip *Node) *Node {
	x0 := Div(Sub(x, Mul(sFrom, e)), aFrom)
	x0 = Min(Max(x0, Neg(clip)), clip)
	return Add(Mul(aTo, x0), Mul(sTo, e))
}
