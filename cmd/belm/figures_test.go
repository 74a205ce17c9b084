package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
)

// Every flag of `belm figures` lands in the figures' Config, by value.
func TestFiguresFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "figs")
	_, c, err := parseFiguresFlags([]string{"--out", out, "--bdia_gamma", "0.5", "--edict_p", "0.8", "--beta_schedule", "linear",
		"--timestep_spacing", "leading", "--dtype", "float32", "--num_inference_steps", "20,5", "--model", "gmm", "--seed", "3"})
	if err != nil {
		t.Fatal(err)
	}
	sc := c.Schedule()
	if c.SamplerOptions() != (belm.SamplerOptions{BDIAGamma: 0.5, EDICTP: 0.8}) || sc.BetaSchedule != "linear" || sc.TimestepSpacing != "leading" ||
		sc.BetaStart != belm.DDPMConfig.BetaStart || sc.BetaEnd != belm.DDPMConfig.BetaEnd || c.DType() != dtypes.Float32 ||
		!slices.Equal(c.Steps, []int{20, 5}) || c.N() != 5 || c.Common.Model != "gmm" || c.Common.Seed != 3 {
		t.Errorf("config: options %+v, schedule %s/%s β %g…%g, dtype %s, steps %v (N %d), model %s, seed %d",
			c.SamplerOptions(), sc.BetaSchedule, sc.TimestepSpacing, sc.BetaStart, sc.BetaEnd, c.DType(), c.Steps, c.N(), c.Common.Model, c.Common.Seed)
	}
	// --sampler_type not given: each figure keeps its own samplers; given: all take it.
	if c.Samplers != nil || !slices.Equal(c.SamplersOr([]string{"ddim", "belm"}), []string{"ddim", "belm"}) {
		t.Errorf("no --sampler_type: Samplers = %v, want nil", c.Samplers)
	}
	_, c, err = parseFiguresFlags([]string{"--out", out, "--sampler_type", "bdia,belm3"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.SamplersOr(nil), []string{"bdia", "belm3"}) || c.DType() != dtypes.Float64 || c.Schedule().BetaSchedule != "scaled_linear" {
		t.Errorf("--sampler_type bdia,belm3: samplers %v, dtype %s, schedule %s", c.Samplers, c.DType(), c.Schedule().BetaSchedule)
	}
}
