package study

import (
	"context"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/quality"
)

// projection is a feature extractor for tests: 3 fixed random projections of a 1×4×4
// image.
type projection struct{ w []float64 }

func newProjection() projection { return projection{belm.Normal(17, 3*16)} }

func (projection) Dim() int { return 3 }

func (f projection) Features(x []float32) ([]float32, error) {
	n := len(x) / 16
	out := make([]float32, 3*n)
	for i := range n {
		for j := range 3 {
			var s float64
			for k := range 16 {
				s += f.w[16*j+k] * float64(x[16*i+k])
			}
			out[3*i+j] = float32(s)
		}
	}
	return out, nil
}

// The Fréchet study: a set of samples against itself is at distance ≈ 0 (≤ 1e-9: the matrix
// square root of Σ·Σ, whose trace is ~1, computed in float64), the data floor likewise when
// Floor is Reference; a run in two shards, merged, gives the whole run's moments (N exactly)
// and distances to 1e-10 relative (the same values summed in another order); only the
// shard with batch 0 keeps the first samples.
func TestFrechet(t *testing.T) {
	p := gaussianPipeline(t, dtypes.Float64, nil)
	ss := samplers(t, p, true, "ddim", "belm")
	const num, batch = 30, 8
	var seeds []uint64
	for k := range (num + batch - 1) / batch {
		seeds = append(seeds, 1+uint64(k))
	}
	// The reference: belm's own samples (the last batch cut to the run's 30), 8-bit as the study reads them.
	var ref []float32
	bs, err := Samples(context.Background(), p, SamplesConfig{Samplers: ss[1:], N: 6, BatchSize: batch, Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	for k, b := range bs {
		ref = append(ref, quality.Quantize(b.Images[:16*min(batch, num-k*batch)])...)
	}
	cfg := FrechetConfig{Samplers: ss, Steps: []int{6}, NumSamples: num, BatchSize: batch, Seed: 1, Features: newProjection(),
		Reference: ref, Floor: ref, Keep: 3}
	whole, err := Frechet(context.Background(), p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows, floor, err := whole.Distances()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("floor %.2e, ddim %.4g, belm %.2e", floor, rows[0].Frechet, rows[1].Frechet)
	if len(rows) != 2 || rows[1].Samples != num || math.Abs(rows[1].Frechet) > 1e-9 || math.Abs(floor) > 1e-9 || rows[0].Frechet < 1e-6 {
		t.Errorf("against itself: belm %g, floor %g (want ≈ 0); DDIM %g (want > 0)", rows[1].Frechet, floor, rows[0].Frechet)
	}
	if len(whole.Parts[0].First) != 3*16 {
		t.Errorf("kept %d values, want the first 3 samples", len(whole.Parts[0].First))
	}
	var shards []FrechetData
	for i := range 2 {
		c := cfg
		c.Batches = func(k int) bool { return k%2 == i }
		d, err := Frechet(context.Background(), p, c)
		if err != nil {
			t.Fatal(err)
		}
		if kept := len(d.Parts[0].First); (i == 0) != (kept > 0) {
			t.Errorf("shard %d kept %d values of the first samples", i, kept)
		}
		shards = append(shards, d)
	}
	merged, err := MergeFrechet(shards, 2)
	if err != nil {
		t.Fatal(err)
	}
	mrows, _, err := merged.Distances()
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if mrows[i].Samples != num || math.Abs(mrows[i].Frechet-rows[i].Frechet) > 1e-10*math.Max(1, rows[i].Frechet) {
			t.Errorf("%s: merged %g of %d samples, whole run %g", rows[i].Sampler, mrows[i].Frechet, mrows[i].Samples, rows[i].Frechet)
		}
	}
	if _, err := MergeFrechet([]FrechetData{shards[0], {Parts: shards[1].Parts[:1]}}, 2); err == nil {
		t.Error("a shard with 1 of 2 parts merged")
	}
}
