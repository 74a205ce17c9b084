package belm

import (
	"math"
	"slices"
	"testing"
)

func mustSchedule(t *testing.T, c SchedulerConfig) *Schedule {
	t.Helper()
	s, err := NewSchedule(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScheduleEndpoints(t *testing.T) {
	// Spec §1.1: ᾱ_0, ᾱ_999 and σ̄_max of the two schedules the paper uses (float64).
	for _, tc := range []struct {
		name          string
		c             SchedulerConfig
		ab0, ab999    float64
		sigmaBarMax   float64
		relTolAb999   float64
		relTolSigmaBM float64
	}{
		{"linear", DDPMConfig, 0.9999, 4.036e-5, 157.4, 1e-3, 1e-3},
		{"scaled_linear", SDConfig, 0.99915, 4.660e-3, 14.615, 1e-3, 1e-4},
	} {
		s := mustSchedule(t, tc.c)
		if got := s.AlphasCumprod[0]; math.Abs(got-tc.ab0) > 1e-12 {
			t.Errorf("%s: ᾱ_0 = %.15g, want %g", tc.name, got, tc.ab0)
		}
		if got := s.AlphasCumprod[999]; math.Abs(got/tc.ab999-1) > tc.relTolAb999 {
			t.Errorf("%s: ᾱ_999 = %g, want %g", tc.name, got, tc.ab999)
		}
		if got := s.Level(999).SigmaBar(); math.Abs(got/tc.sigmaBarMax-1) > tc.relTolSigmaBM {
			t.Errorf("%s: σ̄_max = %g, want %g", tc.name, got, tc.sigmaBarMax)
		}
	}
}

func TestCosineSchedule(t *testing.T) {
	s := mustSchedule(t, SchedulerConfig{BetaSchedule: "squaredcos_cap_v2"})
	// β_0 = 1 − ᾱ(1/1000)/ᾱ(0) for ᾱ(t) = cos²((t+0.008)/1.008·π/2); β is capped at 0.999.
	abar := func(x float64) float64 { return math.Pow(math.Cos((x+0.008)/1.008*math.Pi/2), 2) }
	if want := 1 - abar(0.001)/abar(0); math.Abs(s.Betas[0]-want) > 1e-15 {
		t.Errorf("β_0 = %g, want %g", s.Betas[0], want)
	}
	if s.Betas[999] != 0.999 {
		t.Errorf("β_999 = %g, want the cap 0.999", s.Betas[999])
	}
}

func TestTimesteps(t *testing.T) {
	sd := mustSchedule(t, SDConfig)
	ddpm := mustSchedule(t, DDPMConfig)
	trailing := mustSchedule(t, SchedulerConfig{TimestepSpacing: "trailing"})
	offset := mustSchedule(t, SchedulerConfig{TimestepSpacing: "leading", StepsOffset: 1})
	for _, tc := range []struct {
		name string
		s    *Schedule
		n    int
		want []int
	}{
		{"SD linspace N=10", sd, 10, []int{999, 888, 777, 666, 555, 444, 333, 222, 111, 0}},
		{"DDPM leading N=10", ddpm, 10, []int{900, 800, 700, 600, 500, 400, 300, 200, 100, 0}},
		{"leading offset 1", offset, 4, []int{751, 501, 251, 1}},
		{"trailing N=4", trailing, 4, []int{999, 749, 499, 249}},
		{"linspace N=1", sd, 1, []int{0}},
	} {
		got, err := tc.s.Timesteps(tc.n)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// Spec §1.2: numpy's arithmetic (step first, then round half to even) gives 499 at N=27,
	// k=13, where the exact rational gives 500; N=50 starts 999, 979, 958 and ends 41, 20, 0.
	ts27, _ := sd.Timesteps(27)
	if ts27[13] != 499 {
		t.Errorf("linspace N=27, k=13: %d, want 499 (numpy)", ts27[13])
	}
	ts50, _ := sd.Timesteps(50)
	if !slices.Equal(ts50[:3], []int{999, 979, 958}) || !slices.Equal(ts50[47:], []int{41, 20, 0}) {
		t.Errorf("linspace N=50: %v … %v", ts50[:3], ts50[47:])
	}
	// N=100 has gaps of 10 or 11.
	ts100, _ := sd.Timesteps(100)
	for k := 1; k < 100; k++ {
		if d := ts100[k-1] - ts100[k]; d != 10 && d != 11 {
			t.Fatalf("linspace N=100: gap %d at k=%d", d, k)
		}
	}
}

func TestTimestepErrors(t *testing.T) {
	sd := mustSchedule(t, SDConfig)
	for _, n := range []int{0, -3, 1001} {
		if _, err := sd.Timesteps(n); err == nil {
			t.Errorf("N=%d: no error", n)
		}
	}
	if _, err := mustSchedule(t, SchedulerConfig{TimestepSpacing: "karras"}).Timesteps(10); err == nil {
		t.Error("unknown spacing: no error")
	}
	if _, err := NewSchedule(SchedulerConfig{BetaSchedule: "cosine"}); err == nil {
		t.Error("unknown beta_schedule: no error")
	}
	if _, err := NewSchedule(SchedulerConfig{NumTrainTimesteps: 3, TrainedBetas: []float64{0.1, 0.2}}); err == nil {
		t.Error("trained_betas of the wrong length: no error")
	}
	if _, err := mustSchedule(t, SchedulerConfig{StepsOffset: 5}).Timesteps(1000); err == nil {
		t.Error("steps_offset pushing t past T: no error")
	}
}

func TestGridCleanEndpoint(t *testing.T) {
	g, err := mustSchedule(t, SDConfig).Grid(10)
	if err != nil {
		t.Fatal(err)
	}
	if g.N() != 10 || g.Levels[0] != Clean || g.Levels[10].T != 999 || g.Levels[1].T != 0 {
		t.Fatalf("grid levels: %+v", g.Levels)
	}
	if g.Net[0].T != 1 || g.Net[1] != g.Levels[1] {
		t.Errorf("ε(x_0) must be evaluated at t=1: Net[0] = %+v", g.Net[0])
	}
	// Spec §1.2 table: SD linspace N=10 has h_N = 6.775, h_1 = σ̄(t=0) = 0.02917.
	if h := g.H(10); math.Abs(h-6.775) > 1e-3 {
		t.Errorf("h_N = %g, want 6.775", h)
	}
	if h := g.H(1); math.Abs(h-0.02917) > 1e-5 {
		t.Errorf("h_1 = %g, want 0.02917", h)
	}
	if _, err := NewGrid([]Level{Clean, Clean}); err == nil {
		t.Error("a grid with equal σ̄: no error")
	}
}

// A diffusers scheduler_config.json (google/ddpm-cifar10-32's, from the fixture) loads with
// diffusers' defaults filled in: leading spacing, ε-prediction.
func TestLoadSchedulerConfig(t *testing.T) {
	c, err := LoadSchedulerConfig("testdata/ddpm_scheduler_config.json")
	if err != nil {
		t.Fatal(err)
	}
	if c.BetaSchedule != "linear" || c.BetaStart != 0.0001 || c.BetaEnd != 0.02 || c.TimestepSpacing != "leading" || c.PredictionType != "epsilon" || !c.ClipSample {
		t.Errorf("%+v", c)
	}
	if _, err := LoadSchedulerConfig("testdata/nonexistent.json"); err == nil {
		t.Error("missing file: no error")
	}
}
