package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/study"
)

// scheduleFlags are the diffusers scheduler flags shared by the commands.
type scheduleFlags struct {
	config                string
	betaSchedule, spacing string
	betaStart, betaEnd    float64
	trainSteps, offset    int
	float32Schedule       bool
}

func (s *scheduleFlags) register(fs *flag.FlagSet, defBeta, defSpacing string) {
	fs.StringVar(&s.config, "scheduler_config", "", "a diffusers scheduler_config.json (overrides the schedule flags)")
	fs.StringVar(&s.betaSchedule, "beta_schedule", defBeta, "linear | scaled_linear | squaredcos_cap_v2")
	fs.StringVar(&s.spacing, "timestep_spacing", defSpacing, "leading | trailing | linspace")
	fs.Float64Var(&s.betaStart, "beta_start", 0, "first beta (default: 0.0001 for linear, 0.00085 for scaled_linear)")
	fs.Float64Var(&s.betaEnd, "beta_end", 0, "last beta (default: 0.02 for linear, 0.012 for scaled_linear)")
	fs.IntVar(&s.trainSteps, "num_train_timesteps", 1000, "training timesteps")
	fs.IntVar(&s.offset, "steps_offset", 0, "steps_offset (leading spacing)")
	fs.BoolVar(&s.float32Schedule, "float32_schedule", false, "compute ᾱ as diffusers does in float32 (bit-identical to PyTorch)")
}

func (s *scheduleFlags) schedule() (belm.SchedulerConfig, error) {
	var c belm.SchedulerConfig
	if s.config != "" {
		var err error
		if c, err = belm.LoadSchedulerConfig(s.config); err != nil {
			return c, err
		}
	} else {
		c = belm.SchedulerConfig{NumTrainTimesteps: s.trainSteps, BetaSchedule: s.betaSchedule, TimestepSpacing: s.spacing, StepsOffset: s.offset,
			BetaStart: s.betaStart, BetaEnd: s.betaEnd}
		if c.BetaStart == 0 && c.BetaEnd == 0 && c.BetaSchedule == "scaled_linear" {
			c.BetaStart, c.BetaEnd = 0.00085, 0.012
		}
	}
	c.Float32 = s.float32Schedule
	return c.Defaults(), nil
}

// commonFlags configure the analytic studies.
type commonFlags struct {
	sched       scheduleFlags
	model       string
	dim, batch  int
	seed        uint64
	dtype       string
	backend     string
	gamma, p    float64
	samplerType string
	steps       string
	format      string
	quiet       bool
}

func (c *commonFlags) register(fs *flag.FlagSet, defSamplers, defSteps string) {
	fs.StringVar(&c.steps, "num_inference_steps", defSteps, "comma-separated step counts N")
	c.sched.register(fs, "scaled_linear", "linspace")
	fs.StringVar(&c.model, "model", "gaussian", "analytic model: gaussian | gmm")
	fs.IntVar(&c.dim, "dim", 16, "data dimension of the analytic model")
	fs.IntVar(&c.batch, "batch_size", 64, "number of data points / trajectories")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed")
	fs.StringVar(&c.dtype, "dtype", "float64", "float64 | float32")
	fs.StringVar(&c.backend, "backend", "", "GoMLX backend: go | onnx | xla (default $GOMLX_BACKEND or go)")
	fs.Float64Var(&c.gamma, "bdia_gamma", belm.DefaultSamplerOptions.BDIAGamma, "BDIA's γ (≥ 0.9 to invert)")
	fs.Float64Var(&c.p, "edict_p", belm.DefaultSamplerOptions.EDICTP, "EDICT's mixing p")
	fs.StringVar(&c.samplerType, "sampler_type", defSamplers, "comma-separated: ddim, edict, bdia, belm (O-BELM), belmK (k-step BELM)")
	fs.StringVar(&c.format, "format", "table", "table | json")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress bar")
}

func (c *commonFlags) common() (study.Common, error) {
	sc, err := c.sched.schedule()
	if err != nil {
		return study.Common{}, err
	}
	dt, err := parseDType(c.dtype)
	if err != nil {
		return study.Common{}, err
	}
	if c.format != "table" && c.format != "json" {
		return study.Common{}, fmt.Errorf("--format must be table or json, got %q", c.format)
	}
	if c.dim < 1 || c.batch < 1 {
		return study.Common{}, fmt.Errorf("--dim and --batch_size must be ≥ 1")
	}
	co := study.Common{Model: c.model, D: c.dim, Batch: c.batch, Seed: c.seed, DType: dt, Backend: c.backend, Schedule: sc,
		Options: belm.SamplerOptions{BDIAGamma: c.gamma, EDICTP: c.p}}
	if !c.quiet {
		co.Progress = newProgress(os.Stderr).update
	}
	return co, nil
}

func (c *commonFlags) samplers() []string { return splitList(c.samplerType) }

func (c *commonFlags) stepCounts() ([]int, error) { return parseInts(c.steps, "num_inference_steps") }

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

// progress is a one-line progress bar on a terminal; silent otherwise (CI logs, pipes).
type progress struct {
	w  io.Writer
	on bool
}

func newProgress(f *os.File) *progress {
	st, err := f.Stat()
	return &progress{w: f, on: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

func (p *progress) update(done, total int, what string) {
	if !p.on || total == 0 {
		return
	}
	const width = 30
	n := done * width / total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %-30s", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, what)
	if done == total {
		fmt.Fprintln(p.w)
	}
}
