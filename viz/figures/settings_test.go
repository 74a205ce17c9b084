package figures

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/study"
)

// numbers is what a figure says: the strings and numbers of its JSON (object keys in
// sorted order, "seconds" left out: timings are not results), of its CSV and the pixels
// of its image.
type numbers struct {
	strs []string
	nums []float64
}

func (n *numbers) add(v any) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k != "seconds" {
				n.strs = append(n.strs, k)
				n.add(v[k])
			}
		}
	case []any:
		for _, e := range v {
			n.add(e)
		}
	case float64:
		n.nums = append(n.nums, v)
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			n.nums = append(n.nums, f)
		} else {
			n.strs = append(n.strs, v)
		}
	case nil:
		n.nums = append(n.nums, math.NaN()) // a failed measure
	default:
		n.strs = append(n.strs, fmt.Sprint(v))
	}
}

func numbersOf(t *testing.T, f Figure) numbers {
	t.Helper()
	var n numbers
	if f.JSON != nil {
		var v any
		if err := json.Unmarshal(f.JSON, &v); err != nil {
			t.Fatalf("%s: JSON: %v", f.Name, err)
		}
		n.add(v)
	}
	for _, row := range f.Table {
		for _, cell := range row {
			n.add(cell)
		}
	}
	if f.Image != nil {
		b := f.Image.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.RGBAModel.Convert(f.Image.At(x, y)).(color.RGBA)
				n.nums = append(n.nums, float64(c.R), float64(c.G), float64(c.B))
			}
		}
	}
	return n
}

// sameNumbers: equal strings and numbers equal to 1e-12 relative. The same settings run
// the same float64 arithmetic again, which the go backend repeats exactly; 1e-12 only
// leaves room for a reduction order that changes between runs. Every setting this test
// changes moves its figures' numbers by far more (1e-6 and up).
func sameNumbers(a, b numbers) bool {
	if !slices.Equal(a.strs, b.strs) || len(a.nums) != len(b.nums) {
		return false
	}
	for i, x := range a.nums {
		y := b.nums[i]
		if math.IsNaN(x) || math.IsNaN(y) {
			if math.IsNaN(x) != math.IsNaN(y) {
				return false
			}
			continue
		}
		if math.Abs(x-y) > 1e-12*math.Max(1, math.Max(math.Abs(x), math.Abs(y))) {
			return false
		}
	}
	return true
}

// allFigures computes every figure of All with c, by name.
func allFigures(t *testing.T, c Config) map[string]numbers {
	t.Helper()
	out := map[string]numbers{}
	for _, s := range plan(c) {
		figs, err := s.make()
		if err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		for _, f := range figs {
			out[f.Name] = numbersOf(t, f)
		}
	}
	return out
}

var (
	roundTripFigures = []string{"roundtrip_error", "precision", "inverted_noise"}
	orderFigures     = []string{"lte_order", "global_error"}
	interpolations   = []string{"interpolation_belm", "interpolation_ddim"}
)

func join(lists ...[]string) []string { return slices.Concat(lists...) }

// Each setting of Config, changed alone, must change the numbers of exactly the figures it
// applies to (the package doc says which), and leave every other figure's numbers as they
// were: a figure that ignored a setting, or one that a setting reached by accident, fails.
func TestEverySettingReachesItsFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("computes every figure 9 times (about 15 s)")
	}
	// Small, so that the whole set is quick; all four samplers everywhere, so that γ
	// (BDIA) and p (EDICT) have a sampler to act on in every figure comparing samplers.
	base := Config{Common: study.Common{D: 4, Batch: 4}, Steps: []int{4, 6}, Samplers: Samplers, InterpolationSteps: 5}
	linear := belm.DDPMConfig
	linear.TimestepSpacing = "linspace"
	leading := belm.SDConfig
	leading.TimestepSpacing = "leading"
	settings := []struct {
		name    string
		change  func(c *Config)
		affects []string
	}{
		{"--beta_schedule linear", func(c *Config) { c.Common.Schedule = linear },
			join(roundTripFigures, []string{"coefficients", "trajectories", "samples"}, interpolations)},
		{"--timestep_spacing leading", func(c *Config) { c.Common.Schedule = leading },
			join(roundTripFigures, []string{"coefficients", "trajectories", "samples"}, interpolations)},
		{"--bdia_gamma 0.5", func(c *Config) { c.Common.Options = belm.SamplerOptions{BDIAGamma: 0.5, EDICTP: 0.93} },
			join(roundTripFigures, orderFigures, []string{"trajectories", "samples"})},
		{"--edict_p 0.8", func(c *Config) { c.Common.Options = belm.SamplerOptions{BDIAGamma: 0.96, EDICTP: 0.8} },
			join(roundTripFigures, orderFigures, []string{"trajectories", "samples"})},
		// precision computes in both dtypes whatever the setting says.
		{"--dtype float32", func(c *Config) { c.Common.DType = dtypes.Float32 },
			join([]string{"roundtrip_error", "inverted_noise"}, orderFigures, []string{"trajectories", "samples"}, interpolations)},
		{"--sampler_type ddim,belm", func(c *Config) { c.Samplers = []string{"ddim", "belm"} },
			join(roundTripFigures, orderFigures, []string{"trajectories", "samples"})},
		// N, the smallest step count, goes from 4 to 5.
		{"--num_inference_steps 5,6", func(c *Config) { c.Steps = []int{5, 6} },
			join(roundTripFigures, []string{"coefficients", "trajectories", "samples"})},
		{"InterpolationSteps 6", func(c *Config) { c.InterpolationSteps = 6 }, interpolations},
	}
	before := allFigures(t, base)
	for _, s := range settings {
		c := base
		s.change(&c)
		after := allFigures(t, c)
		for name, b := range before {
			a, ok := after[name]
			if !ok {
				t.Errorf("%s: figure %s is gone", s.name, name)
				continue
			}
			if changed, want := !sameNumbers(a, b), slices.Contains(s.affects, name); changed != want {
				t.Errorf("%s: the numbers of %s changed: %v, want %v", s.name, name, changed, want)
			}
		}
	}
}

// The settings land where they should, by value: N sets the coefficient table's and the
// paths' lengths, the spacing the timesteps, the dtype the round-trip rows and the
// samplers the curves.
func TestSettingsByValue(t *testing.T) {
	c := Config{Common: study.Common{D: 4, Batch: 4}, Steps: []int{8, 5}}
	co, err := c.CoefficientStudy()
	if err != nil {
		t.Fatal(err)
	}
	// N = min(8, 5) = 5: O-BELM draws the sampling steps 1 … 4. Linspace timesteps are
	// round(linspace(999, 0, 5)) = 999, 749, 500, 250, 0: step 1 starts at 749.
	steps := co.Eq18()
	if co.N != 5 || len(steps) != 4 || steps[0].T != 749 {
		t.Errorf("coefficients: N %d, %d steps, first t %g; want 5, 4, 749", co.N, len(steps), steps[0].T)
	}
	c.Common.Schedule = belm.SDConfig
	c.Common.Schedule.TimestepSpacing = "leading"
	if co, err = c.CoefficientStudy(); err != nil || co.Eq18()[0].T != 600 { // leading, N = 5: 800, 600, …
		t.Errorf("leading spacing: first O-BELM step at t = %v (%v), want 600", co.Eq18()[0].T, err)
	}
	c.Common.DType = dtypes.Float32
	c.Samplers = []string{"ddim", "belm"}
	tr, err := c.TrajectoryStudy()
	if err != nil {
		t.Fatal(err)
	}
	// 6 points per sampler; each path holds x₀ and one latent a step: N + 1 points.
	if len(tr.Paths) != 12 || len(tr.Paths[0].Inversion) != 6 || len(tr.Paths[0].Sampling) != 6 || tr.Paths[11].Sampler != "belm" {
		t.Fatalf("trajectories: %d paths of %d and %d points, last %q; want 12 of 6 and 6, belm", len(tr.Paths), len(tr.Paths[0].Inversion), len(tr.Paths[0].Sampling), tr.Paths[11].Sampler)
	}
	rt, err := c.RoundTripStudy()
	if err != nil {
		t.Fatal(err)
	}
	rows := rt.Rows()
	if len(rows) != 4 || rows[0].DType != dtypes.Float32.String() || rows[0].Sampler != "ddim" || rows[3].Sampler != "belm" || rows[3].N != 5 {
		t.Errorf("round trips in %s: %d rows, first %s %s, last %s N=%d; want 4, Float32 ddim, belm N=5", rt.DType, len(rows), rows[0].DType, rows[0].Sampler, rows[3].Sampler, rows[3].N)
	}
}
