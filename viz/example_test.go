package viz_test

import (
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/belmlab/workbench/viz"
)

var steps = []float64{10, 20, 50, 100}

func Example() {
	// One figure from results, shown in a notebook and written to files.
	p, err := viz.ErrorVsSteps([]viz.Curve{
		{Sampler: "ddim", X: steps, Y: []float64{8e-2, 4e-2, 1.6e-2, 8e-3}},
		{Sampler: "belm", X: steps, Y: []float64{0, 0, 2e-16, 0}},
	}, viz.Options{})
	if err != nil {
		log.Fatal(err)
	}
	viz.Show(p) // inline in GoNB, nothing elsewhere
	dir, _ := os.MkdirTemp("", "figures")
	defer os.RemoveAll(dir)
	if err := viz.Save(p, dir, "reconstruction", 0, 0); err != nil {
		log.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		fmt.Println(filepath.Base(f))
	}
	// Output:
	// reconstruction.png
	// reconstruction.svg
}

func ExampleErrorVsSteps() {
	// Sampling error against a reference solution instead of the round trip:
	// change the y label. O-BELM's zeros are drawn at a floor and marked.
	p, err := viz.ErrorVsSteps([]viz.Curve{
		{Sampler: "ddim", X: steps, Y: []float64{0.1, 0.05, 0.02, 0.01}},
		{Sampler: "belm", X: steps, Y: []float64{1e-2, 2.5e-3, 4e-4, 1e-4}},
	}, viz.Options{YLabel: "max |x₀ − x₀(exact ODE)| / data scale", RefSlopes: []float64{-1, -2}})
	if err != nil {
		log.Fatal(err)
	}
	viz.Show(p)
	fmt.Println(p.Title.Text)
	// Output: Reconstruction error vs number of steps
}

func ExampleLTEOrder() {
	h := []float64{0.01, 0.03, 0.1, 0.3}
	lte := func(c, p float64) []float64 {
		y := make([]float64, len(h))
		for i := range h {
			y[i] = c * math.Pow(h[i], p)
		}
		return y
	}
	p, err := viz.LTEOrder([]viz.Curve{
		{Sampler: "ddim", X: h, Y: lte(0.5, 2)},
		{Sampler: "belm", X: h, Y: lte(0.2, 3)},
	}, viz.Options{}) // reference slopes 2 and 3 by default
	if err != nil {
		log.Fatal(err)
	}
	viz.Show(p)
	s, _ := viz.FitLogLogSlope(h, lte(0.2, 3))
	fmt.Printf("O-BELM LTE slope %.2f\n", s)
	// Output: O-BELM LTE slope 3.00
}

func ExamplePrecision() {
	f64 := []viz.Curve{{Sampler: "belm", X: steps, Y: []float64{3e-15, 4e-15, 7e-15, 1e-14}}}
	f32 := []viz.Curve{{Sampler: "belm", X: steps, Y: []float64{1e-6, 1.4e-6, 2.2e-6, 3e-6}}}
	p, err := viz.Precision(f64, f32, viz.Options{})
	if err != nil {
		log.Fatal(err)
	}
	viz.Show(p)
}

func ExampleNoiseHistogram() {
	// Values: every coordinate of the inverted x_N of every image.
	p, err := viz.NoiseHistogram([]viz.NoiseSample{
		{Sampler: "ddim", Values: []float64{-2.1, 0.3, 1.7, -0.4, 2.9, -1.5}},
		{Sampler: "belm", Values: []float64{-1.1, 0.2, 0.9, -0.3, 1.4, -0.8}},
	}, viz.Options{})
	if err != nil {
		log.Fatal(err)
	}
	viz.Show(p)
}

func ExampleImageGrid() {
	// Two 1-channel 2×2 images in [-1, 1], NCHW, with labels.
	im := viz.Images{
		Data:   []float64{-1, 1, 1, -1, 0, 0, 0, 0},
		Shape:  [4]int{2, 1, 2, 2},
		Layout: viz.NCHW,
		Range:  viz.MinusOneOne,
	}
	g, err := viz.ImageGrid(im, viz.GridOptions{Scale: 8, ColLabels: []string{"DDIM", "O-BELM"}})
	if err != nil {
		log.Fatal(err)
	}
	viz.ShowImage(g)
	fmt.Println(g.Bounds().Dx() > 2*16)
	// Output: true
}

func ExampleInterpolationGrid() {
	// One pair at weights 0, 0.5, 1: three 1×1 images (NHWC, [0, 1]).
	im := viz.Images{Data: []float64{0, 0.5, 1}, Shape: [4]int{3, 1, 1, 1}, Layout: viz.NHWC, Range: viz.ZeroOne}
	g, err := viz.InterpolationGrid(im, []float64{0, 0.5, 1}, viz.GridOptions{RowLabels: []string{"pair 1"}})
	if err != nil {
		log.Fatal(err)
	}
	viz.ShowImage(g)
}

func ExampleTrajectories() {
	x0 := viz.Point{1, 0.5}
	p, err := viz.Trajectories([]viz.Trajectory{
		{Sampler: "ddim", Inversion: []viz.Point{x0, {0.4, 1.2}, {-0.5, 1.9}}, Sampling: []viz.Point{{-0.5, 1.9}, {0.2, 1.0}, {0.8, 0.7}}},
		{Sampler: "belm", Inversion: []viz.Point{x0, {0.6, 1.4}, {-0.2, 2.2}}, Sampling: []viz.Point{{-0.2, 2.2}, {0.6, 1.4}, x0}},
	}, viz.Density{Func: func(x, y float64) float64 { return math.Exp(-((x-1)*(x-1) + (y-0.5)*(y-0.5))) }}, viz.Options{})
	if err != nil {
		log.Fatal(err)
	}
	viz.Show(p)
}

func ExampleCoefficientPlot() {
	// x_{i−1} = A·x_{i+1} + B·x_i + C·ε for steps i = 3, 2, 1.
	p, err := viz.CoefficientPlot(viz.Coefficients{
		Step: []float64{3, 2, 1},
		A:    []float64{0.71, 0.52, 0.008},
		B:    []float64{1.29, 0.95, 0.993},
		C:    []float64{-1.01, -0.62, -0.032},
	}, viz.Options{})
	if err != nil {
		log.Fatal(err)
	}
	viz.Show(p)
}

func ExampleSamplerLabel() {
	for _, s := range []string{"ddim", "belm", "belm-k3"} {
		fmt.Println(viz.SamplerLabel(s))
	}
	// Output:
	// DDIM
	// O-BELM
	// BELM k=3
}
