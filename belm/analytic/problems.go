package analytic

import (
	"fmt"

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
	return nil, fmt.Errorf("unknown analytic model %q: use gaussian or gmm", name)
}
