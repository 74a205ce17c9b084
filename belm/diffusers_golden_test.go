package belm_test

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
)

// dummyModel is diffusers' scheduler-test model (tests/schedulers/test_schedulers.py,
// SchedulerCommonTest.dummy_model): out = x·t/(t+1), t the network timestep it is called
// with. Its output is read as ε, or as v with prediction "v_prediction".
type dummyModel struct{ prediction string }

func (m dummyModel) Eps(_ *model.Scope, x *Node, tm belm.Time, _ *Node) *Node {
	return Div(Mul(x, tm.T), AddScalar(tm.T, 1))
}

func (m dummyModel) PredictionType() string {
	if m.prediction == "" {
		return "epsilon"
	}
	return m.prediction
}

// dummySampleDeter is SchedulerCommonTest.dummy_sample_deter, arange(768)/768 laid out as
// [4, 3, 8, 8] by a reshape and a permute; every step here is elementwise, so the layout does
// not change the sums. flip gives dummy_noise_deter, (767 − i)/768 at the same positions.
func dummySampleDeter(flip bool) []float64 {
	v := make([]float64, 768)
	for i := range v {
		j := i
		if flip {
			j = 767 - i
		}
		v[i] = float64(float32(j) / 768)
	}
	return v
}

// diffusers' own scheduler tests run a full 10-step loop of the dummy model on
// dummy_sample_deter and compare Σ|x| and mean |x| of the result with golden numbers. These
// are every full-loop variant of tests/schedulers/test_scheduler_ddim.py (DDIMScheduler) and
// tests/schedulers/test_scheduler_ddim_inverse.py (DDIMInverseScheduler), run through this
// package's runner: DDIM with Clip = 1 (their config's clip_sample), Final = FinalLevel (their
// set_alpha_to_one; unset means true) and, for the inverse scheduler, InvertDiffusers. The
// golden numbers are those of
// https://github.com/huggingface/diffusers/blob/58eb52c0803ea9af3abec60841c2a093bdf1f951/tests/schedulers/
// (diffusers 0.40.0.dev0; unchanged since v0.22.0, 2023).
//
// Tolerances. diffusers asserts |Σ − golden| < 1e-2 and |mean − golden| < 1e-3. Here the
// schedule is diffusers' float32 ᾱ bit for bit (Config.Float32) and the loop runs in float64
// (and, as a check of the float32 path, in float32). What is left is (a) the golden numbers'
// printing: 4 decimals for the sums and most means, 6 for one mean, so half a unit of the last
// digit, 5e-5 or 5e-7; (b) diffusers' own float32 rounding, ~10 roundings of 6e-8 relative
// per value over the loop, ≤ 3e-7·Σ on the sum (measured ≤ 1.2e-7·Σ) and ≤ 1e-6 on a mean of
// values ≤ 2. So |ΔΣ| ≤ 5e-5 + 3e-7·Σ (at most 4.7e-4, 20× tighter than diffusers' 1e-2;
// measured ≤ 1.6e-4) and |Δmean| ≤ half a unit of its last digit + 1e-6 (at most 5.1e-5, 20×
// tighter than 1e-3; measured ≤ 4.3e-5).
func TestDiffusersGoldenSums(t *testing.T) {
	for _, tc := range []struct {
		name         string // the diffusers test
		inverse      bool
		betaStart    float64
		alphaToOne   *bool // set_alpha_to_one; nil: not given (true)
		prediction   string
		noise        bool // test_full_loop_with_noise: add_noise at timesteps[8] = 100, then 2 steps
		sum, mean    float64
		meanHalfUnit float64 // half a unit of the golden mean's last printed digit
	}{
		{"DDIMSchedulerTest.test_full_loop_no_noise", false, 0.0001, nil, "", false, 172.0067, 0.223967, 5e-7},
		{"DDIMSchedulerTest.test_full_loop_with_v_prediction", false, 0.0001, nil, "v_prediction", false, 52.5302, 0.0684, 5e-5},
		{"DDIMSchedulerTest.test_full_loop_with_set_alpha_to_one", false, 0.01, ptr(true), "", false, 149.8295, 0.1951, 5e-5},
		{"DDIMSchedulerTest.test_full_loop_with_no_set_alpha_to_one", false, 0.01, ptr(false), "", false, 149.0784, 0.1941, 5e-5},
		{"DDIMSchedulerTest.test_full_loop_with_noise", false, 0.0001, nil, "", true, 354.5418, 0.4616, 5e-5},
		{"DDIMInverseSchedulerTest.test_full_loop_no_noise", true, 0.0001, nil, "", false, 671.6816, 0.8746, 5e-5},
		{"DDIMInverseSchedulerTest.test_full_loop_with_v_prediction", true, 0.0001, nil, "v_prediction", false, 1394.2185, 1.8154, 5e-5},
		{"DDIMInverseSchedulerTest.test_full_loop_with_set_alpha_to_one", true, 0.01, ptr(true), "", false, 539.9622, 0.7031, 5e-5},
		{"DDIMInverseSchedulerTest.test_full_loop_with_no_set_alpha_to_one", true, 0.01, ptr(false), "", false, 542.6722, 0.7066, 5e-5},
	} {
		cfg := belm.SchedulerConfig{NumTrainTimesteps: 1000, BetaStart: tc.betaStart, BetaEnd: 0.02, BetaSchedule: "linear",
			ClipSample: true, SetAlphaToOne: tc.alphaToOne, Float32: true}
		sched, err := belm.NewSchedule(cfg)
		if err != nil {
			t.Fatal(err)
		}
		g, err := sched.Grid(10) // leading: timesteps 900 … 0, levels 10 … 1
		if err != nil {
			t.Fatal(err)
		}
		final := belm.FinalLevel(sched)
		s := belm.DDIM{Clip: 1, Final: &final}
		x, from, to := dummySampleDeter(false), 10, 0
		switch {
		case tc.inverse: // timesteps 0, 100, …, 900: from the initial ᾱ (Final) up to level 10
			s.Inversion = belm.InvertDiffusers
			from, to = 0, 10
		case tc.noise: // scheduler.add_noise(sample, noise, 100), then the steps 100 → 0 → final
			n, l := dummySampleDeter(true), sched.Level(100)
			for i := range x {
				x[i] = l.Alpha*x[i] + l.Sigma*n[i]
			}
			from = 2
		}
		for _, dt := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
			r, err := belm.NewRunner(dummyModel{tc.prediction}, "go", dt)
			if err != nil {
				t.Fatal(err)
			}
			xt, _ := belm.NewTensor(x, dt, 4, 3, 8, 8)
			st, err := r.Run(s, g, belm.State{Level: from, Latents: []*tensors.Tensor{xt}}, to)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.name, dt, err)
			}
			sum := 0.0
			for _, v := range values(t, st.X()) {
				sum += math.Abs(v)
			}
			mean := sum / 768
			t.Logf("%-62s %s Σ|x| %.6f (%+.1e), mean %.7f (%+.1e)", tc.name, dt, sum, sum-tc.sum, mean, mean-tc.mean)
			if tol := 5e-5 + 3e-7*tc.sum; math.Abs(sum-tc.sum) > tol {
				t.Errorf("%s %s: Σ|x| = %.6f, diffusers %.4f: off by %.1e > %.1e", tc.name, dt, sum, tc.sum, sum-tc.sum, tol)
			}
			if tol := tc.meanHalfUnit + 1e-6; math.Abs(mean-tc.mean) > tol {
				t.Errorf("%s %s: mean |x| = %.7f, diffusers %g: off by %.1e > %.1e", tc.name, dt, mean, tc.mean, mean-tc.mean, tol)
			}
		}
	}
}

// FinalLevel is diffusers' final_alpha_cumprod: ᾱ = 1 (the clean endpoint) with
// set_alpha_to_one true or unset, ᾱ₀ = 1 − β₀ without it (0.99 for β₀ = 0.01, exact to the
// float64 rounding of 1 − 0.01).
func TestFinalLevel(t *testing.T) {
	for _, tc := range []struct {
		a1   *bool
		want float64 // ᾱ of the final level
	}{{nil, 1}, {ptr(true), 1}, {ptr(false), 0.99}} {
		sched, err := belm.NewSchedule(belm.SchedulerConfig{BetaStart: 0.01, BetaEnd: 0.02, SetAlphaToOne: tc.a1})
		if err != nil {
			t.Fatal(err)
		}
		l := belm.FinalLevel(sched)
		if ab := l.Alpha * l.Alpha; math.Abs(ab-tc.want) > 1e-15 || math.Abs(l.Sigma*l.Sigma-(1-tc.want)) > 1e-15 {
			t.Errorf("set_alpha_to_one %v: final level %+v (ᾱ %.17g), want ᾱ = %g", tc.a1, l, ab, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
