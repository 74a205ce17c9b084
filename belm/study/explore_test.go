package study

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
	"github.com/belmlab/workbench/belm/pipeline"
)

// Pair.At is InterpolateImages' image at the same weight (the same states and
// sampling, inverted once), and an exact sampler gives the inputs back at 0 and 1.
func TestPairIsTheInterpolationStudy(t *testing.T) {
	p, err := ShapesPipeline(Common{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Sampler("belm", belm.DefaultSamplerOptions, false)
	if err != nil {
		t.Fatal(err)
	}
	images := analytic.Shapes().Data(3, 2)
	q, err := InvertPair(p, s, 10, images)
	if err != nil {
		t.Fatal(err)
	}
	weights := []float64{0, 0.3, 1}
	r, err := InterpolateImages(context.Background(), p, InterpolationConfig{Sampler: s, N: 10, Weights: weights}, images)
	if err != nil {
		t.Fatal(err)
	}
	size := p.ImageSize(1)
	for i, w := range weights {
		x, err := q.At(w)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(x, r.Images[i*size:(i+1)*size]); d > 1e-12 {
			t.Errorf("At(%v) differs from the study's image by %.2g", w, d)
		}
	}
	x0, _ := q.At(0)
	x1, _ := q.At(1)
	if d := math.Max(maxAbsDiff(x0, images[:size]), maxAbsDiff(x1, images[size:])); d > 1e-10 {
		t.Errorf("O-BELM endpoints are %.2g from the inputs", d)
	}
	row, err := q.Row(0.3)
	if err != nil || len(row) != 3*size || maxAbsDiff(row[:size], images[:size]) != 0 || maxAbsDiff(row[2*size:], images[size:]) != 0 {
		t.Errorf("Row: %d values, %v", len(row), err)
	}
	if _, err := InvertPair(p, s, 10, images[:size]); err == nil {
		t.Error("InvertPair of one image")
	}
}

// tinyModel lays out the tiny fixture UNet (belm/unet/testdata, 3×8×8) as a diffusers
// folder with google/ddpm-cifar10-32's scheduler config.
func tinyModel(t *testing.T) string {
	t.Helper()
	td := "../../belm/unet/testdata/"
	dir, err := pipeline.AssembleFolder(filepath.Join(t.TempDir(), "tiny"), td+"tiny_cifar10_config.json",
		td+"tiny_cifar10_unet.safetensors", "../../belm/testdata/ddpm_scheduler_config.json")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// SamplePath records every step of Pipeline.Sample: it starts at the noise and ends at the
// samples, x̂₀ at each step is (x − σε)/α with the model's ε there, and x̂₀ = x at the end.
func TestSamplePath(t *testing.T) {
	p, err := pipeline.Load(tinyModel(t), pipeline.Options{DType: dtypes.Float64})
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Sampler("belm", belm.DefaultSamplerOptions, true)
	if err != nil {
		t.Fatal(err)
	}
	const n, batch = 4, 2
	noise := pipeline.Noise(5, p.Size(batch))
	path, err := SamplePath(p, s, n, noise, batch)
	if err != nil {
		t.Fatal(err)
	}
	want, err := p.Sample(s, n, noise, batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(path.Latents) != n+1 || len(path.Predictions) != n+1 || len(path.Levels) != n+1 || path.N != n || path.Sampler != "belm" {
		t.Fatalf("path: %d latents, %d predictions, %d levels, N %d, %s", len(path.Latents), len(path.Predictions), len(path.Levels), path.N, path.Sampler)
	}
	if maxAbsDiff(path.Latents[0], noise) != 0 || maxAbsDiff(path.Latents[n], want) > 1e-12 || maxAbsDiff(path.Predictions[n], path.Latents[n]) != 0 {
		t.Errorf("ends: noise %.2g, samples %.2g, x̂₀ at the end %.2g", maxAbsDiff(path.Latents[0], noise),
			maxAbsDiff(path.Latents[n], want), maxAbsDiff(path.Predictions[n], path.Latents[n]))
	}
	if pic := path.Pictures(2); len(pic) != 2*p.ImageSize(batch) || maxAbsDiff(pic[:p.ImageSize(batch)], path.Latents[2]) != 0 || maxAbsDiff(pic[p.ImageSize(batch):], path.Predictions[2]) != 0 {
		t.Errorf("Pictures(2): %d values", len(pic))
	}
	if p.Runner.Observer != nil {
		t.Error("SamplePath left its observer on the runner")
	}
	// x̂₀ after step 1, by hand: the model's ε at that level's network time.
	g, _ := p.Grid(n)
	lv, net := g.Levels[n-1], g.Net[n-1]
	x, _ := belm.NewTensor(path.Latents[1], dtypes.Float64, p.Shape(batch)...)
	tt, _ := belm.NewTensor([]float64{net.T, net.T}, dtypes.Float64, batch)
	e, err := p.Eps(x, tt)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := belm.Values(e)
	hand := make([]float64, len(ev))
	for i := range hand {
		hand[i] = (path.Latents[1][i] - lv.Sigma*ev[i]) / lv.Alpha
	}
	if d := maxAbsDiff(path.Predictions[1], hand); d > 1e-12 || path.Levels[1] != lv {
		t.Errorf("x̂₀ after one step differs from (x − σε)/α by %.2g", d)
	}
}
