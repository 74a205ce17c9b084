// Package study runs the workbench's experiments and returns typed results for tables,
// JSON and figures; the CLI, the figures (package viz/figures) and the notebooks are thin
// layers over it.
//
// On the analytic models (Common): round trips (invert, then sample back), local
// truncation error and global order (RoundTrip, Orders).
//
// On any model behind a pipeline (a diffusers UNet, an analytic model through
// AnalyticPipeline, …), what the reference scripts do (spec §4):
//
//	Reconstruct                           reconstruction.py: invert, sample back, MSE per image
//	InterpolateImages, InterpolateNoises  interpolate.py: slerp inverted states or noises, sample
//	Samples, ODESamples                   cifar10.py: noise → samples per sampler
//	Frechet                               FID's protocol with any quality.FeatureExtractor
//	Edit                                  image_editing.py: invert under one conditioning, sample under another
//	EDICTStudy                            why invertible EDICT does not denoise at small N (issue 16)
//	InvertPair, SamplePath                what a notebook slider samples from or redraws
//
// ShapesSampleGrid and ShapesInterpolation run the last two on the analytic "shapes"
// pictures, for the figures.
//
// Each takes a context (cancelled: it stops before the next batch and returns what it
// finished with ctx's error), a Progress, and hands its results to a callback as they
// finish, so that a long run saves its rows as it goes. Batches splits a run into shards
// whose results merge into the whole run's (MergeReconstructions, MergeFrechet).
package study

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
)

// Common configures the model, schedule and execution of a study.
type Common struct {
	Model    string               // "gaussian" or "gmm"
	D        int                  // data dimension
	Batch    int                  // number of trajectories
	Seed     uint64               // data seed
	DType    dtypes.DType         // Float64 (default) or Float32
	Backend  string               // "" = $GOMLX_BACKEND or go
	Schedule belm.SchedulerConfig // the noise schedule and timestep spacing
	Options  belm.SamplerOptions  // γ, p
	// Progress, if set, is called as work advances (done out of total units).
	Progress func(done, total int, what string)
}

func (c Common) defaults() Common {
	if c.Model == "" {
		c.Model = "gaussian"
	}
	if c.D == 0 {
		c.D = 16
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.DType == dtypes.InvalidDType {
		c.DType = dtypes.Float64
	}
	if c.Options == (belm.SamplerOptions{}) {
		c.Options = belm.DefaultSamplerOptions
	}
	if c.Schedule.BetaSchedule == "" && len(c.Schedule.TrainedBetas) == 0 {
		c.Schedule = belm.SDConfig
	}
	return c
}

func (c Common) progress(done, total int, what string) {
	if c.Progress != nil {
		c.Progress(done, total, what)
	}
}

// RoundTripResult is the reconstruction error of invert-then-sample for one sampler and N,
// relative to the data scale max|x₀|, with what the inversion produced.
type RoundTripResult struct {
	Sampler string  `json:"sampler"`
	N       int     `json:"num_inference_steps"`
	DType   string  `json:"dtype"`
	MaxAbs  float64 `json:"max_abs"`
	RMS     float64 `json:"rms"`
	// MSE is the mean squared error in the data's own units (the paper's reconstruction MSE
	// when the data are images in [−1, 1]).
	MSE     float64 `json:"mse"`
	NFE     int     `json:"nfe"`
	Seconds float64 `json:"seconds"`
	// InvertedStd is the standard deviation of the inverted x_N (≈ 1 if it looks like N(0,1)).
	InvertedStd float64 `json:"inverted_std"`
	// Inverted holds the inverted x_N values, for dispersion histograms.
	Inverted []float64 `json:"-"`
	// Err is set when the pass failed (e.g. BDIA with small γ overflowing): the study goes on.
	Err string `json:"error,omitempty"`
}

// MarshalJSON writes the measures of a failed pass (+Inf or unset in Go) as null: JSON has
// no infinities, and the row's "error" says what happened.
func (r RoundTripResult) MarshalJSON() ([]byte, error) {
	type plain RoundTripResult
	if r.Err != "" {
		r.MaxAbs, r.RMS, r.MSE, r.InvertedStd = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	return json.Marshal(struct {
		plain
		MaxAbs      *float64 `json:"max_abs"`
		RMS         *float64 `json:"rms"`
		MSE         *float64 `json:"mse"`
		InvertedStd *float64 `json:"inverted_std"`
	}{plain(r), finiteOrNil(r.MaxAbs), finiteOrNil(r.RMS), finiteOrNil(r.MSE), finiteOrNil(r.InvertedStd)})
}

// finiteOrNil is &v, or nil (JSON null) when v is NaN or ±Inf.
func finiteOrNil(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// RoundTrip inverts a batch of data points with every sampler and N and samples back.
func RoundTrip(c Common, samplers []string, ns []int) ([]RoundTripResult, error) {
	c = c.defaults()
	p, ss, err := c.setup(samplers)
	if err != nil {
		return nil, err
	}
	sched, err := belm.NewSchedule(c.Schedule)
	if err != nil {
		return nil, err
	}
	x0 := p.Data(c.Seed, c.Batch)
	xt, err := belm.NewTensor(x0, c.DType, c.Batch, c.D)
	if err != nil {
		return nil, err
	}
	var out []RoundTripResult
	total, done := len(ss)*len(ns), 0
	for _, s := range ss {
		r, err := belm.NewRunner(p.Model, c.Backend, c.DType)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			c.progress(done, total, fmt.Sprintf("%s N=%d", s.Name(), n))
			g, err := sched.Grid(n)
			if err != nil {
				return nil, err
			}
			res := RoundTripResult{Sampler: s.Name(), N: n, DType: c.DType.String()}
			start, nfe0 := time.Now(), r.NFE()
			st, err := r.Invert(s, g, xt, n)
			var x *tensors.Tensor
			if err == nil {
				res.Inverted, err = belm.Values(st.X())
				res.InvertedStd = std(res.Inverted)
				x, err = r.Sample(s, g, st)
			}
			res.Seconds, res.NFE = time.Since(start).Seconds(), r.NFE()-nfe0
			if err != nil {
				res.Err = err.Error()
				res.MaxAbs, res.RMS, res.MSE = math.Inf(1), math.Inf(1), math.Inf(1)
			} else {
				v, err := belm.Values(x)
				if err != nil {
					return nil, err
				}
				e := belm.Compare(v, x0, 0)
				res.MaxAbs, res.RMS = e.MaxAbs, e.RMS
				res.MSE = belm.Compare(v, x0, 1).RMS
				res.MSE *= res.MSE
			}
			out = append(out, res)
			done++
		}
	}
	c.progress(total, total, "done")
	return out, nil
}

// OrderResult holds an LTE study and a global-error study of one sampler, with their fitted
// slopes: LTESlope ≈ order+1 (DDIM 2, BDIA 2, O-BELM 3) and GlobalOrder ≈ order (DDIM 1,
// O-BELM 2).
type OrderResult struct {
	Sampler     string            `json:"sampler"`
	LTE         []belm.OrderPoint `json:"lte"`
	LTESlope    float64           `json:"lte_slope"`
	Global      []belm.OrderPoint `json:"global"`
	GlobalOrder float64           `json:"global_order"`
}

// OrderConfig sets where the order studies look (defaults in brackets): LTE at σ̄* [0.5]
// for step sizes h from HMin to HMax [0.002 … 0.05, 8 values] with steps growing by Ratio
// [1.3]; global error on PowerGrid(SigmaMax [10], N, Rho [2]) for N in Ns [20, 40, 80, 160].
type OrderConfig struct {
	SigmaStar, HMin, HMax, Ratio float64
	NumH                         int
	SigmaMax, Rho                float64
	Ns                           []int
}

func (o OrderConfig) defaults() OrderConfig {
	if o.SigmaStar == 0 {
		o.SigmaStar = 0.5
	}
	if o.HMin == 0 {
		o.HMin, o.HMax = 0.002, 0.05
	}
	if o.NumH == 0 {
		o.NumH = 8
	}
	if o.Ratio == 0 {
		o.Ratio = 1.3
	}
	if o.SigmaMax == 0 {
		o.SigmaMax = 10
	}
	if o.Rho == 0 {
		o.Rho = 2
	}
	if len(o.Ns) == 0 {
		o.Ns = []int{20, 40, 80, 160}
	}
	return o
}

// Orders measures the LTE and global orders of each sampler.
func Orders(c Common, o OrderConfig, samplers []string) ([]OrderResult, error) {
	c = c.defaults()
	o = o.defaults()
	if len(o.Ns) < 2 {
		return nil, fmt.Errorf("the global order is a slope over step counts: give at least two N, got %v", o.Ns)
	}
	if !(o.HMin > 0 && o.HMax > o.HMin) {
		return nil, fmt.Errorf("the LTE step sizes need 0 < h_min < h_max, got %g, %g", o.HMin, o.HMax)
	}
	p, ss, err := c.setup(samplers)
	if err != nil {
		return nil, err
	}
	shape := []int{c.Batch, c.D}
	var out []OrderResult
	for i, s := range ss {
		c.progress(i, len(ss), s.Name())
		r, err := belm.NewRunner(p.Model, c.Backend, c.DType)
		if err != nil {
			return nil, err
		}
		flow := p.Flow(r, c.Batch)
		x0 := p.Data(c.Seed, c.Batch)
		xbar, err := flow(x0, 0, o.SigmaStar)
		if err != nil {
			return nil, err
		}
		res := OrderResult{Sampler: s.Name()}
		if res.LTE, err = r.LTEStudy(s, flow, xbar, shape, o.SigmaStar, o.Ratio, belm.GeometricRange(o.HMin, o.HMax, o.NumH)); err != nil {
			return nil, err
		}
		if res.Global, err = r.GlobalStudy(s, flow, x0, shape, o.SigmaMax, o.Rho, o.Ns); err != nil {
			return nil, err
		}
		res.LTESlope = belm.Slope(res.LTE)
		res.GlobalOrder = -belm.Slope(res.Global)
		out = append(out, res)
	}
	c.progress(len(ss), len(ss), "done")
	return out, nil
}

// setup returns the study's problem and samplers.
func (c Common) setup(samplers []string) (*analytic.Problem, []belm.Sampler, error) {
	p, err := analytic.NewProblem(c.Model, c.D)
	if err != nil {
		return nil, nil, err
	}
	ss, err := belm.ParseSamplers(strings.Join(samplers, ","), c.Options)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: use --sampler_type ddim,edict,bdia,belm", err)
	}
	return p, ss, nil
}

func std(v []float64) float64 {
	_, s := belm.MeanStd(v)
	return s
}

func lastErr(p []belm.OrderPoint) float64 {
	if len(p) == 0 {
		return math.NaN()
	}
	return p[len(p)-1].Error
}
