package study

import (
	"context"
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
)

// DenoisingConfig is what DenoisingError measures: the images, the network timesteps, and
// the noise (the batch of images [kB, (k+1)B) gets the noise of seed+k at every timestep, so
// two models measured with the same config see the same noisy inputs).
type DenoisingConfig struct {
	Images    Images
	Timesteps []int // network timesteps, 0 ≤ t < the schedule's T
	BatchSize int
	Seed      uint64
}

// DenoisingRow is the ε-prediction error at one timestep: MSE = mean over images and values
// of (ε_θ(x_t, t) − ε)², the DDPM training loss at that t; Images is how many it averages.
type DenoisingRow struct {
	T      int     `json:"timestep"`
	MSE    float64 `json:"eps_mse"`
	Images int     `json:"images"`
}

// DenoisingError is the held-out training loss by timestep: for each image x₀ and each t it
// forms x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε (the forward process, ε ~ N(0, I)) and measures how far
// the network's ε_θ(x_t, t) is from ε. On test images it says how well a model has learned
// the data at each noise level, independently of any sampler: small t is the fine detail
// (the error there stays high, ε is nearly invisible under x₀), large t the coarse shape.
// The network's raw output must be ε (prediction_type "epsilon"). NaN or Inf from the
// network is an error naming the timestep.
func DenoisingError(ctx context.Context, p *pipeline.Pipeline, cfg DenoisingConfig) ([]DenoisingRow, error) {
	n, bs := len(cfg.Images.Names), cfg.BatchSize
	if n == 0 || bs < 1 || len(cfg.Timesteps) == 0 {
		return nil, fmt.Errorf("denoising error: want images (%d), a batch size (%d) and timesteps (%d)", n, bs, len(cfg.Timesteps))
	}
	if pt := p.Schedule.Config.PredictionType; pt != "" && pt != "epsilon" {
		return nil, fmt.Errorf("denoising error: the model predicts %q, this measures ε-prediction (\"epsilon\")", pt)
	}
	T := len(p.Schedule.AlphasCumprod)
	for _, t := range cfg.Timesteps {
		if t < 0 || t >= T {
			return nil, fmt.Errorf("denoising error: timestep %d outside [0, %d)", t, T)
		}
	}
	sums := make([]float64, len(cfg.Timesteps))
	for k := 0; k*bs < n; k++ {
		if err := stopped(ctx, fmt.Sprintf("batch %d", k)); err != nil {
			return nil, err
		}
		i, j := k*bs, min((k+1)*bs, n)
		img, err := cfg.Images.Load(i, j)
		if err != nil {
			return nil, err
		}
		x0, err := p.Encode(img, j-i) // the latents, for a model with a codec
		if err != nil {
			return nil, err
		}
		eps := pipeline.Noise(cfg.Seed+uint64(k), len(x0))
		for ti, t := range cfg.Timesteps {
			se, err := epsSquaredError(p, x0, eps, j-i, t)
			if err != nil {
				return nil, err
			}
			sums[ti] += se
		}
	}
	rows := make([]DenoisingRow, len(cfg.Timesteps))
	for ti, t := range cfg.Timesteps {
		rows[ti] = DenoisingRow{T: t, MSE: sums[ti] / float64(p.Size(n)), Images: n}
	}
	return rows, nil
}

// epsSquaredError is Σ (ε_θ(x_t, t) − ε)² over a batch of b images x0 noised with eps.
func epsSquaredError(p *pipeline.Pipeline, x0, eps []float64, b, t int) (float64, error) {
	lv := p.Schedule.Level(t)
	xt := make([]float64, len(x0))
	for i := range xt {
		xt[i] = lv.Alpha*x0[i] + lv.Sigma*eps[i]
	}
	out, err := p.Eps(tensors.FromFlatDataAndDimensions(xt, append([]int{b}, p.LatentShape()...)...), tensors.FromScalar(float64(t)))
	if err != nil {
		return 0, err
	}
	pred, err := belm.Values(out)
	if err != nil {
		return 0, err
	}
	var s float64
	for i, v := range pred {
		d := v - eps[i]
		s += d * d
	}
	if s != s || s > 1e300 {
		return 0, fmt.Errorf("denoising error: the model's ε at t = %d is not finite (NaN or Inf)", t)
	}
	return s, nil
}
