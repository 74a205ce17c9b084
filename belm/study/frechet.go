package study

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/quality"
)

// FrechetConfig sets up Frechet: the paper's FID protocol (Table 3) with any feature
// extractor — samples per sampler and N, their features reduced to moments batch by batch
// (memory does not grow with NumSamples), against a reference set.
type FrechetConfig struct {
	// Samplers each sample NumSamples images for every N of Steps (for DDIM,
	// Pipeline.Sampler(name, o, true): clipped as the scheduler config says).
	Samplers   []belm.Sampler
	Steps      []int
	NumSamples int
	// BatchSize is the number of samples of a batch [250]; batch k is the noise of Seed+k
	// for every sampler and N (common random numbers: differences between samplers are not
	// sampling noise of the seeds).
	BatchSize int
	Seed      uint64
	Features  quality.FeatureExtractor
	// Reference are the images the samples are measured against (flat NCHW float32 in
	// [−1, 1]: a test split); Floor are real images measured like the samples (as many),
	// whose distance to Reference is the data floor, what a perfect model would get.
	Reference, Floor []float32
	// Keep is the number of first samples of each sampler and N kept in FrechetPart.First
	// (by the run that does batch 0), for a grid.
	Keep     int
	Batches  Batches
	Progress Progress
	// Finished, if set, is called after each sampler and N with the data so far — to save
	// them as they complete; it may set the newest part's Grid.
	Finished func(*FrechetData) error
}

// FrechetPart is the feature moments of the samples of one sampler and N (of the run's
// batches).
type FrechetPart struct {
	Sampler string          `json:"sampler"`
	N       int             `json:"num_inference_steps"`
	Moments quality.Moments `json:"moments"`
	Seconds float64         `json:"seconds"`
	// Grid is the file the caller saved the first samples to (set by the caller).
	Grid string `json:"grid,omitempty"`
	// First are the first Keep samples, decoded images.
	First []float64 `json:"-"`
}

// FrechetData is what a Fréchet run (or a shard of it) measured: the moments of the
// reference, of the data floor's images and of each sampler and N. Moments add, so the
// shards of a run merge exactly (MergeFrechet).
type FrechetData struct {
	Reference quality.Moments `json:"reference"`
	Floor     quality.Moments `json:"floor"`
	Parts     []FrechetPart   `json:"parts"`
}

// FrechetRow is the Fréchet distance of one sampler and N to the reference.
type FrechetRow struct {
	Sampler string  `json:"sampler"`
	N       int     `json:"num_inference_steps"`
	Samples int     `json:"num_samples"`
	Frechet float64 `json:"frechet_distance"`
	Seconds float64 `json:"seconds"`
	// PaperFID is Table 3's CIFAR-10 FID, where it has the sampler and N.
	PaperFID *float64 `json:"paper_table3_cifar10_fid,omitempty"`
}

// Frechet measures the reference and the floor, then samples NumSamples images per sampler
// and N (the run's batches) and accumulates the moments of their features. Samples are
// decoded, then rounded to 8 bits as a saved image is (quality.Quantize), so generated and
// real images reach the extractor alike. It stops, returning ctx's error and the parts it
// finished, when ctx is cancelled.
func Frechet(ctx context.Context, p *pipeline.Pipeline, c FrechetConfig) (FrechetData, error) {
	var d FrechetData
	if c.BatchSize == 0 {
		c.BatchSize = 250
	}
	if c.Features == nil || len(c.Samplers) == 0 || len(c.Steps) == 0 || c.NumSamples < 2 || c.BatchSize < 0 {
		return d, fmt.Errorf("fréchet: need a feature extractor, samplers, step counts, ≥ 2 samples and a positive batch")
	}
	var err1, err2 error
	d.Reference, err1 = featureMoments(c.Features, c.Reference, p.ImageSize(1), c.BatchSize)
	d.Floor, err2 = featureMoments(c.Features, c.Floor, p.ImageSize(1), c.BatchSize)
	if err := errors.Join(err1, err2); err != nil {
		return d, err
	}
	t := track(p.Runner, c.Progress, len(c.Samplers)*sum(c.Steps)*c.Batches.count(c.NumSamples, c.BatchSize))
	defer t.stop()
	for _, n := range c.Steps {
		for _, s := range c.Samplers {
			t.at("%s", rowKey(s.Name(), n))
			part, err := frechetPart(ctx, p, c, s, n)
			if err != nil {
				return d, err
			}
			d.Parts = append(d.Parts, part)
			if c.Finished != nil {
				if err := c.Finished(&d); err != nil {
					return d, err
				}
			}
		}
	}
	return d, nil
}

// frechetPart samples the run's batches with s in n steps and adds their features' moments.
func frechetPart(ctx context.Context, p *pipeline.Pipeline, c FrechetConfig, s belm.Sampler, n int) (FrechetPart, error) {
	start := time.Now()
	part := FrechetPart{Sampler: s.Name(), N: n}
	keep := c.Keep * p.ImageSize(1)
	if !c.Batches.has(0) {
		keep = 0 // the first samples are the run's: the run with batch 0 keeps them
	}
	for b0, k := 0, 0; b0 < c.NumSamples; b0, k = b0+c.BatchSize, k+1 {
		if !c.Batches.has(k) {
			continue
		}
		if err := stopped(ctx, fmt.Sprintf("%s N=%d, batch %d", s.Name(), n, k)); err != nil {
			return part, err
		}
		b := min(c.BatchSize, c.NumSamples-b0)
		x, err := sampleImages(p, s, n, c.Seed+uint64(k), b)
		if err == nil {
			var m quality.Moments
			if m, err = quality.MomentsOf(c.Features, quality.Quantize(x)); err == nil {
				err = part.Moments.Add(m)
			}
		}
		if err != nil {
			return part, fmt.Errorf("%s N=%d, batch %d: %w", s.Name(), n, k, err)
		}
		if len(part.First) < keep {
			part.First = append(part.First, x[:min(len(x), keep-len(part.First))]...)
		}
	}
	p.Runner.ReleaseGraphs() // each sampler's ORT sessions hold arenas of the batch's size
	part.Seconds = time.Since(start).Seconds()
	return part, nil
}

// featureMoments adds the moments of f's features of images (of per values each), batch
// images at a time, so that an extractor never sees more than a batch.
func featureMoments(f quality.FeatureExtractor, images []float32, per, batch int) (quality.Moments, error) {
	var m quality.Moments
	if len(images) == 0 || per < 1 || len(images)%per != 0 {
		return m, fmt.Errorf("fréchet: %d reference or floor values are not images of %d: give at least one", len(images), per)
	}
	for i := 0; i < len(images); i += batch * per {
		b, err := quality.MomentsOf(f, images[i:min(len(images), i+batch*per)])
		if err == nil {
			err = m.Add(b)
		}
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

// Distances are the Fréchet distances of d's parts to the reference, and the data floor.
func (d FrechetData) Distances() (rows []FrechetRow, floor float64, err error) {
	ref, err1 := d.Reference.Gaussian()
	fl, err2 := d.Floor.Gaussian()
	if err := errors.Join(err1, err2); err != nil {
		return nil, 0, err
	}
	if floor, err = quality.FrechetDistance(fl, ref); err != nil {
		return nil, 0, err
	}
	for _, pt := range d.Parts {
		g, err := pt.Moments.Gaussian()
		if err != nil {
			return nil, 0, fmt.Errorf("%s N=%d: %w", pt.Sampler, pt.N, err)
		}
		fd, err := quality.FrechetDistance(g, ref)
		if err != nil {
			return nil, 0, err
		}
		row := FrechetRow{Sampler: pt.Sampler, N: pt.N, Samples: pt.Moments.N, Frechet: fd, Seconds: pt.Seconds}
		if v, ok := PaperValue(PaperFIDCIFAR10, pt.Sampler, pt.N); ok {
			row.PaperFID = &v
		}
		rows = append(rows, row)
	}
	return rows, floor, nil
}

// MergeFrechet adds the moments (and seconds) of each sampler and N over the shards of one
// run, whose parts parts each must hold (a shard with fewer stopped early: an error); the
// reference, the floor and the grids are the first shard's.
func MergeFrechet(shards []FrechetData, parts int) (FrechetData, error) {
	if len(shards) == 0 {
		return FrechetData{}, fmt.Errorf("no shards to merge")
	}
	var all FrechetData
	for i, d := range shards {
		if len(d.Parts) != parts {
			return all, fmt.Errorf("shard %d holds %d of the run's %d samplers × N: the shard stopped early; rerun it", i, len(d.Parts), parts)
		}
		if i == 0 {
			all = d
			all.Parts = append([]FrechetPart(nil), d.Parts...)
			continue
		}
		for j, pt := range d.Parts {
			if err := all.Parts[j].Moments.Add(pt.Moments); err != nil {
				return all, err
			}
			all.Parts[j].Seconds += pt.Seconds
		}
	}
	return all, nil
}
