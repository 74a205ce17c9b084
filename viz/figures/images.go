package figures

import (
	"fmt"

	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/viz"
)

// SampleStudy samples cols noises of the "shapes" mixture (1×16×16 pictures) with each
// sampler in n steps, under their exact ODE solution (study.ShapesSampleGrid), with c's
// schedule and spacing, γ and p, dtype and backend.
func (c Config) SampleStudy(n, cols int, samplers []string) (study.SampleGrid, error) {
	return study.ShapesSampleGrid(c.Common, n, cols, samplers)
}

// Samples draws the sample grid of SampleStudy: rows = the ODE solution (RK4), then the
// samplers; columns = noise seeds.
func Samples(c Config, n, cols int, samplers []string) (Figure, error) {
	g, err := c.SampleStudy(n, cols, samplers)
	if err != nil {
		return Figure{}, err
	}
	return DrawSamples(g)
}

// DrawSamples is samples: the grid of g, a row per sampler; NAME.json holds N, the row
// labels and the model.
func DrawSamples(g study.SampleGrid) (Figure, error) {
	if len(g.Shape) != 3 || len(g.Images) != len(g.Rows) {
		return Figure{}, fmt.Errorf("samples: %d rows of images for %d names, image shape %v: want a row per name and [C, H, W]", len(g.Images), len(g.Rows), g.Shape)
	}
	var data []float64
	labels := make([]string, len(g.Rows))
	for i, r := range g.Rows {
		data = append(data, g.Images[i]...)
		labels[i] = viz.SamplerLabel(r)
		if r == "ode" {
			labels[i] = "ODE (RK4)"
		}
	}
	img, err := viz.ImageGrid(viz.Images{Data: data, Shape: [4]int{len(g.Rows) * g.Cols, g.Shape[0], g.Shape[1], g.Shape[2]}, Layout: viz.NCHW, Range: viz.MinusOneOne},
		viz.GridOptions{Cols: g.Cols, RowLabels: labels})
	if err != nil {
		return Figure{}, err
	}
	return Figure{Name: "samples", Image: img}.withData(struct { // keys in the order of the earlier map
		Model string   `json:"model"`
		N     int      `json:"num_inference_steps"`
		Rows  []string `json:"rows"`
	}{g.Model, g.N, labels})
}

// InterpolationStudy inverts pairs of shapes images with the sampler in n steps,
// interpolates their inverted states by slerp (every latent of the state, so the weights 0
// and 1 are the inversions themselves) and samples each interpolant back
// (study.ShapesInterpolation), with c's schedule and spacing, γ and p, dtype and backend.
func (c Config) InterpolationStudy(sampler string, n, pairs int) (study.InterpolationResult, error) {
	return study.ShapesInterpolation(c.Common, sampler, n, pairs)
}

// Interpolation draws InterpolationStudy's grid: rows = pairs, columns = weights 0 … 1.
// With an exact sampler (O-BELM) the endpoint columns reproduce the input images — what
// exact inversion buys; with DDIM they do not.
func Interpolation(c Config, sampler string, n int, pairs int) (Figure, error) {
	r, err := c.InterpolationStudy(sampler, n, pairs)
	if err != nil {
		return Figure{}, err
	}
	return DrawInterpolation(r)
}

// DrawInterpolation is interpolation_SAMPLER: r's rows; NAME.json holds N, the weights,
// the sampler, the slerp and the endpoint error.
func DrawInterpolation(r study.InterpolationResult) (Figure, error) {
	if len(r.Shape) != 3 {
		return Figure{}, fmt.Errorf("interpolation: image shape %v: want [C, H, W]", r.Shape)
	}
	rows := make([]string, r.Pairs)
	for i := range rows {
		rows[i] = fmt.Sprintf("pair %d", i+1)
	}
	img, err := viz.InterpolationGrid(viz.Images{Data: r.Images, Shape: [4]int{r.Pairs * len(r.Weights), r.Shape[0], r.Shape[1], r.Shape[2]}, Layout: viz.NCHW, Range: viz.MinusOneOne},
		r.Weights, viz.GridOptions{RowLabels: rows})
	if err != nil {
		return Figure{}, err
	}
	slerp := "whole vector (paper Eq. 64), both latents of the inverted pair"
	if r.Slerp == "per_channel" {
		slerp = "per channel (the reference script's), both latents of the inverted pair"
	}
	return Figure{Name: "interpolation_" + r.Sampler, Image: img}.withData(struct { // keys in the order of the earlier map
		Endpoint float64   `json:"endpoint_max_abs_error"`
		N        int       `json:"num_inference_steps"`
		Sampler  string    `json:"sampler"`
		Slerp    string    `json:"slerp"`
		Weights  []float64 `json:"weights"`
	}{r.EndpointMaxAbs, r.N, r.Sampler, slerp, r.Weights})
}
