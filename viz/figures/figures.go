// Package figures computes the workbench's standard figures from the analytic models and
// writes them: each figure is a study (package study, belm) turned into a picture (package
// viz), with the numbers behind it. `belm figures --out DIR` and the notebooks call it.
//
//	roundtrip_error   reconstruction error vs N per sampler (in Config's dtype)  (viz figure 1)
//	global_error      sampling error vs N against the exact ODE solution       (1)
//	lte_order         local truncation error vs h with slopes 2 and 3          (2)
//	precision         round-trip error, float64 vs float32                     (3)
//	inverted_noise    histogram of the inverted x_N vs N(0,1)                   (4)
//	samples           a grid of "shapes" images sampled by each sampler        (5)
//	interpolation_*   slerp between inverted images, 11 weights (O-BELM, DDIM) (5)
//	trajectories      2-D sampling and inversion paths over the density        (6)
//	coefficients      O-BELM coefficients across the steps of the schedule     (7)
//
// # Compute, then draw
//
// Computing and drawing are separate steps with a typed value between them. A Config
// method runs the study behind a figure and returns package study's typed result; a Draw
// function turns that result into a Figure (the picture, plus NAME.json and NAME.csv
// already encoded); a function named after the figure does both:
//
//	rt, err := c.RoundTripStudy()          // study.RoundTrips: the numbers, typed
//	f, err := figures.DrawRoundTripError(rt) // the figure of those numbers
//	figs, err := figures.RoundTrip(c)      // both steps, all three round-trip figures
//
// Read numbers from the typed result, never from a Figure: a Figure holds only what Show
// and Save need. The pairs are RoundTripStudy (study.RoundTrips: DrawRoundTripError,
// DrawPrecision, DrawInvertedNoise), OrderStudy ([]study.OrderResult: DrawLTEOrder,
// DrawGlobalError), CoefficientStudy (study.CoefficientResult: DrawCoefficients),
// TrajectoryStudy (study.TrajectoryResult: DrawTrajectories), SampleStudy
// (study.SampleGrid: DrawSamples) and InterpolationStudy (study.InterpolationResult:
// DrawInterpolation).
//
// # Settings
//
// Config holds every setting, and every figure reads the ones that apply to it: the
// schedule (Common.Schedule: β schedule, spacing, …), BDIA's γ and EDICT's p
// (Common.Options), the dtype (Common.DType), the samplers (Samplers) and the step counts
// (Steps; N for the figures drawn at one step count). The order studies measure orders in
// σ̄ on their own grids (study.OrderConfig), so the schedule and N do not enter them; the
// coefficients are O-BELM's, host float64, so only the schedule and N enter them.
package figures

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/gomlx/compute/dtypes"
	"gonum.org/v1/plot"

	"github.com/belmlab/workbench/internal/atomicfile"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/viz"
)

// Figure is a drawn figure: a plot or an image, plus the numbers behind it, encoded. The
// numbers themselves, typed, are the study result it was drawn from (see the package doc).
type Figure struct {
	Name  string
	Plot  *plot.Plot  // nil for image figures
	Image image.Image // nil for plots
	JSON  []byte      // written as NAME.json (nil: none): the study result, indented
	Table [][]string  // written as NAME.csv (first row: the header)
}

// withData returns f with JSON set to v, indented as NAME.json holds it.
func (f Figure) withData(v any) (Figure, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return Figure{}, fmt.Errorf("figure %s: encoding its data as JSON: %w", f.Name, err)
	}
	f.JSON = append(b, '\n')
	return f, nil
}

// Show displays the figure inline in a GoNB notebook (nothing elsewhere).
func (f Figure) Show() {
	if f.Plot != nil {
		viz.Show(f.Plot)
	} else if f.Image != nil {
		viz.ShowImage(f.Image)
	}
}

// Save writes NAME.png (+ NAME.svg for plots), NAME.json and NAME.csv into dir, each
// atomically (a temporary file renamed into place).
func (f Figure) Save(dir string) error {
	if f.Plot != nil {
		if err := viz.Save(f.Plot, dir, f.Name, 0, 0); err != nil {
			return err
		}
	}
	if f.Image != nil {
		if err := viz.SaveImagePNG(f.Image, filepath.Join(dir, f.Name+".png")); err != nil {
			return err
		}
	}
	if f.JSON != nil {
		if err := atomicfile.WriteFile(filepath.Join(dir, f.Name+".json"), f.JSON); err != nil {
			return err
		}
	}
	if len(f.Table) > 0 {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		if err := w.WriteAll(f.Table); err != nil {
			return fmt.Errorf("figure %s: %w", f.Name, err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, f.Name+".csv"), b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// Config sets up the figure studies; its zero value is the default: the go backend, the
// analytic models as in package study, the SD schedule (scaled_linear, linspace), BDIA at
// γ = 0.96, EDICT at p = 0.93, float64.
type Config struct {
	// Common is the model, schedule, sampler options, dtype and backend (see Defaults).
	Common study.Common
	// Steps are the step counts of the error-vs-N figures (default 10, 20, 50, 100); the
	// figures drawn at one step count take the smallest (N).
	Steps []int
	// Samplers, when set, are the samplers of every figure that compares samplers. Unset,
	// each figure has its own set: Samplers for the round trips and the sample grid,
	// OrderSamplers for the orders, TrajectorySamplers for the 2-D paths.
	Samplers []string
	// InterpolationSteps is the N of the interpolation figures (default 50).
	InterpolationSteps int
}

// Samplers of the round-trip figures and the sample grid (BDIA at γ = 0.96 and EDICT at
// p = 0.93 by default).
var Samplers = []string{"ddim", "edict", "bdia", "belm"}

// OrderSamplers are the samplers of the order figures when Config.Samplers is unset: one
// of each order (DDIM 1, O-BELM 2) and BDIA, whose order is DDIM's.
var OrderSamplers = []string{"ddim", "bdia", "belm"}

// TrajectorySamplers are the samplers of the 2-D paths when Config.Samplers is unset: an
// inexact and an exact inversion (more paths hide each other).
var TrajectorySamplers = []string{"ddim", "belm"}

// Defaults is c.Common with every unset field at the value the studies use.
func (c Config) Defaults() study.Common { return c.Common.Defaults() }

// SamplerOptions are BDIA's γ and EDICT's p (belm.DefaultSamplerOptions when unset).
func (c Config) SamplerOptions() belm.SamplerOptions { return c.Defaults().Options }

// Sampler is the sampler of a --sampler_type name with c's γ and p.
func (c Config) Sampler(name string) (belm.Sampler, error) {
	return belm.ParseSampler(name, c.SamplerOptions())
}

// SamplersOr is Samplers, or def when Samplers is unset.
func (c Config) SamplersOr(def []string) []string {
	if len(c.Samplers) == 0 {
		return def
	}
	return c.Samplers
}

// Schedule is the noise schedule and timestep spacing (belm.SDConfig when unset).
func (c Config) Schedule() belm.SchedulerConfig { return c.Defaults().Schedule }

// Grid is the timestep grid of the schedule with n steps.
func (c Config) Grid(n int) (*belm.Grid, error) { return c.Common.Grid(n) }

// DType is the dtype the figures compute in (float64 when unset); the precision figure
// computes in both.
func (c Config) DType() dtypes.DType { return c.Defaults().DType }

// StepCounts are Steps, or 10, 20, 50, 100 when unset.
func (c Config) StepCounts() []int {
	if len(c.Steps) == 0 {
		return []int{10, 20, 50, 100}
	}
	return c.Steps
}

// N is the step count of the figures drawn at one N (inverted noise, coefficients,
// trajectories, samples): the smallest of StepCounts, where the samplers differ most.
func (c Config) N() int { return slices.Min(c.StepCounts()) }

// InterpolationN is InterpolationSteps, or 50 when unset.
func (c Config) InterpolationN() int {
	if c.InterpolationSteps == 0 {
		return 50
	}
	return c.InterpolationSteps
}

func g(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
