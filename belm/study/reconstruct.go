package study

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
)

// ReconstructionConfig sets up Reconstruct: the reference's reconstruction.py (spec §4.5)
// on any pipeline.
type ReconstructionConfig struct {
	// Samplers invert and sample back, each with every N of Steps (for DDIM the plain
	// linear map: Pipeline.Sampler(name, o, false)).
	Samplers []belm.Sampler
	Steps    []int
	Images   Images
	// BatchSize is the number of images a pass takes [8].
	BatchSize int
	Batches   Batches // the batches of the run (nil: all)
	Progress  Progress
	// Reconstructed, if set, receives each batch's reconstructions as images — to save
	// them.
	Reconstructed func(ReconstructedBatch) error
	// Finished, if set, is called after each sampler and N with the result so far — to
	// save the rows as they complete, so that a run that stops keeps what it measured.
	Finished func(ReconstructionResult) error
}

// ReconstructedBatch is a batch of reconstructions: images First, First+1, … of the run.
type ReconstructedBatch struct {
	Sampler string
	N       int
	First   int
	Images  []float64 // decoded, flat NCHW, unclamped
}

// ReconstructionRow is the reconstruction of one image by one sampler and N.
type ReconstructionRow struct {
	Sampler  string  `json:"sampler"`
	N        int     `json:"num_inference_steps"`
	Index    int     `json:"index"` // of the image in the run's list
	Image    string  `json:"image"`
	NoiseStd float64 `json:"noise_std"` // std of the inverted x_N
	pipeline.Errors
}

// ReconstructionResult is what Reconstruct measured (of the run's batches): a row per
// image, sampler and N — N outermost, then the samplers, then the images — and the seconds
// each sampler and N took, by "sampler N=n".
type ReconstructionResult struct {
	Rows    []ReconstructionRow `json:"rows"`
	Seconds map[string]float64  `json:"seconds"`
	// Codec is, for a latent model (a codec other than pipeline.Identity), each image's
	// round trip through the codec alone, decode(encode(x)) against x: the floor no sampler
	// goes below in pixels (Table 2's "AE" column). Latent is 0 there.
	Codec []CodecRow `json:"codec,omitempty"`
}

// CodecRow is one image's codec round trip.
type CodecRow struct {
	Index int    `json:"index"`
	Image string `json:"image"`
	pipeline.Errors
}

// CodecFloor is the mean codec round trip over the images (nil without Codec rows).
func (r ReconstructionResult) CodecFloor() *pipeline.Errors {
	if len(r.Codec) == 0 {
		return nil
	}
	es := make([]pipeline.Errors, len(r.Codec))
	for i, c := range r.Codec {
		es[i] = c.Errors
	}
	m := pipeline.Mean(es)
	return &m
}

// ReconstructionSummary is the average over the images of one sampler and N.
type ReconstructionSummary struct {
	Sampler string  `json:"sampler"`
	N       int     `json:"num_inference_steps"`
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
	pipeline.Errors
	// The paper's Table 5 (latent-space MSE of SD-1.5 on COCO-14: the MSE in the space the
	// model works in, as Latent is here), where it has the sampler and N.
	PaperTable5 *float64 `json:"paper_table5_latent_mse,omitempty"`
	// The paper's Table 2 (pixel MSE on the [−1, 1] scale after SD-1.5's VAE decoder, COCO-14),
	// to set beside PM1.
	PaperTable2 *float64 `json:"paper_table2_pixel_mse,omitempty"`
}

// Reconstruct inverts every image with every sampler and N and samples back (spec §4.5):
// the MSE of each image in latent, [−1, 1] and 8-bit [0, 1] terms (pipeline.ImageErrors)
// and the spread of the inverted noise. Images are encoded with the pipeline's codec before
// the inversion and the reconstructions decoded after it. It stops, returning ctx's error
// and what it finished, when ctx is cancelled.
func Reconstruct(ctx context.Context, p *pipeline.Pipeline, c ReconstructionConfig) (ReconstructionResult, error) {
	if c.BatchSize == 0 {
		c.BatchSize = 8
	}
	res := ReconstructionResult{Seconds: map[string]float64{}}
	if len(c.Samplers) == 0 || len(c.Steps) == 0 || len(c.Images.Names) == 0 || c.Images.Load == nil || c.BatchSize < 0 {
		return res, fmt.Errorf("reconstruction: %d samplers, %d step counts, %d images, batch %d: give at least one of each, and Images.Load", len(c.Samplers), len(c.Steps), len(c.Images.Names), c.BatchSize)
	}
	nImg := len(c.Images.Names)
	t := track(p.Runner, c.Progress, 2*len(c.Samplers)*sum(c.Steps)*c.Batches.count(nImg, c.BatchSize))
	defer t.stop()
	for _, n := range c.Steps {
		for _, s := range c.Samplers {
			t.at("%s", rowKey(s.Name(), n))
			start := time.Now()
			for i := 0; i < nImg; i += c.BatchSize {
				if !c.Batches.has(i / c.BatchSize) {
					continue
				}
				if err := stopped(ctx, fmt.Sprintf("%s, images %d…", t.what, i)); err != nil {
					return res, err
				}
				first := n == c.Steps[0] && s == c.Samplers[0] // the codec's round trip, once an image
				rows, codec, err := reconstructBatch(p, c, s, n, i, min(i+c.BatchSize, nImg), first)
				if err != nil {
					return res, err
				}
				res.Rows, res.Codec = append(res.Rows, rows...), append(res.Codec, codec...)
			}
			p.Runner.ReleaseGraphs() // each sampler's ORT sessions hold arenas of the batch's size
			res.Seconds[t.what] = time.Since(start).Seconds()
			if c.Finished != nil {
				if err := c.Finished(res); err != nil {
					return res, err
				}
			}
		}
	}
	return res, nil
}

// reconstructBatch reconstructs images [i, j) with s in n steps; with codec, for a latent
// model, it also returns the images' round trips through the codec alone.
func reconstructBatch(p *pipeline.Pipeline, c ReconstructionConfig, s belm.Sampler, n, i, j int, codec bool) ([]ReconstructionRow, []CodecRow, error) {
	names, b := c.Images.Names[i:j], j-i
	img0, err := c.Images.Load(i, j)
	if err != nil {
		return nil, nil, err
	}
	z0, err := p.Encode(img0, b)
	if err != nil {
		return nil, nil, err
	}
	var floor []CodecRow
	if _, pixels := p.Codec.(pipeline.Identity); codec && !pixels {
		dec, err := p.Decode(z0, b)
		if err != nil {
			return nil, nil, err
		}
		for k, e := range pipeline.ImageErrors(z0, z0, img0, dec, b) {
			floor = append(floor, CodecRow{Index: i + k, Image: names[k], Errors: e})
		}
	}
	zr, zN, err := p.Reconstruct(s, n, z0, b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s N=%d, images %s…: %w", s.Name(), n, names[0], err)
	}
	img, err := p.Decode(zr, b)
	if err != nil {
		return nil, nil, err
	}
	var rows []ReconstructionRow
	per := len(zN) / b
	for k, e := range pipeline.ImageErrors(z0, zr, img0, img, b) {
		rows = append(rows, ReconstructionRow{Sampler: s.Name(), N: n, Index: i + k, Image: names[k], NoiseStd: std(zN[k*per : (k+1)*per]), Errors: e})
	}
	if c.Reconstructed != nil {
		if err := c.Reconstructed(ReconstructedBatch{Sampler: s.Name(), N: n, First: i, Images: img}); err != nil {
			return nil, nil, err
		}
	}
	return rows, floor, nil
}

// Summaries averages the rows of each sampler and N, in the order they first appear, with
// the paper's Table 5 beside them.
func (r ReconstructionResult) Summaries() []ReconstructionSummary {
	var keys []string
	group := map[string][]pipeline.Errors{}
	first := map[string]ReconstructionRow{}
	for _, row := range r.Rows {
		k := rowKey(row.Sampler, row.N)
		if _, ok := group[k]; !ok {
			keys, first[k] = append(keys, k), row
		}
		group[k] = append(group[k], row.Errors)
	}
	var sums []ReconstructionSummary
	for _, k := range keys {
		row := first[k]
		s := ReconstructionSummary{Sampler: row.Sampler, N: row.N, Images: len(group[k]), Seconds: r.Seconds[k], Errors: pipeline.Mean(group[k])}
		if v, ok := PaperValue(PaperLatentReconstructionMSE, row.Sampler, row.N); ok {
			s.PaperTable5 = &v
		}
		if v, ok := PaperValue(PaperPixelReconstructionMSE, row.Sampler, row.N); ok {
			s.PaperTable2 = &v
		}
		sums = append(sums, s)
	}
	return sums
}

// MergeReconstructions joins the results of the shards of one run (of images images, the
// samplers and step counts named as the run's) into the whole run's: its rows in the whole
// run's order (N, then sampler, then image), the seconds added. A shard that stopped early
// (rows missing) is an error.
func MergeReconstructions(shards []ReconstructionResult, samplers []string, steps []int, images int) (ReconstructionResult, error) {
	all := ReconstructionResult{Seconds: map[string]float64{}}
	for _, d := range shards {
		all.Rows, all.Codec = append(all.Rows, d.Rows...), append(all.Codec, d.Codec...)
		for k, v := range d.Seconds {
			all.Seconds[k] += v
		}
	}
	slices.SortStableFunc(all.Rows, func(a, b ReconstructionRow) int {
		if c := slices.Index(steps, a.N) - slices.Index(steps, b.N); c != 0 {
			return c
		}
		if c := slices.Index(samplers, a.Sampler) - slices.Index(samplers, b.Sampler); c != 0 {
			return c
		}
		return a.Index - b.Index
	})
	slices.SortStableFunc(all.Codec, func(a, b CodecRow) int { return a.Index - b.Index })
	if want := images * len(samplers) * len(steps); len(all.Rows) != want {
		return all, fmt.Errorf("the shards hold %d rows, the run has %d (%d images × %d samplers × %d N): a shard stopped early; rerun it", len(all.Rows), want, images, len(samplers), len(steps))
	}
	return all, nil
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}
