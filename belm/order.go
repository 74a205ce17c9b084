package belm

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/gomlx/gomlx/core/tensors"
)

// Flow is the exact solution map of the PF-ODE of a model with a known solution: it carries
// x̄ = x/α (flat values) from σ̄ = from to σ̄ = to. For the Gaussian it is closed-form
// (analytic.Gaussian.Transport); for other analytic models, Runner.IntegrateFlow gives one.
type Flow func(xbar []float64, from, to float64) ([]float64, error)

// IntegrateFlow returns the RK4 flow of the runner's model (see Integrate) for latents of
// the given shape, with the step count and scale used by the tests.
func (r *Runner) IntegrateFlow(shape []int, steps int) Flow {
	return func(xbar []float64, from, to float64) ([]float64, error) {
		lf, lt := LevelAt(from), LevelAt(to)
		x := make([]float64, len(xbar))
		for i, v := range xbar {
			x[i] = v * lf.Alpha
		}
		xt, err := NewTensor(x, r.dtype, shape...)
		if err != nil {
			return nil, err
		}
		out, err := r.Integrate(xt, from, to, steps, 0.05)
		if err != nil {
			return nil, err
		}
		v, err := Values(out)
		if err != nil {
			return nil, err
		}
		for i := range v {
			v[i] /= lt.Alpha
		}
		return v, nil
	}
}

// OrderPoint is one measurement of an order study: the step size h (LTE) or the number of
// steps N (global error), and the error, RMS over all coordinates, in x̄ units.
type OrderPoint struct {
	X     float64 `json:"x"`
	Error float64 `json:"error"`
}

// MarshalJSON writes the point as {"x": X, "error": Error}, a non-finite error (a sampler
// that diverged on the grid, e.g. 3-step BELM at large N) as the string "+Inf", "-Inf" or
// "NaN", which JSON numbers cannot hold.
func (p OrderPoint) MarshalJSON() ([]byte, error) {
	var e any = p.Error
	if math.IsInf(p.Error, 0) || math.IsNaN(p.Error) {
		e = strconv.FormatFloat(p.Error, 'g', -1, 64)
	}
	return json.Marshal(struct {
		X     float64 `json:"x"`
		Error any     `json:"error"`
	}{p.X, e})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *OrderPoint) UnmarshalJSON(b []byte) error {
	var v struct {
		X     float64         `json:"x"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.X = v.X
	var s string
	if json.Unmarshal(v.Error, &s) == nil {
		e, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("order point: error %q: %w", s, err)
		}
		p.Error = e
		return nil
	}
	return json.Unmarshal(v.Error, &p.Error)
}

// LTEStudy measures the local truncation error of one sampling step (Definition 1, Prop. 3):
// the sampler is given the exact latents at levels σ̄* + h, σ̄* + h + ρh, … (steps growing by
// ratio ρ toward the noise, as on real grids) and its step to σ̄* is compared with the exact
// x̄(σ̄*). xbarStar are the trajectories' values at σ̄*; shape is the latent shape.
// Expected slopes of log τ against log h (spec §3, SamplerInfo.LTESlope): DDIM 2, BDIA 2,
// EDICT 2 (from x = y), O-BELM 3, k-step BELM 2k−1.
func (r *Runner) LTEStudy(s Sampler, flow Flow, xbarStar []float64, shape []int, sigmaStar, ratio float64, hs []float64) ([]OrderPoint, error) {
	var out []OrderPoint
	w := s.Window()
	for _, h := range hs {
		sb := []float64{sigmaStar}
		step := h
		for j := 0; j < w; j++ {
			sb = append(sb, sb[j]+step)
			step *= ratio
		}
		g, err := SigmaBarGrid(sb)
		if err != nil {
			return nil, err
		}
		// Exact latents at levels w … 1 (newest last in pass order: a state of an inversion).
		st := State{Level: w, Dir: Inversion}
		for j := w; j >= 1; j-- {
			xb, err := flow(xbarStar, sigmaStar, sb[j])
			if err != nil {
				return nil, err
			}
			x, err := NewTensor(scaled(xb, g.Levels[j].Alpha), r.dtype, shape...)
			if err != nil {
				return nil, err
			}
			st.Latents = append(st.Latents, x)
		}
		res, err := r.Run(s, g, st, 0)
		if err != nil {
			return nil, fmt.Errorf("LTE at h=%g: %w", h, err)
		}
		v, err := Values(res.X())
		if err != nil {
			return nil, err
		}
		out = append(out, OrderPoint{X: h, Error: rms(scaled(v, 1/g.Levels[0].Alpha), xbarStar)})
	}
	return out, nil
}

// GlobalStudy measures the global error of sampling from the exact x_N at σ̄max down to
// σ̄ = 0 on PowerGrid(σ̄max, N, ρ) for each N, against the exact x₀ (x0 given as flat values).
// Expected slopes of log error against log N (SamplerInfo.GlobalOrder, asymptotically):
// −1 for DDIM, BDIA and EDICT, −2 for O-BELM (Props. 5–6).
func (r *Runner) GlobalStudy(s Sampler, flow Flow, x0 []float64, shape []int, sigmaMax, rho float64, ns []int) ([]OrderPoint, error) {
	xbarN, err := flow(x0, 0, sigmaMax)
	if err != nil {
		return nil, err
	}
	var out []OrderPoint
	for _, n := range ns {
		g, err := PowerGrid(sigmaMax, n, rho)
		if err != nil {
			return nil, err
		}
		x, err := NewTensor(scaled(xbarN, g.Levels[n].Alpha), r.dtype, shape...)
		if err != nil {
			return nil, err
		}
		res, err := r.Sample(s, g, State{Level: n, Latents: []*tensors.Tensor{x}})
		if err != nil {
			return nil, fmt.Errorf("global error at N=%d: %w", n, err)
		}
		v, err := Values(res)
		if err != nil {
			return nil, err
		}
		out = append(out, OrderPoint{X: float64(n), Error: rms(v, x0)})
	}
	return out, nil
}

// FitLogLogSlope fits log y = slope·log x + b by least squares over the points whose x and y
// are positive and finite; ok is false with fewer than two such points or equal x values.
func FitLogLogSlope(x, y []float64) (slope float64, ok bool) {
	var n, sx, sy, sxx, sxy float64
	for i := range min(len(x), len(y)) {
		if !(x[i] > 0) || !(y[i] > 0) || math.IsInf(x[i], 0) || math.IsInf(y[i], 0) {
			continue
		}
		lx, ly := math.Log(x[i]), math.Log(y[i])
		n, sx, sy, sxx, sxy = n+1, sx+lx, sy+ly, sxx+lx*lx, sxy+lx*ly
	}
	d := n*sxx - sx*sx
	if n < 2 || d <= 1e-12*n*sxx {
		return math.NaN(), false
	}
	return (n*sxy - sx*sy) / d, true
}

// Slope fits the log-log slope of an order study.
func Slope(pts []OrderPoint) float64 {
	x := make([]float64, len(pts))
	y := make([]float64, len(pts))
	for i, p := range pts {
		x[i], y[i] = p.X, p.Error
	}
	s, _ := FitLogLogSlope(x, y)
	return s
}

// GeometricRange returns n values from a to b, equally spaced in log.
func GeometricRange(a, b float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = a * math.Pow(b/a, float64(i)/float64(max(1, n-1)))
	}
	return out
}

func scaled(v []float64, f float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x * f
	}
	return out
}

func rms(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return math.Sqrt(s / float64(len(a)))
}
