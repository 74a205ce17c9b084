package study

import (
	"context"
	"fmt"
	"math"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
)

// InterpolationConfig sets up InterpolateImages and InterpolateNoises: the reference's
// interpolate.py (spec §4.4) on any pipeline, between noises or inverted images.
type InterpolationConfig struct {
	Sampler belm.Sampler
	N       int
	// Weights are the slerp weights of a row [0, 0.1, …, 1: pipeline.InterpolationWeights(10)].
	Weights []float64
	// PerChannel selects the reference script's per-channel slerp instead of the paper's
	// whole-vector one (Eq. 64).
	PerChannel bool
	Progress   Progress
	// Row, if set, receives each pair's row as it is sampled — to save it.
	Row func(InterpolationRow) error
}

// InterpolationRow is one pair's interpolation: len(Weights) images, decoded (flat NCHW in
// [−1, 1], unclamped), weight 0 first.
type InterpolationRow struct {
	Pair   int
	Images []float64
}

// InterpolationResult is an interpolation of every pair.
type InterpolationResult struct {
	Sampler string    `json:"sampler"`
	N       int       `json:"num_inference_steps"`
	Weights []float64 `json:"weights"`
	Slerp   string    `json:"slerp"` // "whole" (paper Eq. 64) or "per_channel"
	Pairs   int       `json:"pairs"`
	Shape   []int     `json:"image_shape"` // of one image
	// Images holds the rows of every pair, pair after pair (Pairs × len(Weights) images).
	Images []float64 `json:"-"`
	// FromImages is true for InterpolateImages, whose endpoints have a target: the inputs.
	FromImages bool `json:"from_images"`
	// EndpointMaxAbs is, for image pairs, the largest |x − input| of the weight-0 and
	// weight-1 images against the pair's inputs: ~1e-14 for an exact sampler in float64,
	// the inversion's error for DDIM.
	EndpointMaxAbs float64 `json:"endpoint_max_abs_error"`
}

func (c InterpolationConfig) defaults() (InterpolationConfig, error) {
	if len(c.Weights) == 0 {
		c.Weights = pipeline.InterpolationWeights(10)
	}
	if c.Sampler == nil {
		return c, fmt.Errorf("interpolation: no sampler: set InterpolationConfig.Sampler (Pipeline.Sampler)")
	}
	return c, nil
}

func (c InterpolationConfig) result(p *pipeline.Pipeline, pairs int) InterpolationResult {
	slerp := "whole"
	if c.PerChannel {
		slerp = "per_channel"
	}
	return InterpolationResult{Sampler: c.Sampler.Name(), N: c.N, Weights: c.Weights, Slerp: slerp, Pairs: pairs, Shape: p.ImageShape()}
}

// InterpolateNoises slerps between pairs of noises — noises holds 2·pairs latents, pair k
// being latents 2k and 2k+1 — and samples every interpolant.
func InterpolateNoises(ctx context.Context, p *pipeline.Pipeline, c InterpolationConfig, noises []float64) (InterpolationResult, error) {
	c, err := c.defaults()
	if err != nil {
		return InterpolationResult{}, err
	}
	size := p.Size(1)
	if size == 0 || len(noises) == 0 || len(noises)%(2*size) != 0 {
		return InterpolationResult{}, fmt.Errorf("interpolation: %d noise values are not pairs of latents of %d", len(noises), size)
	}
	pairs := len(noises) / (2 * size)
	t := track(p.Runner, c.Progress, pairs*c.N)
	defer t.stop()
	res := c.result(p, pairs)
	for k := range pairs {
		a, err := p.NoiseState(noises[2*k*size:(2*k+1)*size], c.N)
		if err != nil {
			return res, err
		}
		b, err := p.NoiseState(noises[(2*k+1)*size:(2*k+2)*size], c.N)
		if err != nil {
			return res, err
		}
		if err := interpolatePair(ctx, p, c, t, &res, k, a, b); err != nil {
			return res, err
		}
	}
	return res, nil
}

// InterpolateImages inverts pairs of images — images holds 2·pairs images, pair k being
// images 2k and 2k+1 — slerps their inverted states (every latent of the state, so that
// weights 0 and 1 are the inversions themselves) and samples every interpolant back. With
// an exact sampler the endpoint images reproduce the inputs (EndpointMaxAbs).
func InterpolateImages(ctx context.Context, p *pipeline.Pipeline, c InterpolationConfig, images []float64) (InterpolationResult, error) {
	c, err := c.defaults()
	if err != nil {
		return InterpolationResult{}, err
	}
	size := p.ImageSize(1)
	if size == 0 || len(images) == 0 || len(images)%(2*size) != 0 {
		return InterpolationResult{}, fmt.Errorf("interpolation: %d image values are not pairs of images of %d", len(images), size)
	}
	pairs := len(images) / (2 * size)
	t := track(p.Runner, c.Progress, 2*pairs*c.N)
	defer t.stop()
	res := c.result(p, pairs)
	res.FromImages = true
	for k := range pairs {
		pair := images[2*k*size : (2*k+2)*size]
		z, err := p.Encode(pair, 2)
		if err != nil {
			return res, err
		}
		t.at("inverting pair %d", k)
		st, err := p.Invert(c.Sampler, c.N, z, 2)
		if err != nil {
			return res, err
		}
		one, err := pipeline.SplitState(st)
		if err != nil {
			return res, err
		}
		if err := interpolatePair(ctx, p, c, t, &res, k, one[0], one[1]); err != nil {
			return res, err
		}
		row := res.Images[len(res.Images)-len(c.Weights)*size:]
		for e, col := range []int{0, len(c.Weights) - 1} {
			d := belm.Compare(row[col*size:(col+1)*size], pair[e*size:(e+1)*size], 1).MaxAbs
			res.EndpointMaxAbs = math.Max(res.EndpointMaxAbs, d)
		}
	}
	return res, nil
}

// interpolatePair samples the interpolants of the states a and b as pair k's row.
func interpolatePair(ctx context.Context, p *pipeline.Pipeline, c InterpolationConfig, t *tracker, res *InterpolationResult, k int, a, b belm.State) error {
	if err := stopped(ctx, fmt.Sprintf("pair %d", k)); err != nil {
		return err
	}
	st, err := pipeline.InterpolateStates(a, b, c.Weights, c.PerChannel)
	if err != nil {
		return err
	}
	t.at("sampling pair %d", k)
	z, err := p.SampleFrom(c.Sampler, c.N, st)
	if err != nil {
		return fmt.Errorf("pair %d: %w", k, err)
	}
	x, err := p.Decode(z, len(c.Weights))
	if err != nil {
		return err
	}
	res.Images = append(res.Images, x...)
	if c.Row != nil {
		return c.Row(InterpolationRow{Pair: k, Images: x})
	}
	return nil
}
