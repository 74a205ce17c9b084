package study

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
)

// The 2-D trajectory study inverts these many points of the mixture, drawn with this seed.
const (
	trajectoryPoints = 6
	trajectorySeed   = 7
)

// TrajectoryPath is one data point's round trip in the plane: its inversion to noise and
// the sampling path from that noise back.
type TrajectoryPath struct {
	Sampler   string       // the sampler's name (belm.Sampler.Name)
	Inversion [][2]float64 // x₀, then the latent after each inversion step (x₀ → x_N)
	Sampling  [][2]float64 // x_N, then the latent after each sampling step (x_N → x̂₀)
}

// ReconstructionError is max |x̂₀ − x₀| over both coordinates: 0 up to roundoff for an exact
// inversion, DDIM's inexactness otherwise; NaN for an empty path.
func (p TrajectoryPath) ReconstructionError() float64 {
	if len(p.Inversion) == 0 || len(p.Sampling) == 0 {
		return math.NaN()
	}
	x0, x0hat := p.Inversion[0], p.Sampling[len(p.Sampling)-1]
	return math.Max(math.Abs(x0hat[0]-x0[0]), math.Abs(x0hat[1]-x0[1]))
}

// TrajectoryResult holds the paths of every sampler over a 2-D Gaussian mixture.
type TrajectoryResult struct {
	N     int              // steps of each pass
	Paths []TrajectoryPath // sampler by sampler, the same data points in the same order
	mix   *analytic.GMM
}

// Density is the data density of the mixture the paths start from.
func (r TrajectoryResult) Density(x, y float64) float64 {
	if r.mix == nil {
		return 0
	}
	return r.mix.Density([]float64{x, y})
}

// Trajectories inverts 6 points of the 2-D Gaussian mixture ("gmm", D = 2, data seed 7)
// with each sampler over n steps of c's schedule and samples each back, recording every
// latent. From c it takes the schedule, γ and p, the dtype and the backend; the model,
// dimension, batch and seed are the figure's own, a picture of the plane.
func Trajectories(c Common, n int, samplers []string) (TrajectoryResult, error) {
	c = c.defaults()
	c.Model, c.D = "gmm", 2
	p, ss, err := c.setup(samplers)
	if err != nil {
		return TrajectoryResult{}, err
	}
	mix, ok := p.Model.(*analytic.GMM)
	if !ok {
		return TrajectoryResult{}, fmt.Errorf("trajectories: the gmm problem's model is a %T, not a Gaussian mixture", p.Model)
	}
	g, err := c.Grid(n)
	if err != nil {
		return TrajectoryResult{}, err
	}
	x0, err := belm.NewTensor(p.Data(trajectorySeed, trajectoryPoints), c.DType, trajectoryPoints, 2)
	if err != nil {
		return TrajectoryResult{}, err
	}
	out := TrajectoryResult{N: n, mix: mix}
	for _, s := range ss {
		paths, err := c.tracePaths(p.Model, s, g, x0)
		if err != nil {
			return TrajectoryResult{}, fmt.Errorf("trajectories of %s: %w", s.Name(), err)
		}
		out.Paths = append(out.Paths, paths...)
	}
	return out, nil
}

// tracePaths inverts the [points, 2] batch x0 over all of g with s, samples it back, and
// returns each point's path.
func (c Common) tracePaths(m belm.Model, s belm.Sampler, g *belm.Grid, x0 *tensors.Tensor) ([]TrajectoryPath, error) {
	r, err := belm.NewRunner(m, c.Backend, c.DType)
	if err != nil {
		return nil, err
	}
	paths := make([]TrajectoryPath, x0.Shape().Dimensions[0])
	var recordErr error
	record := func(dir belm.Direction, x *tensors.Tensor) {
		v, err := belm.Values(x)
		if err != nil {
			recordErr = err
			return
		}
		for b := range paths {
			pt := [2]float64{v[2*b], v[2*b+1]}
			if dir == belm.Inversion {
				paths[b].Inversion = append(paths[b].Inversion, pt)
			} else {
				paths[b].Sampling = append(paths[b].Sampling, pt)
			}
		}
	}
	record(belm.Inversion, x0)
	r.Observer = func(si belm.StepInfo) { record(si.Dir, si.Latent) }
	st, err := r.Invert(s, g, x0, g.N())
	if err != nil {
		return nil, err
	}
	record(belm.Sampling, st.X())
	if _, err := r.Sample(s, g, st); err != nil {
		return nil, err
	}
	for b := range paths {
		paths[b].Sampler = s.Name()
	}
	return paths, recordErr
}
