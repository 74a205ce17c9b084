package figures

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/viz"
)

// RoundTripStudy runs the round trips of the Samplers (Samplers by default) at every
// StepCounts N, in float64 and float32 on the same data (study.RoundTripsInBothPrecisions).
func (c Config) RoundTripStudy() (study.RoundTrips, error) {
	return study.RoundTripsInBothPrecisions(c.Common, c.SamplersOr(Samplers), c.StepCounts())
}

// RoundTrip computes the round-trip study once and draws its three figures:
// roundtrip_error, precision and inverted_noise.
func RoundTrip(c Config) ([]Figure, error) {
	r, err := c.RoundTripStudy()
	if err != nil {
		return nil, err
	}
	return drawEach(r, DrawRoundTripError, DrawPrecision, DrawInvertedNoise)
}

// drawEach draws every figure of one study result.
func drawEach[R any](r R, draws ...func(R) (Figure, error)) ([]Figure, error) {
	figs := make([]Figure, 0, len(draws))
	for _, draw := range draws {
		f, err := draw(r)
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	return figs, nil
}

// DrawRoundTripError is roundtrip_error: the round-trip error against N of r.Rows, one
// curve per sampler; NAME.json holds r.Rows, NAME.csv the rows of both dtypes.
func DrawRoundTripError(r study.RoundTrips) (Figure, error) {
	p, err := viz.ErrorVsSteps(roundTripCurves(r.Rows()), viz.Options{
		Title:  fmt.Sprintf("Invert, then reconstruct (%s data, %s)", r.Model, dtypeName(r.DType)),
		YLabel: "max |x̂₀ − x₀| / max |x₀|"})
	if err != nil {
		return Figure{}, err
	}
	table := [][]string{{"sampler", "num_inference_steps", "dtype", "max_abs", "rms", "inverted_std", "nfe"}}
	for _, row := range append(append([]study.RoundTripResult{}, r.Float64...), r.Float32...) {
		table = append(table, []string{row.Sampler, strconv.Itoa(row.N), row.DType, g(row.MaxAbs), g(row.RMS), g(row.InvertedStd), strconv.Itoa(row.NFE)})
	}
	return Figure{Name: "roundtrip_error", Plot: p, Table: table}.withData(r.Rows())
}

// DrawPrecision is precision: the float64 and float32 round-trip errors of r together;
// NAME.json holds both ({"float64": […], "float32": […]}).
func DrawPrecision(r study.RoundTrips) (Figure, error) {
	p, err := viz.Precision(roundTripCurves(r.Float64), roundTripCurves(r.Float32), viz.Options{})
	if err != nil {
		return Figure{}, err
	}
	return Figure{Name: "precision", Plot: p}.withData(struct { // keys in the order of the earlier map
		Float32 []study.RoundTripResult `json:"float32"`
		Float64 []study.RoundTripResult `json:"float64"`
	}{r.Float32, r.Float64})
}

// DrawInvertedNoise is inverted_noise: the histogram of each sampler's inverted x_N at the
// smallest N of r (r.InvertedNoise); NAME.json holds each sampler's mean and std.
func DrawInvertedNoise(r study.RoundTrips) (Figure, error) {
	noise := r.InvertedNoise()
	type stats struct { // keys in the order of the earlier map
		Mean    float64 `json:"mean"`
		Sampler string  `json:"sampler"`
		Std     float64 `json:"std"`
	}
	samples := make([]viz.NoiseSample, len(noise.Samples))
	data := make([]stats, len(noise.Samples))
	for i, s := range noise.Samples {
		samples[i] = viz.NoiseSample{Sampler: s.Sampler, Values: s.Values}
		data[i] = stats{s.Mean, s.Sampler, s.Std}
	}
	p, err := viz.NoiseHistogram(samples, viz.Options{
		Title: fmt.Sprintf("Inverted noise x_N at N = %d (%s data, %s)", noise.N, noise.Model, dtypeName(noise.DType))})
	if err != nil {
		return Figure{}, fmt.Errorf("inverted_noise at N = %d: %w (did every round trip fail?)", noise.N, err)
	}
	return Figure{Name: "inverted_noise", Plot: p}.withData(data)
}

// roundTripCurves is one curve of max-abs error against N per sampler. A curve that
// stays below 1e-9 is roundoff, which has no order: it shows no slope.
func roundTripCurves(rows []study.RoundTripResult) []viz.Curve {
	curves := curvesBySampler(len(rows), func(i int) (string, float64, float64) {
		return rows[i].Sampler, float64(rows[i].N), rows[i].MaxAbs
	})
	hideSlopesBelow(curves, 1e-9)
	return curves
}

// curvesBySampler groups n points, point(i) = (sampler, x, y), into one curve per sampler,
// in the order the samplers first appear.
func curvesBySampler(n int, point func(i int) (sampler string, x, y float64)) []viz.Curve {
	var curves []viz.Curve
	index := map[string]int{}
	for i := range n {
		s, x, y := point(i)
		k, ok := index[s]
		if !ok {
			k = len(curves)
			index[s] = k
			curves = append(curves, viz.Curve{Sampler: s})
		}
		curves[k].X = append(curves[k].X, x)
		curves[k].Y = append(curves[k].Y, y)
	}
	return curves
}

// hideSlopesBelow shows no fitted slope for the curves whose largest value is below limit.
func hideSlopesBelow(curves []viz.Curve, limit float64) {
	for i := range curves {
		worst := 0.0
		for _, y := range curves[i].Y {
			worst = math.Max(worst, y)
		}
		if worst < limit {
			curves[i].Slope = math.NaN()
		}
	}
}

func dtypeName(dt dtypes.DType) string { return strings.ToLower(dt.String()) }

// OrderStudy measures the LTE and global orders of the Samplers (OrderSamplers by
// default) with 8 trajectories each (study.Orders with its default OrderConfig).
func (c Config) OrderStudy() ([]study.OrderResult, error) {
	co := c.Common
	co.Batch = 8
	return study.Orders(co, study.OrderConfig{}, c.SamplersOr(OrderSamplers))
}

// Orders computes the order study once and draws lte_order and global_error.
func Orders(c Config) ([]Figure, error) {
	res, err := c.OrderStudy()
	if err != nil {
		return nil, err
	}
	return drawEach(res, DrawLTEOrder, DrawGlobalError)
}

// DrawLTEOrder is lte_order: each sampler's local truncation error against h, with its
// fitted slope; NAME.json holds res, NAME.csv both studies' points.
func DrawLTEOrder(res []study.OrderResult) (Figure, error) {
	var curves []viz.Curve
	table := [][]string{{"sampler", "study", "x", "error"}}
	for _, r := range res {
		curves = append(curves, orderCurve(r.Sampler, r.LTE, r.LTESlope))
		for _, p := range r.LTE {
			table = append(table, []string{r.Sampler, "lte", g(p.X), g(p.Error)})
		}
		for _, p := range r.Global {
			table = append(table, []string{r.Sampler, "global", g(p.X), g(p.Error)})
		}
	}
	p, err := viz.LTEOrder(curves, viz.Options{})
	if err != nil {
		return Figure{}, err
	}
	return Figure{Name: "lte_order", Plot: p, Table: table}.withData(res)
}

// DrawGlobalError is global_error: each sampler's sampling error against N on the power
// grid, with its fitted order; NAME.json holds res.
func DrawGlobalError(res []study.OrderResult) (Figure, error) {
	var curves []viz.Curve
	for _, r := range res {
		curves = append(curves, orderCurve(r.Sampler, r.Global, -r.GlobalOrder))
	}
	p, err := viz.ErrorVsSteps(curves, viz.Options{
		Title:  "Global error of sampling vs the exact ODE solution (power grid σ̄ = 10·(i/N)²)",
		YLabel: "RMS |x̂₀ − x₀(ODE)|"})
	if err != nil {
		return Figure{}, err
	}
	return Figure{Name: "global_error", Plot: p}.withData(res)
}

func orderCurve(sampler string, pts []belm.OrderPoint, slope float64) viz.Curve {
	c := viz.Curve{Sampler: sampler, Slope: slope}
	for _, p := range pts {
		c.X, c.Y = append(c.X, p.X), append(c.Y, p.Error)
	}
	return c
}

// CoefficientStudy tabulates O-BELM's coefficients on the schedule's grid with N steps.
func (c Config) CoefficientStudy() (study.CoefficientResult, error) {
	return study.OBELMCoefficients(c.Common, c.N())
}

// Coefficients computes the coefficient table and draws coefficients.
func Coefficients(c Config) (Figure, error) {
	r, err := c.CoefficientStudy()
	if err != nil {
		return Figure{}, err
	}
	return DrawCoefficients(r)
}

// DrawCoefficients is coefficients: O-BELM's A, B and C across the sampling steps of r
// (Eq. 18, after the DDIM bootstrap); NAME.json holds every row of r, NAME.csv the steps drawn.
func DrawCoefficients(r study.CoefficientResult) (Figure, error) {
	var c viz.Coefficients
	table := [][]string{{"step", "t", "t_next", "h_i", "h_i+1", "A_x_i+1", "B_x_i", "C_eps"}}
	for _, s := range r.Eq18() {
		c.Step = append(c.Step, float64(s.Step))
		c.A, c.B, c.C = append(c.A, s.A), append(c.B, s.B), append(c.C, s.C)
		table = append(table, []string{strconv.Itoa(s.Step), g(s.T), g(s.TNext), g(s.Hi), g(s.Hnext), g(s.A), g(s.B), g(s.C)})
	}
	p, err := viz.CoefficientPlot(c, viz.Options{
		Title: fmt.Sprintf("O-BELM coefficients, %s/%s, N = %d:  xᵢ₋₁ = A·xᵢ₊₁ + B·xᵢ + C·ε",
			r.Schedule.BetaSchedule, r.Schedule.TimestepSpacing, r.N),
		XLabel: "step k (step 0, not shown, is the DDIM bootstrap)"})
	if err != nil {
		return Figure{}, fmt.Errorf("coefficients at N = %d: %w (O-BELM needs N ≥ 2)", r.N, err)
	}
	return Figure{Name: "coefficients", Plot: p, Table: table}.withData(r.Rows)
}

// TrajectoryStudy runs the 2-D paths of the Samplers (TrajectorySamplers by default) over
// N steps (study.Trajectories).
func (c Config) TrajectoryStudy() (study.TrajectoryResult, error) {
	return study.Trajectories(c.Common, c.N(), c.SamplersOr(TrajectorySamplers))
}

// Trajectories computes the 2-D paths and draws trajectories.
func Trajectories(c Config) (Figure, error) {
	r, err := c.TrajectoryStudy()
	if err != nil {
		return Figure{}, err
	}
	return DrawTrajectories(r)
}

// DrawTrajectories is trajectories: each sampler's inversion of a few points of a 2-D
// mixture and its sampling path back, over the mixture's density; NAME.json holds the paths.
func DrawTrajectories(r study.TrajectoryResult) (Figure, error) {
	trajs := make([]viz.Trajectory, len(r.Paths))
	for i, p := range r.Paths {
		trajs[i] = viz.Trajectory{Sampler: p.Sampler, Inversion: p.Inversion, Sampling: p.Sampling}
	}
	pl, err := viz.Trajectories(trajs, viz.Density{Func: r.Density},
		viz.Options{Title: fmt.Sprintf("Inversion (dashed) and reconstruction (solid), 2-D mixture, N = %d", r.N)})
	if err != nil {
		return Figure{}, err
	}
	return Figure{Name: "trajectories", Plot: pl}.withData(trajs)
}
