package figures

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/analytic"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/viz"
)

// Samplers of the round-trip figures (BDIA at γ = 0.96 and EDICT at p = 0.93 by default).
var Samplers = []string{"ddim", "edict", "bdia", "belm"}

// RoundTrip computes the round-trip study in float64 and float32 once and returns three
// figures from it: roundtrip_error (float64), precision (both) and inverted_noise (the
// float64 inverted x_N at the smallest N, where dispersion is largest).
func RoundTrip(c Config) ([]Figure, error) {
	c64, c32 := c.Common, c.Common
	c64.DType, c32.DType = dtypes.Float64, dtypes.Float32
	r64, err := study.RoundTrip(c64, c.samplers(), c.steps())
	if err != nil {
		return nil, err
	}
	r32, err := study.RoundTrip(c32, c.samplers(), c.steps())
	if err != nil {
		return nil, err
	}
	curves := func(rs []study.RoundTripResult) []viz.Curve {
		var out []viz.Curve
		for _, name := range c.samplers() {
			cv := viz.Curve{Sampler: name}
			worst := 0.0
			for _, r := range rs {
				if r.Sampler == belmName(name) {
					cv.X = append(cv.X, float64(r.N))
					cv.Y = append(cv.Y, r.MaxAbs)
					worst = math.Max(worst, r.MaxAbs)
				}
			}
			if worst < 1e-9 {
				cv.Slope = math.NaN() // roundoff has no order: no slope in the legend
			}
			out = append(out, cv)
		}
		return out
	}
	table := [][]string{{"sampler", "num_inference_steps", "dtype", "max_abs", "rms", "inverted_std", "nfe"}}
	for _, r := range append(append([]study.RoundTripResult{}, r64...), r32...) {
		table = append(table, []string{r.Sampler, strconv.Itoa(r.N), r.DType, g(r.MaxAbs), g(r.RMS), g(r.InvertedStd), strconv.Itoa(r.NFE)})
	}
	model := c.Common.Model
	if model == "" {
		model = "gaussian"
	}
	errPlot, err := viz.ErrorVsSteps(curves(r64), viz.Options{
		Title:  fmt.Sprintf("Invert, then reconstruct (%s data, float64)", model),
		YLabel: "max |x̂₀ − x₀| / max |x₀|"})
	if err != nil {
		return nil, err
	}
	precPlot, err := viz.Precision(curves(r64), curves(r32), viz.Options{})
	if err != nil {
		return nil, err
	}
	var noise []viz.NoiseSample
	nMin := c.steps()[0]
	for _, r := range r64 {
		if r.N == nMin && r.Err == "" {
			noise = append(noise, viz.NoiseSample{Sampler: r.Sampler, Values: r.Inverted})
		}
	}
	noisePlot, err := viz.NoiseHistogram(noise, viz.Options{Title: fmt.Sprintf("Inverted noise x_N at N = %d (%s data)", nMin, model)})
	if err != nil {
		return nil, err
	}
	return []Figure{
		{Name: "roundtrip_error", Plot: errPlot, Data: r64, Table: table},
		{Name: "precision", Plot: precPlot, Data: map[string]any{"float64": r64, "float32": r32}},
		{Name: "inverted_noise", Plot: noisePlot, Data: noiseStats(noise)},
	}, nil
}

func belmName(n string) string {
	s, err := belm.ParseSampler(n, belm.DefaultSamplerOptions)
	if err != nil {
		return n
	}
	return s.Name()
}

func noiseStats(ns []viz.NoiseSample) []map[string]any {
	var out []map[string]any
	for _, n := range ns {
		m, s := belm.MeanStd(n.Values)
		out = append(out, map[string]any{"sampler": n.Sampler, "mean": m, "std": s})
	}
	return out
}

// Orders returns lte_order and global_error from one order study of DDIM, BDIA and O-BELM.
func Orders(c Config) ([]Figure, error) {
	co := c.Common
	co.Batch = 8
	res, err := study.Orders(co, study.OrderConfig{}, []string{"ddim", "bdia", "belm"})
	if err != nil {
		return nil, err
	}
	var lte, glob []viz.Curve
	table := [][]string{{"sampler", "study", "x", "error"}}
	for _, r := range res {
		l := viz.Curve{Sampler: r.Sampler, Slope: r.LTESlope}
		gl := viz.Curve{Sampler: r.Sampler, Slope: -r.GlobalOrder}
		for _, p := range r.LTE {
			l.X, l.Y = append(l.X, p.X), append(l.Y, p.Error)
			table = append(table, []string{r.Sampler, "lte", g(p.X), g(p.Error)})
		}
		for _, p := range r.Global {
			gl.X, gl.Y = append(gl.X, p.X), append(gl.Y, p.Error)
			table = append(table, []string{r.Sampler, "global", g(p.X), g(p.Error)})
		}
		lte, glob = append(lte, l), append(glob, gl)
	}
	ltePlot, err := viz.LTEOrder(lte, viz.Options{})
	if err != nil {
		return nil, err
	}
	globPlot, err := viz.ErrorVsSteps(glob, viz.Options{
		Title:  "Global error of sampling vs the exact ODE solution (power grid σ̄ = 10·(i/N)²)",
		YLabel: "RMS |x̂₀ − x₀(ODE)|"})
	if err != nil {
		return nil, err
	}
	return []Figure{
		{Name: "lte_order", Plot: ltePlot, Data: res, Table: table},
		{Name: "global_error", Plot: globPlot, Data: res},
	}, nil
}

// Coefficients plots O-BELM's sampling coefficients across the steps of the SD schedule
// (scaled_linear, linspace) with N steps.
func Coefficients(n int) (Figure, error) {
	grid, err := sdGrid(n)
	if err != nil {
		return Figure{}, err
	}
	rows, err := belm.CoefficientTable(belm.OBELM{}, grid)
	if err != nil {
		return Figure{}, err
	}
	var c viz.Coefficients
	table := [][]string{{"step", "t", "t_next", "h_i", "h_i+1", "A_x_i+1", "B_x_i", "C_eps"}}
	for _, r := range rows {
		if r.Dir != "sampling" || r.Step == 0 { // step 0 is the DDIM bootstrap
			continue
		}
		a, b, e := r.Coef["x_{i+1}"], r.Coef["x_i"], r.Coef["eps_i"]
		c.Step = append(c.Step, float64(r.Step))
		c.A, c.B, c.C = append(c.A, a), append(c.B, b), append(c.C, e)
		table = append(table, []string{strconv.Itoa(r.Step), g(r.T), g(r.TNext), g(r.Hi), g(r.Hnext), g(a), g(b), g(e)})
	}
	p, err := viz.CoefficientPlot(c, viz.Options{
		Title:  fmt.Sprintf("O-BELM coefficients, SD schedule, N = %d:  x_{i−1} = A·x_{i+1} + B·x_i + C·ε", n),
		XLabel: "step k (step 0, not shown, is the DDIM bootstrap)"})
	if err != nil {
		return Figure{}, err
	}
	return Figure{Name: "coefficients", Plot: p, Data: rows, Table: table}, nil
}

// Trajectories draws, for a 2-D Gaussian mixture, each sampler's inversion of a few data
// points and its sampling path back, over the data density (SD schedule, N steps).
func Trajectories(c Config, n int, samplers []string) (Figure, error) {
	p, err := analytic.NewProblem("gmm", 2)
	if err != nil {
		return Figure{}, err
	}
	mix := p.Model.(*analytic.GMM)
	grid, err := sdGrid(n)
	if err != nil {
		return Figure{}, err
	}
	const batch = 6
	x0 := p.Data(7, batch)
	xt, err := belm.NewTensor(x0, dtypes.Float64, batch, 2)
	if err != nil {
		return Figure{}, err
	}
	var trajs []viz.Trajectory
	for _, name := range samplers {
		s, err := belm.ParseSampler(name, belm.DefaultSamplerOptions)
		if err != nil {
			return Figure{}, err
		}
		r, err := belm.NewRunner(p.Model, c.Common.Backend, dtypes.Float64)
		if err != nil {
			return Figure{}, err
		}
		paths := make([][2][]viz.Point, batch) // [point][inversion, sampling]
		record := func(phase int, x *tensors.Tensor) {
			v, _ := belm.Values(x)
			for b := 0; b < batch; b++ {
				paths[b][phase] = append(paths[b][phase], viz.Point{v[2*b], v[2*b+1]})
			}
		}
		record(0, xt)
		r.Observer = func(si belm.StepInfo) { record(int(si.Dir^1), si.Latent) }
		st, err := r.Invert(s, grid, xt, n)
		if err != nil {
			return Figure{}, err
		}
		record(1, st.X())
		if _, err := r.Sample(s, grid, st); err != nil {
			return Figure{}, err
		}
		for b := range paths {
			trajs = append(trajs, viz.Trajectory{Sampler: s.Name(), Inversion: paths[b][0], Sampling: paths[b][1]})
		}
	}
	pl, err := viz.Trajectories(trajs, viz.Density{Func: func(x, y float64) float64 { return mix.Density([]float64{x, y}) }},
		viz.Options{Title: fmt.Sprintf("Inversion (dashed) and reconstruction (solid), 2-D mixture, N = %d", n)})
	if err != nil {
		return Figure{}, err
	}
	return Figure{Name: "trajectories", Plot: pl, Data: trajs}, nil
}

// sdGrid is the Stable Diffusion grid (scaled_linear, linspace) with n steps.
func sdGrid(n int) (*belm.Grid, error) {
	sched, err := belm.NewSchedule(belm.SDConfig)
	if err != nil {
		return nil, err
	}
	return sched.Grid(n)
}
