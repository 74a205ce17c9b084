package analytic

import (
	"fmt"
	"math"

	"github.com/belmlab/workbench/belm"
)

// Problem bundles an analytic model with its data distribution and its exact PF-ODE flow:
// everything a round-trip, order or figure study needs. Latents have shape [Batch, D].
type Problem struct {
	Name  string
	Model belm.Model
	D     int
	// Data draws batch data points x₀ (flat, batch·D values) from a seed.
	Data func(seed uint64, batch int) []float64
	// Flow returns the exact flow for latents of the given batch size: closed form for the
	// Gaussian, RK4 with 2000 steps through the runner for the mixture.
	Flow func(r *belm.Runner, batch int) belm.Flow
}

// NewProblem returns the named problem ("gaussian" or "gmm") in d dimensions:
//
//	gaussian: N(μ, 0.5² I) with μ_j = 0.25·((j mod 5) − 2)
//	gmm:      3 components, weights (0.5, 0.3, 0.2), stds (0.3, 0.2, 0.4), means ±0.8·(k−1) in
//	          alternating coordinates (in 2-D: (−0.8, 0.8), (0, 0), (0.8, −0.8))
func NewProblem(name string, d int) (*Problem, error) {
	switch name {
	case "gaussian":
		mean := make([]float64, d)
		for i := range mean {
			mean[i] = 0.25 * float64(i%5-2)
		}
		g, err := NewGaussian(d, mean, 0.5)
		if err != nil {
			return nil, err
		}
		return &Problem{
			Name: name, Model: g, D: d,
			Data: func(seed uint64, batch int) []float64 { return g.Sample(belm.Normal(seed, batch*d)) },
			Flow: func(*belm.Runner, int) belm.Flow {
				return func(xbar []float64, from, to float64) ([]float64, error) { return g.Transport(xbar, from, to), nil }
			},
		}, nil
	case "shapes":
		if d != 256 {
			return nil, fmt.Errorf("the shapes model is 16×16 images: dimension 256, got %d", d)
		}
		return Shapes(), nil
	case "gmm":
		means := make([][]float64, 3)
		for k := range means {
			means[k] = make([]float64, d)
			for i := range means[k] {
				means[k][i] = float64(k-1) * 0.8 * float64(1-2*(i%2))
			}
		}
		m, err := NewGMM([]float64{0.5, 0.3, 0.2}, means, []float64{0.3, 0.2, 0.4})
		if err != nil {
			return nil, err
		}
		return &Problem{
			Name: name, Model: m, D: d,
			Data: func(seed uint64, batch int) []float64 {
				return m.Sample(belm.Uniform(seed, batch), belm.Normal(seed+1, batch*d))
			},
			Flow: func(r *belm.Runner, batch int) belm.Flow { return r.IntegrateFlow([]int{batch, d}, 2000) },
		}, nil
	}
	return nil, fmt.Errorf("unknown analytic model %q: use gaussian, gmm or shapes (D = 256)", name)
}

// Shapes is an image problem: a Gaussian mixture whose three components are 16×16 grey
// pictures (a ring, a cross and a square, values in [−1, 1]) with pixel noise of std 0.15.
// Its samples, inversions and interpolations can be looked at as images, with an exact ε.
// Latents are [B, 1, 16, 16].
func Shapes() *Problem {
	const side = 16
	d := side * side
	ring, cross, square := make([]float64, d), make([]float64, d), make([]float64, d)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			fx, fy := float64(x)-7.5, float64(y)-7.5
			r := math.Hypot(fx, fy)
			ring[y*side+x] = pick(r > 3.5 && r < 6)
			cross[y*side+x] = pick(math.Abs(fx) < 1.6 || math.Abs(fy) < 1.6)
			square[y*side+x] = pick(math.Max(math.Abs(fx), math.Abs(fy)) < 5.5 && math.Max(math.Abs(fx), math.Abs(fy)) > 3)
		}
	}
	m, err := NewGMM([]float64{1.0 / 3, 1.0 / 3, 1 - 2.0/3}, [][]float64{ring, cross, square}, []float64{0.15, 0.15, 0.15})
	if err != nil {
		panic(err) // constant data
	}
	return &Problem{
		Name: "shapes", Model: m, D: d,
		Data: func(seed uint64, batch int) []float64 {
			return m.Sample(belm.Uniform(seed, batch), belm.Normal(seed+1, batch*d))
		},
		Flow: func(r *belm.Runner, batch int) belm.Flow { return r.IntegrateFlow([]int{batch, 1, side, side}, 2000) },
	}
}

func pick(on bool) float64 {
	if on {
		return 0.9
	}
	return -0.9
}
