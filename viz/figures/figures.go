// Package figures computes the workbench's standard figures from the analytic models and
// writes them: each figure is a study (package study, belm) turned into a picture (package
// viz), with the numbers behind it. `belm figures --out DIR` and the notebooks call it.
//
//	roundtrip_error   reconstruction error vs N per sampler (float64)          (viz figure 1)
//	global_error      sampling error vs N against the exact ODE solution       (1)
//	lte_order         local truncation error vs h with slopes 2 and 3          (2)
//	precision         round-trip error, float64 vs float32                     (3)
//	inverted_noise    histogram of the inverted x_N vs N(0,1)                   (4)
//	samples           a grid of "shapes" images sampled by each sampler        (5)
//	interpolation_*   slerp between inverted images, 11 weights (O-BELM, DDIM) (5)
//	trajectories      2-D sampling and inversion paths over the density        (6)
//	coefficients      O-BELM coefficients across the steps of the SD schedule  (7)
package figures

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"

	"github.com/belmlab/workbench/internal/atomicfile"

	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/viz"
)

// Figure is a computed figure: a plot or an image, plus the numbers behind it.
type Figure struct {
	Name  string
	Plot  *plot.Plot  // nil for image figures
	Image image.Image // nil for plots
	Data  any         // written as NAME.json
	Table [][]string  // written as NAME.csv (first row: the header)
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
	if f.Data != nil {
		b, err := json.MarshalIndent(f.Data, "", "  ")
		if err != nil {
			return fmt.Errorf("figure %s: %w", f.Name, err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, f.Name+".json"), append(b, '\n')); err != nil {
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

// Config sets up the figure studies; its zero value is the default (go backend, analytic
// models as in package study, the SD schedule with linspace spacing).
type Config struct {
	Common study.Common
	// Steps are the step counts of the error-vs-N figures (default 10, 20, 50, 100).
	Steps []int
	// Samplers of the round-trip figures and the sample grid (default Samplers).
	Samplers []string
}

func (c Config) samplers() []string {
	if len(c.Samplers) == 0 {
		return Samplers
	}
	return c.Samplers
}

func (c Config) steps() []int {
	if len(c.Steps) == 0 {
		return []int{10, 20, 50, 100}
	}
	return c.Steps
}

func g(v float64) string { return strconv.FormatFloat(v, 'g', 10, 64) }
