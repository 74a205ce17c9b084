package figures

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
	"github.com/belmlab/workbench/viz"
)

const side = 16 // the shapes problem's images are 1×16×16

// Samples draws `cols` images of the shapes mixture with each sampler from the same noise
// (SD schedule, N steps), plus a first row integrated with RK4 (the exact ODE solution the
// samplers approximate), as an image grid: rows = samplers, columns = noise seeds.
func Samples(c Config, n, cols int, samplers []string) (Figure, error) {
	p := analytic.Shapes()
	grid, err := sdGrid(n)
	if err != nil {
		return Figure{}, err
	}
	noise, err := belm.NewTensor(belm.Normal(11, cols*p.D), dtypes.Float64, cols, 1, side, side)
	if err != nil {
		return Figure{}, err
	}
	var data []float64
	var labels []string
	ref, err := belm.NewRunner(p.Model, c.Common.Backend, dtypes.Float64)
	if err != nil {
		return Figure{}, err
	}
	top := grid.Levels[n]
	exact, err := ref.Integrate(noise, top.SigmaBar(), 0, 1000, 0.05)
	if err != nil {
		return Figure{}, err
	}
	v, err := belm.Values(exact)
	if err != nil {
		return Figure{}, err
	}
	data, labels = append(data, v...), append(labels, "ODE (RK4)")
	for _, name := range samplers {
		s, err := belm.ParseSampler(name, belm.DefaultSamplerOptions)
		if err != nil {
			return Figure{}, err
		}
		r, err := belm.NewRunner(p.Model, c.Common.Backend, dtypes.Float64)
		if err != nil {
			return Figure{}, err
		}
		x, err := r.Sample(s, grid, belm.State{Level: n, Latents: []*tensors.Tensor{noise}})
		if err != nil {
			return Figure{}, err
		}
		v, err := belm.Values(x)
		if err != nil {
			return Figure{}, err
		}
		data, labels = append(data, v...), append(labels, viz.SamplerLabel(s.Name()))
	}
	img, err := viz.ImageGrid(viz.Images{Data: data, Shape: [4]int{len(labels) * cols, 1, side, side}, Layout: viz.NCHW, Range: viz.MinusOneOne},
		viz.GridOptions{Cols: cols, RowLabels: labels})
	if err != nil {
		return Figure{}, err
	}
	return Figure{Name: "samples", Image: img, Data: map[string]any{"num_inference_steps": n, "rows": labels, "model": "shapes (16×16 Gaussian mixture)"}}, nil
}

// Interpolation inverts pairs of shapes images with the sampler (N steps), interpolates their
// inverted states by slerp (every latent of the state, so the weights 0 and 1 are the
// inversions themselves) and samples each interpolant back: rows = pairs, columns = weights
// 0 … 1. With an exact sampler (O-BELM) the endpoint columns reproduce the input images —
// what exact inversion buys; with DDIM they do not. The figure's data holds the endpoint error.
func Interpolation(c Config, sampler string, n int, pairs int) (Figure, error) {
	s, err := belm.ParseSampler(sampler, belm.DefaultSamplerOptions)
	if err != nil {
		return Figure{}, err
	}
	p := analytic.Shapes()
	grid, err := sdGrid(n)
	if err != nil {
		return Figure{}, err
	}
	r, err := belm.NewRunner(p.Model, c.Common.Backend, dtypes.Float64)
	if err != nil {
		return Figure{}, err
	}
	weights := make([]float64, 11)
	for i := range weights {
		weights[i] = float64(i) / 10
	}
	x0 := p.Data(3, 2*pairs)
	xt, err := belm.NewTensor(x0, dtypes.Float64, 2*pairs, 1, side, side)
	if err != nil {
		return Figure{}, err
	}
	st, err := r.Invert(s, grid, xt, n)
	if err != nil {
		return Figure{}, err
	}
	inv := make([][]float64, len(st.Latents))
	for j, l := range st.Latents {
		if inv[j], err = belm.Values(l); err != nil {
			return Figure{}, err
		}
	}
	d := p.D
	// One batch: for each pair and weight, the slerped state.
	batch := pairs * len(weights)
	lat := make([][]float64, len(inv))
	for j := range inv {
		lat[j] = make([]float64, 0, batch*d)
		for q := 0; q < pairs; q++ {
			a, b := inv[j][(2*q)*d:(2*q+1)*d], inv[j][(2*q+1)*d:(2*q+2)*d]
			for _, w := range weights {
				z, err := belm.Slerp(w, a, b)
				if err != nil {
					return Figure{}, err
				}
				lat[j] = append(lat[j], z...)
			}
		}
	}
	state := belm.State{Level: st.Level, Dir: st.Dir}
	for j := range lat {
		t, err := belm.NewTensor(lat[j], dtypes.Float64, batch, 1, side, side)
		if err != nil {
			return Figure{}, err
		}
		state.Latents = append(state.Latents, t)
	}
	out, err := r.Sample(s, grid, state)
	if err != nil {
		return Figure{}, err
	}
	v, err := belm.Values(out)
	if err != nil {
		return Figure{}, err
	}
	// The endpoints against the inputs.
	var worst float64
	for q := 0; q < pairs; q++ {
		for e, col := range []int{0, len(weights) - 1} {
			got := v[(q*len(weights)+col)*d : (q*len(weights)+col+1)*d]
			want := x0[(2*q+e)*d : (2*q+e+1)*d]
			worst = max(worst, belm.Compare(got, want, 1).MaxAbs)
		}
	}
	rows := make([]string, pairs)
	for i := range rows {
		rows[i] = fmt.Sprintf("pair %d", i+1)
	}
	img, err := viz.InterpolationGrid(viz.Images{Data: v, Shape: [4]int{batch, 1, side, side}, Layout: viz.NCHW, Range: viz.MinusOneOne},
		weights, viz.GridOptions{RowLabels: rows})
	if err != nil {
		return Figure{}, err
	}
	return Figure{Name: "interpolation_" + s.Name(), Image: img, Data: map[string]any{
		"num_inference_steps": n, "weights": weights, "sampler": s.Name(), "slerp": "whole vector (paper Eq. 64), both latents of the inverted pair",
		"endpoint_max_abs_error": worst}}, nil
}
