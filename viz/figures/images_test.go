package figures

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/study"
)

// rowDiff is the largest |a − b| between two rows of images (+Inf for rows of other sizes).
func rowDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	return belm.Compare(a, b, 1).MaxAbs
}

// The sample grid honours every setting it has, row by row: BDIA's γ moves only BDIA's
// row, EDICT's p only EDICT's, the schedule and its spacing every row (the ODE's too: its
// start σ̄ is the grid's top level), and float32 every sampler's row by float32 rounding
// (more than 1e-9 — 8e-7 measured for DDIM —, less than 1e-3 after 4 steps). "Unchanged" is
// bit for bit: the same float64 arithmetic on the go backend; "changed" is by more than
// 1e-6 for the settings that change the arithmetic itself.
func TestSamplesHonourConfig(t *testing.T) {
	base := Config{Common: study.Common{Schedule: belm.SDConfig}}
	names := []string{"ddim", "edict", "bdia", "belm"}
	grid := func(c Config) study.SampleGrid {
		t.Helper()
		g, err := c.SampleStudy(4, 2, names)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	ref := grid(base)
	if !slices.Equal(ref.Rows, append([]string{"ode"}, names...)) || ref.Cols != 2 || len(ref.Images[1]) != 2*256 {
		t.Fatalf("grid: rows %v, %d columns, %d values a row", ref.Rows, ref.Cols, len(ref.Images[1]))
	}
	linear, leading := belm.DDPMConfig, belm.SDConfig
	linear.TimestepSpacing, leading.TimestepSpacing = "linspace", "leading"
	for _, s := range []struct {
		name    string
		change  func(c *Config)
		changed []string // the rows that must change (by more than by); the others must not
		by      float64
	}{
		{"γ 0.5", func(c *Config) { c.Common.Options = belm.SamplerOptions{BDIAGamma: 0.5, EDICTP: 0.93} }, []string{"bdia"}, 1e-6},
		{"p 0.8", func(c *Config) { c.Common.Options = belm.SamplerOptions{BDIAGamma: 0.96, EDICTP: 0.8} }, []string{"edict"}, 1e-6},
		{"linear schedule", func(c *Config) { c.Common.Schedule = linear }, ref.Rows, 1e-6},
		{"leading spacing", func(c *Config) { c.Common.Schedule = leading }, ref.Rows, 1e-6},
		{"float32", func(c *Config) { c.Common.DType = dtypes.Float32 }, ref.Rows, 1e-9},
	} {
		c := base
		s.change(&c)
		g := grid(c)
		for i, row := range ref.Rows {
			d := rowDiff(g.Images[i], ref.Images[i])
			if want := slices.Contains(s.changed, row); want && d < s.by || !want && d != 0 {
				t.Errorf("%s: row %s moved by %.2e; want it to change: %v", s.name, row, d, want)
			}
			if s.name == "float32" && d > 1e-3 {
				t.Errorf("float32: row %s is %.2e from float64's: more than rounding", row, d)
			}
		}
	}
	f, err := DrawSamples(ref)
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Rows []string `json:"rows"`
		N    int      `json:"num_inference_steps"`
	}
	if err := json.Unmarshal(f.JSON, &js); err != nil || js.N != 4 || !slices.Equal(js.Rows, []string{"ODE (RK4)", "DDIM", "EDICT", "BDIA", "O-BELM"}) || f.Image == nil {
		t.Errorf("samples figure: %s (%v)", f.JSON, err)
	}
}

// The interpolation figure honours γ (BDIA's images move), the schedule and the dtype: its
// exact sampler's endpoints reproduce the inputs to ≤ 1e-10 in float64 and only to float32
// rounding in float32 (between 1e-9 and 1e-3 after 5 steps each way).
func TestInterpolationHonoursConfig(t *testing.T) {
	run := func(c Config, sampler string) study.InterpolationResult {
		t.Helper()
		r, err := c.InterpolationStudy(sampler, 5, 1)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	base := Config{}
	b64 := run(base, "bdia")
	gamma := base
	gamma.Common.Options = belm.SamplerOptions{BDIAGamma: 0.5, EDICTP: 0.93}
	if d := rowDiff(run(gamma, "bdia").Images, b64.Images); d < 1e-6 {
		t.Errorf("γ 0.5 moved BDIA's interpolation by %.2e only", d)
	}
	leading := base
	leading.Common.Schedule = belm.SDConfig
	leading.Common.Schedule.TimestepSpacing = "leading"
	if d := rowDiff(run(leading, "bdia").Images, b64.Images); d < 1e-6 {
		t.Errorf("leading spacing moved BDIA's interpolation by %.2e only", d)
	}
	f32 := base
	f32.Common.DType = dtypes.Float32
	e64, e32 := run(base, "belm").EndpointMaxAbs, run(f32, "belm").EndpointMaxAbs
	t.Logf("O-BELM endpoint error: float64 %.2e, float32 %.2e", e64, e32)
	if !(e64 <= 1e-10) || !(e32 > 1e-9 && e32 < 1e-3) {
		t.Errorf("O-BELM endpoint error: float64 %.2e (want ≤ 1e-10), float32 %.2e (want in (1e-9, 1e-3))", e64, e32)
	}
	f, err := DrawInterpolation(b64)
	if err != nil || f.Name != "interpolation_bdia" || f.Image == nil {
		t.Errorf("figure %q: %v", f.Name, err)
	}
}
