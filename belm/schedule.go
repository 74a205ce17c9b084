package belm

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// Schedule is a discrete VP noise schedule: x_t = α_t x_0 + σ_t ε with α_t = √ᾱ_t,
// σ_t = √(1−ᾱ_t), ᾱ_t = ∏_{s≤t}(1−β_s), t = 0 … T_train−1 (spec §1.1).
//
// AlphasCumprod is float64. With Config.Float32 it holds diffusers' float32 values
// (float32 linspace of the betas, float32 1−β, cumulative product rounded to float32 at
// every step) converted exactly to float64, which reproduces a PyTorch pipeline bit for bit.
type Schedule struct {
	Config        SchedulerConfig
	Betas         []float64
	AlphasCumprod []float64
}

// SchedulerConfig holds the fields of a diffusers scheduler_config.json that matter here.
// Unknown fields are ignored; zero values take diffusers' defaults (see Defaults).
type SchedulerConfig struct {
	NumTrainTimesteps int       `json:"num_train_timesteps"`
	BetaStart         float64   `json:"beta_start"`
	BetaEnd           float64   `json:"beta_end"`
	BetaSchedule      string    `json:"beta_schedule"` // linear | scaled_linear | squaredcos_cap_v2
	TrainedBetas      []float64 `json:"trained_betas,omitempty"`
	TimestepSpacing   string    `json:"timestep_spacing"` // leading | trailing | linspace
	StepsOffset       int       `json:"steps_offset"`
	PredictionType    string    `json:"prediction_type"` // epsilon | v_prediction | sample
	ClipSample        bool      `json:"clip_sample"`
	ClipSampleRange   float64   `json:"clip_sample_range"`
	SetAlphaToOne     *bool     `json:"set_alpha_to_one,omitempty"`

	// Float32 reproduces diffusers' float32 schedule arithmetic (not a diffusers field).
	Float32 bool `json:"-"`
}

// Defaults fills unset fields with diffusers' DDIMScheduler defaults.
func (c SchedulerConfig) Defaults() SchedulerConfig {
	if c.NumTrainTimesteps == 0 {
		c.NumTrainTimesteps = 1000
	}
	if c.BetaStart == 0 && c.BetaEnd == 0 {
		c.BetaStart, c.BetaEnd = 0.0001, 0.02
	}
	if c.BetaSchedule == "" {
		c.BetaSchedule = "linear"
	}
	if c.TimestepSpacing == "" {
		c.TimestepSpacing = "leading"
	}
	if c.PredictionType == "" {
		c.PredictionType = "epsilon"
	}
	if c.ClipSampleRange == 0 {
		c.ClipSampleRange = 1
	}
	return c
}

// Preset configurations of the paper's models.
var (
	// DDPMConfig is google/ddpm-cifar10-32 and google/ddpm-ema-celebahq-256 as the CIFAR-10 /
	// CelebA-HQ scripts load them: linear betas, leading spacing (spec §1.2).
	DDPMConfig = SchedulerConfig{NumTrainTimesteps: 1000, BetaStart: 0.0001, BetaEnd: 0.02, BetaSchedule: "linear", TimestepSpacing: "leading"}
	// SDConfig is the DDIMScheduler the Stable Diffusion scripts build: scaled_linear, linspace.
	SDConfig = SchedulerConfig{NumTrainTimesteps: 1000, BetaStart: 0.00085, BetaEnd: 0.012, BetaSchedule: "scaled_linear", TimestepSpacing: "linspace"}
)

// LoadSchedulerConfig reads a diffusers scheduler_config.json — a DDPMScheduler's, as the Hub's
// DDPM checkpoints ship, or a DDIMScheduler's, as Stable Diffusion's — into the DDIMScheduler
// configuration diffusers builds from it (DDIMScheduler.from_config): the fields of the file,
// DDIMScheduler's defaults for the others (clip_sample true, set_alpha_to_one true,
// timestep_spacing leading, steps_offset 0, prediction_type epsilon; spec §1.2). It is the
// one loader of the workbench: every command and package reads scheduler configs through it.
//
// Fields present must make sense, since Defaults would otherwise read an explicit 0 as
// "unset" (num_train_timesteps 0 run as 1000) or pass nonsense on (clip_sample_range −1
// turning clipping off): an error names the file, the field and the fix. Dynamic
// thresholding is refused rather than ignored.
func LoadSchedulerConfig(path string) (SchedulerConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return SchedulerConfig{}, fmt.Errorf("reading scheduler config: %w", err)
	}
	var c SchedulerConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return SchedulerConfig{}, fmt.Errorf("parsing scheduler config %s: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return SchedulerConfig{}, fmt.Errorf("parsing scheduler config %s: %w", path, err)
	}
	present := func(field string) bool {
		v, ok := raw[field]
		return ok && string(v) != "null"
	}
	bad := func(field, got, fix string) error {
		return fmt.Errorf("scheduler config %s: %s is %s: %s", path, field, got, fix)
	}
	if present("num_train_timesteps") && c.NumTrainTimesteps < 2 {
		return SchedulerConfig{}, bad("num_train_timesteps", fmt.Sprint(c.NumTrainTimesteps),
			"it must be at least 2 (the number of training timesteps; diffusers' default, 1000, applies when the field is absent)")
	}
	for _, b := range []struct {
		field string
		v     *float64
		def   float64
	}{{"beta_start", &c.BetaStart, 0.0001}, {"beta_end", &c.BetaEnd, 0.02}} {
		switch {
		case present(b.field) && !(*b.v > 0 && *b.v < 1):
			return SchedulerConfig{}, bad(b.field, fmt.Sprint(*b.v),
				fmt.Sprintf("it must lie in (0, 1) (diffusers' default, %g, applies when the field is absent)", b.def))
		case !present(b.field):
			*b.v = b.def // diffusers' default, also when only the other one is given
		}
	}
	if present("clip_sample_range") && !(c.ClipSampleRange > 0 && !math.IsInf(c.ClipSampleRange, 0)) {
		return SchedulerConfig{}, bad("clip_sample_range", fmt.Sprint(c.ClipSampleRange),
			"it must be a finite number > 0 (x̂₀ is clipped to [−range, range]; set clip_sample to false to turn clipping off)")
	}
	if present("steps_offset") && c.StepsOffset < 0 {
		return SchedulerConfig{}, bad("steps_offset", fmt.Sprint(c.StepsOffset),
			"it must be ≥ 0 (the shift added to every inference timestep; diffusers' default is 0)")
	}
	if present("thresholding") && string(raw["thresholding"]) != "false" {
		return SchedulerConfig{}, bad("thresholding", string(raw["thresholding"]),
			"dynamic thresholding is not supported: set it to false")
	}
	if err := ValidatePrediction(c.PredictionType); err != nil {
		return SchedulerConfig{}, fmt.Errorf("scheduler config %s: %w", path, err)
	}
	if !present("clip_sample") {
		c.ClipSample = true // DDIMScheduler's default
	}
	if c.SetAlphaToOne == nil {
		t := true // DDIMScheduler's default
		c.SetAlphaToOne = &t
	}
	return c.Defaults(), nil
}

// NewSchedule builds the schedule of a configuration (defaults filled in).
func NewSchedule(c SchedulerConfig) (*Schedule, error) {
	c = c.Defaults()
	n := c.NumTrainTimesteps
	if n < 2 {
		return nil, fmt.Errorf("num_train_timesteps must be at least 2, got %d", n)
	}
	var betas []float64
	switch {
	case len(c.TrainedBetas) > 0:
		if len(c.TrainedBetas) != n {
			return nil, fmt.Errorf("trained_betas has %d values but num_train_timesteps is %d", len(c.TrainedBetas), n)
		}
		betas = append([]float64(nil), c.TrainedBetas...)
		if c.Float32 {
			for i := range betas {
				betas[i] = float64(float32(betas[i]))
			}
		}
	case c.BetaSchedule == "linear":
		betas = linspace(c.BetaStart, c.BetaEnd, n, c.Float32)
	case c.BetaSchedule == "scaled_linear":
		betas = linspace(math.Sqrt(c.BetaStart), math.Sqrt(c.BetaEnd), n, c.Float32)
		for i, b := range betas {
			if c.Float32 {
				betas[i] = float64(float32(b) * float32(b))
			} else {
				betas[i] = b * b
			}
		}
	case c.BetaSchedule == "squaredcos_cap_v2":
		// Nichol & Dhariwal's cosine schedule: ᾱ(t) = cos²((t+0.008)/1.008·π/2), β capped at 0.999.
		abar := func(t float64) float64 { return math.Pow(math.Cos((t+0.008)/1.008*math.Pi/2), 2) }
		betas = make([]float64, n)
		for i := range betas {
			b := math.Min(1-abar(float64(i+1)/float64(n))/abar(float64(i)/float64(n)), 0.999)
			if c.Float32 {
				b = float64(float32(b))
			}
			betas[i] = b
		}
	default:
		return nil, fmt.Errorf("unknown beta_schedule %q: use linear, scaled_linear, squaredcos_cap_v2 or give trained_betas", c.BetaSchedule)
	}
	ac := make([]float64, n)
	prod := 1.0
	for i, b := range betas {
		if !(b > 0 && b < 1) {
			return nil, fmt.Errorf("beta[%d] = %g is outside (0, 1)", i, b)
		}
		if c.Float32 {
			// torch.cumprod on CPU accumulates in double and rounds each output to float32.
			prod *= float64(float32(1) - float32(b))
			ac[i] = float64(float32(prod))
		} else {
			prod *= 1 - b
			ac[i] = prod
		}
	}
	return &Schedule{Config: c, Betas: betas, AlphasCumprod: ac}, nil
}

// linspace returns n values from a to b: numpy's linspace in float64 (start + i·step, last
// value exactly b), or torch.linspace(dtype=float32) as PyTorch's x86 CPU kernel computes
// it: a float32 step; the first half counted from a, the second from b; and, in 8-lane AVX2
// vectors, lane l of a vector starting at index i is (base_i + l·step) with base_i computed
// for index i (the scalar tail as plain elements). That reproduces diffusers' float32 ᾱ bit
// for bit (tested against the fixture).
func linspace(a, b float64, n int, f32 bool) []float64 {
	out := make([]float64, n)
	if f32 {
		const lanes = 8
		fa, fb := float32(a), float32(b)
		step := (fb - fa) / float32(n-1)
		at := func(i int) float32 {
			if i < n/2 {
				return fa + step*float32(i)
			}
			return fb - step*float32(n-1-i)
		}
		i := 0
		for ; i <= n-2*lanes; i += lanes {
			base := at(i)
			for l := 0; l < lanes; l++ {
				out[i+l] = float64(base + float32(l)*step)
			}
		}
		for ; i < n; i++ {
			out[i] = float64(at(i))
		}
		return out
	}
	step := (b - a) / float64(n-1)
	for i := range out {
		out[i] = a + float64(i)*step
	}
	out[n-1] = b
	return out
}

// Level returns the noise level of network timestep t (0 ≤ t < T_train).
func (s *Schedule) Level(t int) Level {
	ab := s.AlphasCumprod[t]
	return Level{T: float64(t), Alpha: math.Sqrt(ab), Sigma: math.Sqrt(1 - ab)}
}

// Timesteps returns the N network timesteps in the code's loop order (descending, t_0 first),
// as diffusers' DDIMScheduler.set_timesteps computes them for the configured spacing:
//
//	linspace: round-half-even(k·(T−1)/(N−1)), k = N−1 … 0 (numpy: the step first, then the product)
//	leading:  k·⌊T/N⌋ + steps_offset,          k = N−1 … 0
//	trailing: round(T − k·T/N) − 1,             k = 0 … N−1
func (s *Schedule) Timesteps(n int) ([]int, error) {
	T := s.Config.NumTrainTimesteps
	if n < 1 {
		return nil, fmt.Errorf("num_inference_steps must be at least 1, got %d", n)
	}
	if n > T {
		return nil, fmt.Errorf("num_inference_steps = %d exceeds num_train_timesteps = %d: the model was trained on %d timesteps only", n, T, T)
	}
	ts := make([]int, n)
	switch s.Config.TimestepSpacing {
	case "linspace":
		if n == 1 {
			ts[0] = 0
			break
		}
		step := float64(T-1) / float64(n-1)
		for k := range ts {
			v := float64(n-1-k) * step
			if k == 0 {
				v = float64(T - 1) // numpy sets the endpoint exactly
			}
			ts[k] = int(math.RoundToEven(v))
		}
	case "leading":
		ratio := T / n
		for k := range ts {
			ts[k] = (n-1-k)*ratio + s.Config.StepsOffset
		}
	case "trailing":
		ratio := float64(T) / float64(n)
		for k := range ts {
			ts[k] = int(math.RoundToEven(float64(T)-float64(k)*ratio)) - 1
		}
	default:
		return nil, fmt.Errorf("unknown timestep_spacing %q: use leading, trailing or linspace", s.Config.TimestepSpacing)
	}
	for k, t := range ts {
		if t < 0 || t >= T {
			return nil, fmt.Errorf("timestep %d (step %d) is outside [0, %d): check steps_offset = %d", t, k, T, s.Config.StepsOffset)
		}
	}
	return ts, nil
}

// Grid returns the sampling grid of N steps: the N network timesteps plus the exact clean
// endpoint (α=1, σ=0) below the last one (spec §1.2, §7.2). ε at the clean latent (the
// first inversion step) is evaluated at network timestep 1, as the reference code does.
func (s *Schedule) Grid(n int) (*Grid, error) {
	ts, err := s.Timesteps(n)
	if err != nil {
		return nil, err
	}
	levels := make([]Level, n+1)
	levels[0] = Clean
	for k, t := range ts {
		levels[n-k] = s.Level(t)
	}
	g, err := NewGrid(levels)
	if err != nil {
		return nil, err
	}
	g.Net[0] = s.Level(1)
	return g, nil
}
