package study

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
	"github.com/belmlab/workbench/belm/pipeline"
)

// gaussianPipeline is the 16-d Gaussian model (closed-form ε) as a pipeline of 1×4×4
// "images" on the go backend, in dtype, with the SD schedule (linspace); codec nil is the
// identity.
func gaussianPipeline(t *testing.T, dtype dtypes.DType, codec pipeline.Codec) *pipeline.Pipeline {
	t.Helper()
	prob, err := analytic.NewProblem("gaussian", 16)
	if err != nil {
		t.Fatal(err)
	}
	if codec == nil {
		codec = pipeline.Identity{Shape: []int{1, 4, 4}}
	}
	p, err := pipeline.New(prob.Model, belm.SDConfig, pipeline.Options{DType: dtype, Backend: "go", Float64Schedule: true, Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testImages are n 1×4×4 images with values in [−0.8, 0.8] (inside [−1, 1], so clamping
// never acts on an exact reconstruction).
func testImages(n int) []float64 {
	v := belm.Uniform(5, 16*n)
	for i := range v {
		v[i] = 1.6*v[i] - 0.8
	}
	return v
}

func samplers(t *testing.T, p *pipeline.Pipeline, sampling bool, names ...string) []belm.Sampler {
	t.Helper()
	ss, err := p.Samplers(names, belm.DefaultSamplerOptions, sampling)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// affineCodec is a latent codec that is not the identity: a latent is 2·image + 0.1, flat
// ([16] for 1×4×4 images), so latent errors are 4× the pixel ones.
type affineCodec struct{}

func (affineCodec) ImageShape() []int  { return []int{1, 4, 4} }
func (affineCodec) LatentShape() []int { return []int{16} }

func (affineCodec) Encode(x []float64, batch int) ([]float64, error) {
	if len(x) != 16*batch {
		return nil, fmt.Errorf("%d values for %d images", len(x), batch)
	}
	z := make([]float64, len(x))
	for i, v := range x {
		z[i] = 2*v + 0.1
	}
	return z, nil
}

func (affineCodec) Decode(z []float64, batch int) ([]float64, error) {
	x := make([]float64, len(z))
	for i, v := range z {
		x[i] = (v - 0.1) / 2
	}
	return x, nil
}

func maxAbsDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	return belm.Compare(a, b, 1).MaxAbs
}
