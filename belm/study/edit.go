package study

import (
	"context"
	"fmt"
	"time"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
)

// EditConfig sets up Edit: the reference's image_editing.py (spec §4.6, §2.7–2.8) on any
// conditioned pipeline — Stable Diffusion with two prompts, or a class-conditional model.
type EditConfig struct {
	Sampler belm.Sampler // inverts and samples (for DDIM the plain linear map)
	N       int          // --num_inference_steps
	// Freeze is --freeze_step F: the inversion stops F steps short of the noise (level
	// N − F) and sampling starts there; 0 inverts fully.
	Freeze int
	// Images are the inputs, flat NCHW in [−1, 1], Batch of them.
	Images []float64
	Batch  int
	// Original conditions the inversion and the reconstruction (the --ori_prompt with its
	// guidance), Edited the edit's sampling (the --res_prompt with the same guidance).
	Original, Edited pipeline.Conditioner
	Progress         Progress
}

// EditResult is what Edit computed, flat in the pipeline's latent and image layouts.
type EditResult struct {
	Sampler string `json:"sampler"`
	N       int    `json:"num_inference_steps"`
	Freeze  int    `json:"freeze_step"`
	// Latents are the inputs' latents (the codec's Encode), Inverted the inverted state's
	// main latent at level N − Freeze.
	Latents, Inverted []float64 `json:"-"`
	// Edited and Reconstructed are the latents sampled back under Edited and Original;
	// EditedImages and ReconstructedImages their decodings (unclamped).
	Edited, Reconstructed             []float64 `json:"-"`
	EditedImages, ReconstructedImages []float64 `json:"-"`
	// Reconstruction compares Reconstructed with Latents: 0 up to rounding for an exact
	// sampler (the edit then changes only what the prompt changes), not for DDIM.
	Reconstruction belm.Errors `json:"reconstruction"`
	// EditDistance is the RMS of Edited − Latents: how far the edit moved the latents.
	EditDistance float64 `json:"edit_rms"`
	Seconds      float64 `json:"seconds"`
}

// Edit inverts the images under the original conditioning for N − Freeze steps, then samples
// the inverted state back twice: under the original conditioning (the reconstruction, which
// an exact sampler returns to the input's latents) and under the edited one (the edit).
// Guidance applies identically in both directions of a conditioning (spec §2.8). The
// pipeline's own Conditioner is restored when Edit returns.
func Edit(ctx context.Context, p *pipeline.Pipeline, c EditConfig) (EditResult, error) {
	if c.Sampler == nil || c.Original == nil || c.Edited == nil || c.Batch < 1 {
		return EditResult{}, fmt.Errorf("edit: give a sampler, both conditionings and at least one image (batch %d)", c.Batch)
	}
	res := EditResult{Sampler: c.Sampler.Name(), N: c.N, Freeze: c.Freeze}
	start := time.Now()
	prev := p.Conditioner
	defer func() { p.Conditioner = prev }()
	t := track(p.Runner, c.Progress, 3*(c.N-c.Freeze))
	defer t.stop()
	var err error
	if err := stopped(ctx, "encoding"); err != nil {
		return res, err
	}
	if res.Latents, err = p.Encode(c.Images, c.Batch); err != nil {
		return res, err
	}
	p.Conditioner = c.Original
	if err := stopped(ctx, "inverting"); err != nil {
		return res, err
	}
	t.at("%s: inverting", rowKey(res.Sampler, c.N))
	st, err := p.InvertPartial(c.Sampler, c.N, c.Freeze, res.Latents, c.Batch)
	if err != nil {
		return res, err
	}
	if res.Inverted, err = belm.Values(st.X()); err != nil {
		return res, err
	}
	for _, pass := range []struct {
		what    string
		cond    pipeline.Conditioner
		latents *[]float64
		images  *[]float64
	}{{"reconstructing", c.Original, &res.Reconstructed, &res.ReconstructedImages}, {"editing", c.Edited, &res.Edited, &res.EditedImages}} {
		if err := stopped(ctx, pass.what); err != nil {
			return res, err
		}
		t.at("%s: %s", rowKey(res.Sampler, c.N), pass.what)
		p.Conditioner = pass.cond
		if *pass.latents, err = p.SampleFrom(c.Sampler, c.N, st); err != nil {
			return res, fmt.Errorf("%s with %s: %w", pass.what, res.Sampler, err)
		}
		if *pass.images, err = p.Decode(*pass.latents, c.Batch); err != nil {
			return res, err
		}
	}
	res.Reconstruction = belm.Compare(res.Reconstructed, res.Latents, 1)
	res.EditDistance = belm.Compare(res.Edited, res.Latents, 1).RMS
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}
