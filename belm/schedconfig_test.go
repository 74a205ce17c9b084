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
