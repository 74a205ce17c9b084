package study

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
)

// Reconstruction on the closed-form Gaussian model in float64: the exact samplers give back
// the images to ≤ 1e-10 (float64 rounding, ~1e-16, amplified at most ~1.5× by 20 steps of
// BDIA's 1/γ and EDICT's 1/p), DDIM does not (its inversion is another relation: > 1e-4).
// Through a codec that is not the identity, the latent MSE is measured on latents and the
// pixel ones on decoded images: for 2·x + 0.1 latents, mse_latent = 4·mse_pm1 for DDIM (to
// 1e-12 relative: the same differences, squared, in another scale; DDIM's reconstructions
// of these images stay inside [−1, 1], where the clamp of mse_pm1 does not act).
func TestReconstructExact(t *testing.T) {
	for _, codec := range []struct {
		name  string
		c     *affineCodec
		scale float64
	}{{"identity", nil, 1}, {"affine", &affineCodec{}, 4}} {
		t.Run(codec.name, func(t *testing.T) {
			var p = gaussianPipeline(t, dtypes.Float64, nil)
			if codec.c != nil {
				p = gaussianPipeline(t, dtypes.Float64, *codec.c)
			}
			const n = 5
			x := testImages(n)
			worst := map[string]float64{}
			finished := 0
			res, err := Reconstruct(context.Background(), p, ReconstructionConfig{
				Samplers: samplers(t, p, false, "ddim", "edict", "bdia", "belm"), Steps: []int{10, 20}, Images: ImagesOf(x, n), BatchSize: 2,
				Reconstructed: func(b ReconstructedBatch) error {
					k := len(b.Images) / 16
					worst[b.Sampler] = max(worst[b.Sampler], maxAbsDiff(b.Images, x[16*b.First:16*(b.First+k)]))
					return nil
				},
				Finished: func(ReconstructionResult) error { finished++; return nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rows) != n*4*2 || finished != 8 || len(res.Seconds) != 8 {
				t.Fatalf("%d rows, %d calls of Finished, %d timings: want 40, 8, 8", len(res.Rows), finished, len(res.Seconds))
			}
			for s, e := range worst {
				t.Logf("%s: max |x̂₀ − x₀| = %.2e", s, e)
				if exact := s != "ddim"; exact && e > 1e-10 || !exact && e < 1e-4 {
					t.Errorf("%s: max |x̂₀ − x₀| = %.2e: want ≤ 1e-10 for an exact sampler, ≥ 1e-4 for DDIM", s, e)
				}
			}
			for _, r := range res.Rows {
				if r.Sampler != "ddim" {
					continue
				}
				if d := math.Abs(r.Latent - codec.scale*r.PM1); d > 1e-12*r.Latent {
					t.Errorf("DDIM N=%d image %d: latent MSE %.6e, %g × pixel MSE %.6e", r.N, r.Index, r.Latent, codec.scale, codec.scale*r.PM1)
				}
			}
			sums := res.Summaries()
			if len(sums) != 8 || sums[0].Images != n || sums[0].PaperTable5 == nil || *sums[0].PaperTable5 != 0.414 {
				t.Errorf("summaries: %+v", sums)
			}
		})
	}
}

// A run in two shards (even and odd batches), merged, equals the whole run row for row,
// bit for bit: each batch is computed alike. A stopped context ends the run before the next
// batch with ctx's error, after handing over what it finished.
func TestReconstructShardsAndStop(t *testing.T) {
	p := gaussianPipeline(t, dtypes.Float64, nil)
	const n = 5
	cfg := ReconstructionConfig{Samplers: samplers(t, p, false, "ddim", "belm"), Steps: []int{4, 6}, Images: ImagesOf(testImages(n), n), BatchSize: 2}
	whole, err := Reconstruct(context.Background(), p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var parts []ReconstructionResult
	for i := range 2 {
		c := cfg
		c.Batches = func(k int) bool { return k%2 == i }
		r, err := Reconstruct(context.Background(), p, c)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, r)
	}
	merged, err := MergeReconstructions(parts, []string{"ddim", "belm"}, cfg.Steps, n)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(merged.Rows, whole.Rows) {
		t.Errorf("merged rows differ from the whole run's:\n%+v\n%+v", merged.Rows, whole.Rows)
	}
	if _, err := MergeReconstructions(parts[:1], []string{"ddim", "belm"}, cfg.Steps, n); err == nil {
		t.Error("merging one shard of two: no error")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cfg.Finished = func(ReconstructionResult) error { cancel(); return nil }
	res, err := Reconstruct(ctx, p, cfg)
	if !errors.Is(err, context.Canceled) || len(res.Rows) != n {
		t.Errorf("stopped run: %v, %d rows (want context.Canceled and the first sampler's %d)", err, len(res.Rows), n)
	}
}
