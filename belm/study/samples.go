package study

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
)

// SamplesConfig sets up Samples: the reference's cifar10.py / celeba.py (spec §4.1) on any
// pipeline — batches of noise sampled by each sampler.
type SamplesConfig struct {
	// Samplers each sample every batch (for DDIM, Pipeline.Sampler(name, o, true) clips x̂₀
	// as the scheduler config says, as DDIMPipeline does).
	Samplers []belm.Sampler
	N        int
	// BatchSize is the number of images of a batch [1].
	BatchSize int
	// Seeds seed the batches: batch k's noise is pipeline.Noise(Seeds[k], p.Size(BatchSize)),
	// the same for every sampler (common random numbers) and on every backend.
	Seeds    []uint64
	Progress Progress
	// Batch, if set, receives every batch as it is sampled — to save it — and Samples keeps
	// none, so memory holds one batch.
	Batch func(SampleBatch) error
}

// SampleBatch is one batch of samples of one sampler.
type SampleBatch struct {
	Sampler string
	N       int
	Seed    uint64
	// Images are the decoded samples: BatchSize images, flat NCHW, unclamped (clamped to
	// [−1, 1] when shown).
	Images []float64
}

// Samples samples every batch of noise with every sampler (sampler outermost) and returns
// the batches, unless c.Batch takes them. It stops, returning ctx's error, when ctx is
// cancelled.
func Samples(ctx context.Context, p *pipeline.Pipeline, c SamplesConfig) ([]SampleBatch, error) {
	if c.BatchSize == 0 {
		c.BatchSize = 1
	}
	if c.BatchSize < 0 || len(c.Samplers) == 0 {
		return nil, fmt.Errorf("samples: %d samplers, batch %d: give at least one sampler and a positive batch", len(c.Samplers), c.BatchSize)
	}
	t := track(p.Runner, c.Progress, len(c.Samplers)*len(c.Seeds)*c.N)
	defer t.stop()
	var out []SampleBatch
	for _, s := range c.Samplers {
		for _, seed := range c.Seeds {
			t.at("%s seed %d", s.Name(), seed)
			if err := stopped(ctx, t.what); err != nil {
				return out, err
			}
			x, err := sampleImages(p, s, c.N, seed, c.BatchSize)
			if err != nil {
				return out, fmt.Errorf("%s N=%d, seed %d: %w", s.Name(), c.N, seed, err)
			}
			b := SampleBatch{Sampler: s.Name(), N: c.N, Seed: seed, Images: x}
			if c.Batch != nil {
				if err := c.Batch(b); err != nil {
					return out, err
				}
				continue
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// sampleImages samples batch images with s in n steps from the noise of seed, decoded.
func sampleImages(p *pipeline.Pipeline, s belm.Sampler, n int, seed uint64, batch int) ([]float64, error) {
	z, err := p.Sample(s, n, pipeline.Noise(seed, p.Size(batch)), batch)
	if err != nil {
		return nil, err
	}
	return p.Decode(z, batch)
}

// ODESamples solves the probability-flow ODE with RK4 (belm.Runner.Integrate, 1000 steps)
// from the noise of seed at the top level of the N-step grid down to x₀, and returns the
// decoded images: the exact solution the samplers approximate, for models that read α and σ
// (the analytic ones), not for learned models that need integer timesteps.
func ODESamples(p *pipeline.Pipeline, n int, seed uint64, batch int) ([]float64, error) {
	g, err := p.Grid(n)
	if err != nil {
		return nil, err
	}
	x, err := belm.NewTensor(pipeline.Noise(seed, p.Size(batch)), p.DType(), p.Shape(batch)...)
	if err != nil {
		return nil, err
	}
	var out *tensors.Tensor
	if out, err = p.Runner.Integrate(x, g.SigmaBar(g.N()), 0, 1000, 0.05); err != nil {
		return nil, err
	}
	v, err := belm.Values(out)
	if err != nil {
		return nil, err
	}
	return p.Decode(v, batch)
}
