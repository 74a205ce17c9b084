package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/study"
)

// scheduleFlags are the diffusers scheduler flags shared by the commands.
type scheduleFlags struct {
	fs                    *flagSet
	config                string
	betaSchedule, spacing *string
	betaStart, betaEnd    float64
	trainSteps, offset    int
	float32Schedule       bool
}

// scheduleDefaults are the presets whose beta_start and beta_end a schedule takes when the
// flags do not say: DDPM's for linear (diffusers' defaults), Stable Diffusion's for
// scaled_linear (squaredcos_cap_v2 uses neither).
var scheduleDefaults = map[string]belm.SchedulerConfig{"linear": belm.DDPMConfig, "scaled_linear": belm.SDConfig, "squaredcos_cap_v2": belm.DDPMConfig}

func (s *scheduleFlags) register(fs *flagSet, defBeta, defSpacing string) {
	s.fs = fs
	fs.StringVar(&s.config, "scheduler_config", "", "a diffusers scheduler_config.json (instead of the schedule flags)")
	s.betaSchedule = fs.Choice("beta_schedule", defBeta, []string{"linear", "scaled_linear", "squaredcos_cap_v2"}, "β schedule")
	s.spacing = fs.Choice("timestep_spacing", defSpacing, []string{"leading", "trailing", "linspace"}, "timestep spacing")
	fs.FlagSet.Float64Var(&s.betaStart, "beta_start", 0, "first beta (default: the schedule's: 0.0001 for linear, 0.00085 for scaled_linear)")
	fs.FlagSet.Float64Var(&s.betaEnd, "beta_end", 0, "last beta (default: the schedule's: 0.02 for linear, 0.012 for scaled_linear)")
	fs.IntVar(&s.trainSteps, "num_train_timesteps", 1000, between(2, 100000), "training timesteps")
	fs.IntVar(&s.offset, "steps_offset", 0, atLeast(0), "steps_offset (leading spacing)")
	fs.BoolVar(&s.float32Schedule, "float32_schedule", false, "compute ᾱ as diffusers does in float32 (bit-identical to PyTorch)")
	fs.check(func() error {
		for name, v := range map[string]float64{"beta_start": s.betaStart, "beta_end": s.betaEnd} {
			if fs.given(name) && !(v > 0 && v < 1) {
				return fmt.Errorf("--%s %g: must be in (0, 1)", name, v)
			}
		}
		if s.config == "" {
			return nil
		}
		for _, name := range []string{"beta_schedule", "timestep_spacing", "beta_start", "beta_end", "num_train_timesteps", "steps_offset"} {
			if fs.given(name) {
				return fmt.Errorf("--%s has no effect with --scheduler_config %s: set it in the file, or drop --scheduler_config", name, s.config)
			}
		}
		return nil
	})
}

func (s *scheduleFlags) schedule() (belm.SchedulerConfig, error) {
	var c belm.SchedulerConfig
	if s.config != "" {
		var err error
		if c, err = belm.LoadSchedulerConfig(s.config); err != nil {
			return c, err
		}
	} else {
		def := scheduleDefaults[*s.betaSchedule]
		c = belm.SchedulerConfig{NumTrainTimesteps: s.trainSteps, BetaSchedule: *s.betaSchedule, TimestepSpacing: *s.spacing, StepsOffset: s.offset,
			BetaStart: def.BetaStart, BetaEnd: def.BetaEnd}
		if s.fs.given("beta_start") {
			c.BetaStart = s.betaStart
		}
		if s.fs.given("beta_end") {
			c.BetaEnd = s.betaEnd
		}
	}
	c.Float32 = s.float32Schedule
	return c.Defaults(), nil
}

// commonFlags configure the analytic studies.
type commonFlags struct {
	sched       scheduleFlags
	model       *string
	dim, batch  int
	seed        uint64
	dtype       *string
	backend     string
	gamma, p    float64
	samplerType *string
	steps       *[]int
	format      *string
	quiet       bool
}

func (c *commonFlags) register(fs *flagSet, defSamplers, defSteps string, minSteps int) {
	c.steps = fs.Ints("num_inference_steps", defSteps, between(1, 1000), minSteps, "comma-separated step counts N")
	c.sched.register(fs, "scaled_linear", "linspace")
	c.model = fs.Choice("model", "gaussian", []string{"gaussian", "gmm"}, "analytic model")
	fs.IntVar(&c.dim, "dim", 16, between(1, 1<<24), "data dimension of the analytic model")
	fs.IntVar(&c.batch, "batch_size", 64, between(1, 1<<24), "number of data points / trajectories")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed")
	c.dtype = dtypeFlag(fs, "float64", "")
	fs.StringVar(&c.backend, "backend", "", "GoMLX backend: go | onnx | xla (default $GOMLX_BACKEND or go)")
	samplerOptionFlags(fs, &c.gamma, &c.p, belm.DefaultSamplerOptions)
	c.samplerType = fs.NonEmpty("sampler_type", defSamplers, "comma-separated, of: "+registeredSamplers())
	c.format = fs.formatFlag("output format")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress bar")
	fs.check(func() error {
		// A pass holds a few [batch, dim] float64 latents at once, plus the data, the
		// inverted noise and the host copies: 16 copies bound it.
		return checkMemory(fmt.Sprintf("--batch_size %d × --dim %d", c.batch, c.dim), 16*8*float64(c.batch)*float64(c.dim))
	})
}

// samplerOptionFlags registers --bdia_gamma and --edict_p with the given defaults.
func samplerOptionFlags(fs *flagSet, gamma, p *float64, def belm.SamplerOptions) {
	fs.Float64Var(gamma, "bdia_gamma", def.BDIAGamma, between(0, 1), "BDIA's γ (≥ 0.9 to invert)")
	fs.Float64Var(p, "edict_p", def.EDICTP, bounds{lo: 0, hi: 1, openLo: true}, "EDICT's mixing p")
}

// dtypeFlag registers --dtype.
func dtypeFlag(fs *flagSet, def, note string) *string {
	p := fs.String("dtype", def, "float64 | float32"+note)
	fs.check(func() error {
		if *p == "" && def == "" { // the command chooses (eps: the dtype of its input)
			return nil
		}
		_, err := parseDType(*p)
		return err
	})
	return p
}

func (c *commonFlags) common() (study.Common, error) {
	sc, err := c.sched.schedule()
	if err != nil {
		return study.Common{}, err
	}
	dt, err := parseDType(*c.dtype)
	if err != nil {
		return study.Common{}, err
	}
	co := study.Common{Model: *c.model, D: c.dim, Batch: c.batch, Seed: c.seed, DType: dt, Backend: c.backend, Schedule: sc,
		Options: belm.SamplerOptions{BDIAGamma: c.gamma, EDICTP: c.p}}
	if !c.quiet {
		co.Progress = newProgress(os.Stderr).update
	}
	return co, nil
}

func (c *commonFlags) samplers() []string { return splitList(*c.samplerType) }

func parseDType(s string) (dtypes.DType, error) {
	switch strings.ToLower(s) {
	case "float64", "f64", "fp64":
		return dtypes.Float64, nil
	case "float32", "f32", "fp32":
		return dtypes.Float32, nil
	}
	return dtypes.InvalidDType, fmt.Errorf("--dtype must be float64 or float32, got %q", s)
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func parseInts(s, flagName string) ([]int, error) {
	var out []int
	for _, v := range splitList(s) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("--%s: %q is not an integer", flagName, v)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--%s is empty", flagName)
	}
	return out, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
}

// progress is a one-line progress bar with rate and time left on a terminal; elsewhere
// (CI logs, pipes, job schedulers) a plain line every 30 s, so short runs print nothing.
type progress struct {
	w        io.Writer
	tty      bool
	start    time.Time
	first    int // done at the first update: the rate counts from there
	lastLine time.Time
	started  bool
}

func newProgress(f *os.File) *progress {
	st, err := f.Stat()
	return &progress{w: f, tty: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

func (p *progress) update(done, total int, what string) {
	if total == 0 {
		return
	}
	now := time.Now()
	if !p.started {
		p.started, p.start, p.first, p.lastLine = true, now, done, now
	}
	rate := ""
	if el := now.Sub(p.start).Seconds(); done > p.first && el > 0 {
		r := float64(done-p.first) / el
		rate = fmt.Sprintf("  %.3g steps/s  eta %s", r, (time.Duration(float64(total-done)/r) * time.Second).Round(time.Second))
	}
	if p.tty {
		const width = 30
		n := done * width / total
		fmt.Fprintf(p.w, "\r[%s%s] %d/%d %-24s%-30s", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, what, rate)
		if done == total {
			fmt.Fprintln(p.w)
		}
		return
	}
	if now.Sub(p.lastLine) >= 30*time.Second {
		p.lastLine = now
		fmt.Fprintf(p.w, "%d/%d %s%s\n", done, total, what, rate)
	}
}
