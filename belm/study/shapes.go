package study

import (
	"context"
	"fmt"

	"github.com/belmlab/workbench/belm/analytic"
	"github.com/belmlab/workbench/belm/pipeline"
)

// The "shapes" mixture's images are 1×16×16 (analytic.Shapes).
var shapesShape = []int{1, 16, 16}

// shapesNoiseSeed and shapesDataSeed seed the noise of the sample grid and the images of
// the interpolation figure.
const shapesNoiseSeed, shapesDataSeed = 11, 3

// ShapesPipeline is the pipeline of the shapes mixture (analytic.Shapes, 1×16×16 images)
// with c's schedule, dtype and backend (AnalyticPipeline).
func ShapesPipeline(c Common) (*pipeline.Pipeline, error) {
	return AnalyticPipeline(c, analytic.Shapes(), shapesShape...)
}

// SampleGrid is the same noises sampled by several samplers, under the exact solution of
// the ODE they approximate: rows of Cols images each.
type SampleGrid struct {
	Model string `json:"model"`
	N     int    `json:"num_inference_steps"`
	// Rows name the rows: "ode" (RK4, ODESamples), then the samplers.
	Rows   []string    `json:"rows"`
	Cols   int         `json:"cols"`
	Shape  []int       `json:"image_shape"` // of one image
	Images [][]float64 `json:"-"`           // a row each: Cols images, flat NCHW
}

// ShapesSampleGrid samples cols noises of the shapes mixture with each sampler (c's γ, p,
// schedule, dtype) in n steps, under their exact ODE solution.
func ShapesSampleGrid(c Common, n, cols int, samplers []string) (SampleGrid, error) {
	c = c.defaults()
	p, err := ShapesPipeline(c)
	if err != nil {
		return SampleGrid{}, err
	}
	ss, err := p.Samplers(samplers, c.Options, true, n)
	if err != nil {
		return SampleGrid{}, err
	}
	ode, err := ODESamples(p, n, shapesNoiseSeed, cols)
	if err != nil {
		return SampleGrid{}, fmt.Errorf("the ODE solution: %w", err)
	}
	grid := SampleGrid{Model: "shapes (16×16 Gaussian mixture)", N: n, Rows: []string{"ode"}, Cols: cols, Shape: p.ImageShape(), Images: [][]float64{ode}}
	batches, err := Samples(context.Background(), p, SamplesConfig{Samplers: ss, N: n, BatchSize: cols, Seeds: []uint64{shapesNoiseSeed}, Progress: c.Progress})
	if err != nil {
		return SampleGrid{}, err
	}
	for _, b := range batches {
		grid.Rows, grid.Images = append(grid.Rows, b.Sampler), append(grid.Images, b.Images)
	}
	return grid, nil
}

// ShapesInterpolation inverts pairs of shapes images with the sampler (c's γ, p, schedule,
// dtype) in n steps, slerps their inverted states with 11 weights 0 … 1 and samples back
// (InterpolateImages): with an exact sampler the endpoints reproduce the inputs.
func ShapesInterpolation(c Common, sampler string, n, pairs int) (InterpolationResult, error) {
	c = c.defaults()
	p, err := ShapesPipeline(c)
	if err != nil {
		return InterpolationResult{}, err
	}
	s, err := p.Sampler(sampler, c.Options, false)
	if err != nil {
		return InterpolationResult{}, err
	}
	images := analytic.Shapes().Data(shapesDataSeed, 2*pairs)
	return InterpolateImages(context.Background(), p, InterpolationConfig{Sampler: s, N: n, Progress: c.Progress}, images)
}
