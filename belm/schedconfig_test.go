package belm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An explicit nonsense value in a scheduler_config.json is an error naming the file, the
// field and the fix, not a silent default; absent (or null) fields take diffusers' defaults.
func TestLoadSchedulerConfigValidates(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, json string
		field      string // the field the error names; "" = accepted
		check      func(SchedulerConfig) bool
	}{
		{"t0", `{"num_train_timesteps": 0}`, "num_train_timesteps", nil},
		{"t1", `{"num_train_timesteps": 1}`, "num_train_timesteps", nil},
		{"tneg", `{"num_train_timesteps": -1000}`, "num_train_timesteps", nil},
		{"t2", `{"num_train_timesteps": 2}`, "", func(c SchedulerConfig) bool { return c.NumTrainTimesteps == 2 }},
		{"tabsent", `{"beta_schedule": "linear"}`, "", func(c SchedulerConfig) bool {
			return c.NumTrainTimesteps == 1000 && c.ClipSampleRange == 1 && c.BetaStart == 0.0001 && c.BetaEnd == 0.02 && c.StepsOffset == 0
		}},
		{"tnull", `{"num_train_timesteps": null, "clip_sample_range": null, "beta_start": null, "trained_betas": null}`, "", func(c SchedulerConfig) bool {
			return c.NumTrainTimesteps == 1000 && c.ClipSampleRange == 1 && c.BetaStart == 0.0001
		}},
		{"clipneg", `{"clip_sample": true, "clip_sample_range": -1}`, "clip_sample_range", nil},
		{"clip0", `{"clip_sample_range": 0}`, "clip_sample_range", nil},
		{"clip", `{"clip_sample": true, "clip_sample_range": 0.5}`, "", func(c SchedulerConfig) bool { return c.ClipSample && c.ClipSampleRange == 0.5 }},
		{"bs0", `{"beta_start": 0, "beta_end": 0.02}`, "beta_start", nil},
		{"bsneg", `{"beta_start": -0.001}`, "beta_start", nil},
		{"be1", `{"beta_start": 0.0001, "beta_end": 1}`, "beta_end", nil},
		{"be2", `{"beta_end": 2.5}`, "beta_end", nil},
		{"bsonly", `{"beta_start": 0.001}`, "", func(c SchedulerConfig) bool { return c.BetaStart == 0.001 && c.BetaEnd == 0.02 }},
		{"beonly", `{"beta_end": 0.012}`, "", func(c SchedulerConfig) bool { return c.BetaStart == 0.0001 && c.BetaEnd == 0.012 }},
		{"offneg", `{"steps_offset": -1}`, "steps_offset", nil},
		{"off1", `{"steps_offset": 1}`, "", func(c SchedulerConfig) bool { return c.StepsOffset == 1 }},
	} {
		p := filepath.Join(dir, tc.name+".json")
		if err := os.WriteFile(p, []byte(tc.json), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadSchedulerConfig(p)
		if tc.field == "" {
			if err != nil || !tc.check(c) {
				t.Errorf("%s %s: %+v, %v", tc.name, tc.json, c, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.field+" is ") || !strings.Contains(err.Error(), "must") {
			t.Errorf("%s %s: want an error naming %s, the field %s and the fix, got %v", tc.name, tc.json, p, tc.field, err)
		}
	}
	// Defaults keeps reading zero as unset for configurations built in code.
	if c := (SchedulerConfig{}).Defaults(); c.NumTrainTimesteps != 1000 || c.ClipSampleRange != 1 || c.BetaEnd != 0.02 {
		t.Errorf("Defaults of the zero config: %+v", c)
	}
}

// The one loader applies DDIMScheduler.from_config's defaults to a DDPMScheduler's file (clip_sample
// and set_alpha_to_one true when absent), keeps an explicit set_alpha_to_one false, and refuses
// dynamic thresholding and unknown prediction types rather than ignoring them.
func TestLoadSchedulerConfigDDIMDefaults(t *testing.T) {
	c, err := LoadSchedulerConfig("testdata/ddpm_scheduler_config.json")
	if err != nil {
		t.Fatal(err)
	}
	if !c.ClipSample || c.TimestepSpacing != "leading" || c.BetaSchedule != "linear" || c.BetaEnd != 0.02 || c.NumTrainTimesteps != 1000 ||
		c.SetAlphaToOne == nil || !*c.SetAlphaToOne || c.StepsOffset != 0 || c.PredictionType != "epsilon" {
		t.Errorf("DDPM config: %+v", c)
	}
	dir := t.TempDir()
	for name, js := range map[string]string{
		"noclip":  `{"_class_name": "DDPMScheduler", "beta_schedule": "linear"}`,
		"clipoff": `{"clip_sample": false, "timestep_spacing": "trailing"}`,
		"thresh":  `{"thresholding": true}`,
		"bad":     `[1, 2]`,
		"pred":    `{"prediction_type": "flow"}`,
		"alpha1":  `{"set_alpha_to_one": false, "prediction_type": "v_prediction"}`,
	} {
		p := filepath.Join(dir, name+".json")
		os.WriteFile(p, []byte(js), 0o644)
		c, err := LoadSchedulerConfig(p)
		switch name {
		case "noclip":
			if err != nil || !c.ClipSample {
				t.Errorf("%s: clip_sample absent must default to true (DDIMScheduler): %+v %v", name, c, err)
			}
		case "clipoff":
			if err != nil || c.ClipSample || c.TimestepSpacing != "trailing" {
				t.Errorf("%s: %+v %v", name, c, err)
			}
		case "alpha1":
			if err != nil || c.SetAlphaToOne == nil || *c.SetAlphaToOne || c.PredictionType != "v_prediction" {
				t.Errorf("%s: set_alpha_to_one false must be kept (Stable Diffusion 1.x ships it): %+v %v", name, c, err)
			}
		default:
			if err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	}
}
