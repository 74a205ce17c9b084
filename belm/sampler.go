package belm

import (
	"fmt"
	"strings"
)

// Direction is the direction of a pass over a grid.
type Direction int

const (
	// Sampling walks from the noisiest level N down to level 0 (x_N → x_0).
	Sampling Direction = iota
	// Inversion walks from level 0 up (x_0 → x_N): it recovers the noise that samples to x_0.
	Inversion
)

func (d Direction) String() string {
	if d == Inversion {
		return "inversion"
	}
	return "sampling"
}

// Sampler is a diffusion sampler with an inverse. The maths of each lives in its own file,
// with its registry entry (SamplerInfo). A sampler runs either as a Multistep (its steps are
// linear relations) or, for EDICT and clipped DDIM, with step graphs of its own.
type Sampler interface {
	// Name is the sampler's name as the reference scripts' --sampler_type spells it.
	Name() string
	// NFEPerStep is the number of network evaluations per step.
	NFEPerStep() int
	// Window is the number of latents a step reads (and an inverted state holds): 1 for
	// DDIM, 2 for BDIA and O-BELM, k for k-step BELM; EDICT's (x, y) pair counts as 1.
	Window() int
	// Validate reports whether the sampler can run in this direction (e.g. BDIA with γ=0
	// cannot be inverted).
	Validate(dir Direction) error
}

// Multistep is a sampler whose steps are linear relations among consecutive latents with ε
// terms (DDIM, BDIA, O-BELM, k-step BELM). A step knowing w consecutive latents (1 ≤ w ≤
// Window) uses Relation(g, lo, w, dir), a relation over levels lo … lo+w: sampling solves it
// for x_lo, inversion for x_{lo+w}. With fewer known latents than Window (the first steps
// of a pass) samplers bootstrap with a lower-order relation, as the paper's Algorithm 1
// does with one DDIM step.
type Multistep interface {
	Sampler
	Relation(g *Grid, lo, w int, dir Direction) Relation
}

// ScheduleAware is a sampler whose steps depend on the scheduler configuration beyond the
// grid: DDIM clips x̂₀ when clip_sample is set (sampling, as diffusers' DDIMPipeline does) and
// ends on ᾱ₀ when set_alpha_to_one is false. Pipelines call ForSchedule on every sampler they
// build, so no code outside the sampler files needs to know which samplers care.
type ScheduleAware interface {
	Sampler
	// ForSchedule returns the sampler as the schedule's configuration asks, for sampling
	// (sampling true) or for inversion and reconstruction.
	ForSchedule(s *Schedule, sampling bool) Sampler
}

// ddimMap returns the coefficients of the DDIM/Euler map Φ_{from→to}(x, e) = a·x + c·e,
// a = α_to/α_from, c = σ_to − σ_from·α_to/α_from; in x̄ form x̄_to = x̄_from + (σ̄_to − σ̄_from)·e.
func ddimMap(from, to Level) (a, c float64) {
	a = to.Alpha / from.Alpha
	return a, to.Sigma - from.Sigma*a
}

// Names of the samplers, as --sampler_type takes them.
const (
	NameDDIM  = "ddim"
	NameEDICT = "edict"
	NameBDIA  = "bdia"
	NameBELM  = "belm"
)

// SamplerOptions are the hyperparameters of ParseSampler.
type SamplerOptions struct {
	BDIAGamma float64 // BDIA's γ (--bdia_gamma)
	EDICTP    float64 // EDICT's mixing p (--edict_p)
}

// DefaultSamplerOptions are the values that invert reliably: γ = 0.96 (BDIA's and the SD
// scripts' choice; small γ explodes on inversion, spec §7.2) and p = 0.93 (EDICT's default).
var DefaultSamplerOptions = SamplerOptions{BDIAGamma: 0.96, EDICTP: 0.93}

// ParseSampler returns the sampler of a --sampler_type name or alias, as the registry lists
// them (Samplers): ddim, ddim-inverse-diffusers, edict, bdia, belm (O-BELM; also obelm, o-belm
// and lag, the reference's old name) or belmK for k-step BELM (e.g. belm3, belm-k3).
func ParseSampler(name string, o SamplerOptions) (Sampler, error) {
	info, ok := LookupSampler(name)
	if !ok {
		return nil, fmt.Errorf("unknown sampler %q: use %s", name, samplerNames())
	}
	return info.New(o)
}

// ParseSamplers parses a comma-separated list of sampler names.
func ParseSamplers(list string, o SamplerOptions) ([]Sampler, error) {
	var out []Sampler
	for _, n := range strings.Split(list, ",") {
		if strings.TrimSpace(n) == "" {
			continue
		}
		s, err := ParseSampler(n, o)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no sampler given")
	}
	return out, nil
}
