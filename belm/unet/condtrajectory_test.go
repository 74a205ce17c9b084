package unet

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
)

// sdTrajectoryMeta is the part of sd_ddim_cfg_trajectory.json the test reads.
type sdTrajectoryMeta struct {
	NumInferenceSteps int     `json:"num_inference_steps"`
	GuidanceScale     float64 `json:"guidance_scale"`
	Variants          map[string]struct {
		SchedulerConfig json.RawMessage `json:"scheduler_config"`
		Timesteps       []int           `json:"timesteps"`
		PrevTimesteps   []int           `json:"prev_timesteps_used_by_step"`
	} `json:"variants"`
}

// TestSDDDIMCFGTrajectory runs diffusers' 10-step DDIM with classifier-free guidance 3.0
// (StableDiffusionPipeline's loop: x twice, context [uncond; cond], uncond first) through
// belm's runner with the tiny SD UNet, against sd_ddim_cfg_trajectory: every latent.
//
// The scheduler is the variant's DDIMScheduler config read by belm.LoadSchedulerConfig
// (set_alpha_to_one false: the last step lands on ᾱ₀, belm.FinalLevel). "leading" runs
// belm's own grid (Schedule.Grid, DDIM.ForSchedule). "linspace" cannot: diffusers' step()
// takes the previous timestep as t − T/N (999 → 899, …, 111 → 11, 0 → −100 = ᾱ₀), not the
// next grid point (888), so consecutive steps do not share a level; each step is run on
// its own two-level grid [prev, t] (DDIM is one-step, so this is exactly diffusers' map),
// the last (0 → −100) on [clean, t=0] with DDIM.Final = ᾱ₀ = ᾱ(0), belm's identity step.
//
// Tolerances (fixture README): float32 ≤ 1e-4·max(1,|x|): ten UNet calls of ~2e-6 error
// each, amplified by guidance 3 and the growth of |x| to ~39 (measured 7e-7); float64 ≤
// 1e-10·max(1,|x|) with the float32 sinusoid, as diffusers (measured 2e-15: the UNet
// alone is 2e-15, the rest float64 rounding of the step coefficients).
func TestSDDDIMCFGTrajectory(t *testing.T) {
	data, err := os.ReadFile(sdTrajectory + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var meta sdTrajectoryMeta
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	f := openSafetensors(t, sdTrajectory+".safetensors")
	u := loadSD(t)
	for _, variant := range []string{"linspace", "leading"} {
		v := meta.Variants[variant]
		path := filepath.Join(t.TempDir(), "scheduler_config.json")
		if err := os.WriteFile(path, v.SchedulerConfig, 0o644); err != nil {
			t.Fatal(err)
		}
		scfg, err := belm.LoadSchedulerConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct {
			name, suffix string
			dtype        dtypes.DType
			tol          float64
		}{{"f32", "", dtypes.Float32, 1e-4}, {"f64", "_f64", dtypes.Float64, 1e-10}} {
			scfg.Float32 = p.dtype == dtypes.Float32
			sched, err := belm.NewSchedule(scfg)
			if err != nil {
				t.Fatal(err)
			}
			checkSchedule(t, sched, meta.NumInferenceSteps, v.Timesteps, v.PrevTimesteps, variant)
			r, err := belm.NewRunner(u, "go", p.dtype)
			if err != nil {
				t.Fatal(err)
			}
			cond, err1 := f.Tensor("cond_embeds"+p.suffix, p.dtype)
			uncond, err2 := f.Tensor("uncond_embeds"+p.suffix, p.dtype)
			if err := errors2(err1, err2); err != nil {
				t.Fatal(err)
			}
			if err := r.SetConditioning(cond, uncond, meta.GuidanceScale); err != nil {
				t.Fatal(err)
			}
			xs, xsShape := fixture(t, f, variant+"."+p.name+".xs")
			worst, at := runSDTrajectory(t, r, sched, variant, v.Timesteps, xs, xsShape, p.dtype)
			t.Logf("%s %s: worst error %.2e·max(1,|x|) at step %d (%d compilations)", variant, p.name, worst, at, r.Compilations())
			if worst > p.tol {
				t.Errorf("%s %s: error %.2e·max(1,|x|) at step %d > %.0e", variant, p.name, worst, at, p.tol)
			}
		}
	}
}

func errors2(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// checkSchedule checks belm's timesteps against diffusers' and the previous timesteps
// diffusers' step() uses against t − T/N.
func checkSchedule(t *testing.T, sched *belm.Schedule, n int, want, prev []int, variant string) {
	t.Helper()
	ts, err := sched.Timesteps(n)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ts, want) {
		t.Fatalf("%s: timesteps %v, diffusers %v", variant, ts, want)
	}
	for k, tk := range ts {
		if tk-sched.Config.NumTrainTimesteps/n != prev[k] {
			t.Fatalf("%s: step %d: prev %d, diffusers %d", variant, k, tk-sched.Config.NumTrainTimesteps/n, prev[k])
		}
	}
}

// runSDTrajectory runs the 10 steps from xs[0] and returns the worst error relative to
// max(1, |x|) over the steps, and its step.
func runSDTrajectory(t *testing.T, r *belm.Runner, sched *belm.Schedule, variant string, ts []int,
	xs []float64, xsShape []int, dt dtypes.DType) (float64, int) {
	t.Helper()
	per := len(xs) / xsShape[0]
	x, err := belm.NewTensor(xs[:per], dt, xsShape[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	n := len(ts)
	var full *belm.Grid
	if variant == "leading" {
		if full, err = sched.Grid(n); err != nil {
			t.Fatal(err)
		}
	}
	final := belm.DDIM{}.ForSchedule(sched, true) // lands on ᾱ₀ at grid level 0
	worst, worstAt := 0.0, 0
	for k, tk := range ts {
		g, from, s := full, n-k, final
		if full == nil { // linspace: the two levels diffusers' step k uses
			from = 1
			lv := []belm.Level{belm.Clean, sched.Level(tk)}
			if tp := tk - sched.Config.NumTrainTimesteps/n; tp >= 0 {
				lv[0], s = sched.Level(tp), belm.DDIM{}
			} // else (t = 0 → −100): ᾱ₀ by final, the identity up to rounding (ᾱ₀ = ᾱ(t))
			if g, err = belm.NewGrid(lv); err != nil {
				t.Fatal(err)
			}
		}
		var st belm.State
		st, err = r.Run(s, g, belm.State{Level: from, Latents: []*tensors.Tensor{x}}, from-1)
		if err != nil {
			t.Fatal(err)
		}
		x = st.X()
		got, _ := belm.Values(x)
		ref := xs[(k+1)*per : (k+2)*per]
		scale := 1.0
		for _, v := range ref {
			scale = math.Max(scale, math.Abs(v))
		}
		for j := range ref {
			if e := math.Abs(got[j]-ref[j]) / scale; e > worst || math.IsNaN(e) {
				worst, worstAt = e, k
			}
		}
	}
	return worst, worstAt
}
