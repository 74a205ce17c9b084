package study

import (
	"context"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm/pipeline"
)

// Interpolating between inverted images: the weight-0 and weight-1 images reproduce the
// inputs to ≤ 1e-10 with the exact samplers in float64 (their inversion is exact, and
// slerp(0) and slerp(1) are the endpoints bit for bit), for the paper's whole-vector slerp
// and the reference's per-channel one, through a codec too; DDIM's do not (> 1e-4).
func TestInterpolateImagesEndpoints(t *testing.T) {
	for _, c := range []struct {
		sampler    string
		perChannel bool
		codec      pipeline.Codec
	}{{"belm", false, nil}, {"edict", true, nil}, {"bdia", false, affineCodec{}}, {"ddim", false, nil}} {
		p := gaussianPipeline(t, dtypes.Float64, c.codec)
		rows := 0
		res, err := InterpolateImages(context.Background(), p, InterpolationConfig{Sampler: samplers(t, p, false, c.sampler)[0], N: 10, PerChannel: c.perChannel,
			Row: func(InterpolationRow) error { rows++; return nil }}, testImages(4))
		if err != nil {
			t.Fatal(err)
		}
		if res.Pairs != 2 || rows != 2 || len(res.Weights) != 11 || len(res.Images) != 2*11*16 || !res.FromImages {
			t.Fatalf("%s: %d pairs, %d rows handed over, %d weights, %d values", c.sampler, res.Pairs, rows, len(res.Weights), len(res.Images))
		}
		t.Logf("%s (per channel %v): endpoint error %.2e", c.sampler, c.perChannel, res.EndpointMaxAbs)
		if exact := c.sampler != "ddim"; exact && res.EndpointMaxAbs > 1e-10 || !exact && res.EndpointMaxAbs < 1e-4 {
			t.Errorf("%s: endpoints reproduce the inputs to %.2e: want ≤ 1e-10 when exact, ≥ 1e-4 for DDIM", c.sampler, res.EndpointMaxAbs)
		}
		if mid := maxAbsDiff(res.Images[5*16:6*16], res.Images[0:16]); mid < 1e-3 {
			t.Errorf("%s: the middle image equals the first (%.2e): nothing was interpolated", c.sampler, mid)
		}
	}
}

// Interpolating between noises: the weight-0 and weight-1 images are the samples of the two
// noises themselves (slerp's endpoints are exact; a sample does not depend on the rest of
// its batch beyond rounding: ≤ 1e-12 in float64).
func TestInterpolateNoisesEndpoints(t *testing.T) {
	p := gaussianPipeline(t, dtypes.Float64, nil)
	s := samplers(t, p, true, "belm")[0]
	z := pipeline.Noise(9, p.Size(2))
	res, err := InterpolateNoises(context.Background(), p, InterpolationConfig{Sampler: s, N: 8, Weights: []float64{0, 0.5, 1}}, z)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := p.Sample(s, 8, z, 2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pairs != 1 || res.FromImages {
		t.Fatalf("%d pairs, from images %v", res.Pairs, res.FromImages)
	}
	if a, b := maxAbsDiff(res.Images[:16], direct[:16]), maxAbsDiff(res.Images[32:], direct[16:]); a > 1e-12 || b > 1e-12 {
		t.Errorf("endpoints differ from the samples of the noises by %.2e and %.2e", a, b)
	}
	if _, err := InterpolateNoises(context.Background(), p, InterpolationConfig{Sampler: s, N: 8}, z[:20]); err == nil {
		t.Error("20 noise values (not pairs of 16): no error")
	}
}
