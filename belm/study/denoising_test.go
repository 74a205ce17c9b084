package study

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
)

// DenoisingError on the tiny UNet (float64, go) against the same quantity by hand: all five
// images noised at once with the noise the config promises (batch k of 2 images: seed+k),
// x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε from the schedule's ᾱ, one network call, mean of the squared
// differences. The study batches 2 + 2 + 1 and sums in another order: equal to 1e-12.
func TestDenoisingError(t *testing.T) {
	p, err := pipeline.Load(tinyModel(t), pipeline.Options{DType: dtypes.Float64})
	if err != nil {
		t.Fatal(err)
	}
	const n, batch, seed = 5, 2, 7
	x0 := belm.Uniform(3, p.Size(n))
	for i := range x0 {
		x0[i] = 2*x0[i] - 1
	}
	ts := []int{0, 500, 999}
	rows, err := DenoisingError(context.Background(), p, DenoisingConfig{Images: ImagesOf(x0, n), Timesteps: ts, BatchSize: batch, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	var eps []float64
	for k := 0; k*batch < n; k++ {
		eps = append(eps, pipeline.Noise(seed+uint64(k), p.Size(min(batch, n-k*batch)))...)
	}
	for i, tt := range ts {
		ab := p.Schedule.AlphasCumprod[tt]
		xt := make([]float64, len(x0))
		for j := range xt {
			xt[j] = math.Sqrt(ab)*x0[j] + math.Sqrt(1-ab)*eps[j]
		}
		out, err := p.Eps(tensors.FromFlatDataAndDimensions(xt, append([]int{n}, p.LatentShape()...)...), tensors.FromScalar(float64(tt)))
		if err != nil {
			t.Fatal(err)
		}
		pred, _ := belm.Values(out)
		var s float64
		for j := range pred {
			s += (pred[j] - eps[j]) * (pred[j] - eps[j])
		}
		want := s / float64(len(pred))
		r := rows[i]
		t.Logf("t = %d: ε-MSE %.6g (by hand %.6g)", tt, r.MSE, want)
		if r.T != tt || r.Images != n || math.Abs(r.MSE-want) > 1e-12*want {
			t.Errorf("t = %d: %+v, by hand %.15g", tt, r, want)
		}
	}
	for _, c := range []struct {
		cfg  DenoisingConfig
		want string
	}{
		{DenoisingConfig{Images: ImagesOf(x0, n), Timesteps: []int{1000}, BatchSize: 2}, "timestep 1000 outside [0, 1000)"},
		{DenoisingConfig{Images: ImagesOf(x0, n), Timesteps: []int{-1}, BatchSize: 2}, "timestep -1"},
		{DenoisingConfig{Images: ImagesOf(x0, n), BatchSize: 2}, "timesteps (0)"},
		{DenoisingConfig{Images: ImagesOf(x0, n), Timesteps: ts}, "batch size (0)"},
	} {
		if _, err := DenoisingError(context.Background(), p, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error naming %q, got %v", c.want, err)
		}
	}
}
