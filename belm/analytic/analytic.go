// Package analytic provides ε-models whose ε is known exactly, for testing samplers
// against ground truth: an isotropic Gaussian, whose probability-flow ODE has a closed-form
// solution, and a Gaussian mixture, whose ODE is integrated to high accuracy.
//
// Both read the network time through α and σ only (belm.Time.Alpha/Sigma), so they work on
// timestep grids and on continuous σ̄ grids alike. Data of any shape [B, …] is flattened to
// [B, D]; D is fixed when the model is built.
//
// With x̄ = x/α and σ̄ = σ/α, the noisy data at level σ̄ is x̄ = x₀ + σ̄ ε, so
// p̄(x̄) = p_data ∗ N(0, σ̄²I) and the ideal ε-model is ε(x, t) = −σ̄ ∇_x̄ log p̄(x̄).
package analytic

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
)

// Gaussian is the data distribution N(μ, s²I) in D dimensions. Its ε-model is
//
//	ε(x, t) = σ̄ (x̄ − μ)/(s² + σ̄²),
//
// and the PF-ODE dx̄/dσ̄ = ε̄ has the closed-form solution
//
//	x̄(σ̄) = μ + √(s² + σ̄²)·z,   z constant along a trajectory.
type Gaussian struct {
	Mean []float64 // μ, length D (or 1: the same mean in every coordinate)
	Std  float64   // s > 0
	D    int
	// Prediction, if set, makes the model output v ("v_prediction") or x̂₀ ("sample")
	// instead of ε, to test the runner's conversion.
	Prediction string
}

// NewGaussian returns the Gaussian model N(mean, std²I) in d dimensions.
func NewGaussian(d int, mean []float64, std float64) (*Gaussian, error) {
	if d < 1 {
		return nil, fmt.Errorf("dimension must be ≥ 1, got %d", d)
	}
	if len(mean) != 1 && len(mean) != d {
		return nil, fmt.Errorf("mean has %d values: give 1 or D = %d", len(mean), d)
	}
	if !(std > 0) {
		return nil, fmt.Errorf("std must be > 0, got %g", std)
	}
	return &Gaussian{Mean: mean, Std: std, D: d}, nil
}

func (m *Gaussian) mean(i int) float64 {
	if len(m.Mean) == 1 {
		return m.Mean[0]
	}
	return m.Mean[i]
}

// PredictionType implements belm.Predictor.
func (m *Gaussian) PredictionType() string {
	if m.Prediction == "" {
		return "epsilon"
	}
	return m.Prediction
}

// Eps implements belm.Model.
func (m *Gaussian) Eps(_ *model.Scope, x *Node, tm belm.Time, _ *Node) *Node {
	xf, d := flatten(x, m.D)
	mu := meanNode(x.Graph(), x.DType(), m.Mean, d)
	sb := Div(tm.Sigma, tm.Alpha)
	xbar := Div(xf, tm.Alpha)
	eps := Div(Mul(sb, Sub(xbar, mu)), AddScalar(Square(sb), m.Std*m.Std))
	return Reshape(predictionFromEps(m.PredictionType(), eps, xf, tm), x.Shape().Dimensions...)
}

// Transport maps x̄ (flat, B·D values) from σ̄ = from to σ̄ = to along the exact PF-ODE.
func (m *Gaussian) Transport(xbar []float64, from, to float64) []float64 {
	out := make([]float64, len(xbar))
	f := math.Sqrt((m.Std*m.Std + to*to) / (m.Std*m.Std + from*from))
	for i, v := range xbar {
		mu := m.mean(i % m.D)
		out[i] = mu + f*(v-mu)
	}
	return out
}

// Sample draws n data points x₀ ~ N(μ, s²I) as flat B·D values, from normal deviates z.
func (m *Gaussian) Sample(z []float64) []float64 {
	out := make([]float64, len(z))
	for i, v := range z {
		out[i] = m.mean(i%m.D) + m.Std*v
	}
	return out
}

// GMM is the Gaussian mixture Σ_k π_k N(μ_k, s_k² I) in D dimensions. Its ε-model is
//
//	ε(x, t) = σ̄ Σ_k r_k(x̄) (x̄ − μ_k)/(s_k² + σ̄²),
//	r_k ∝ π_k (s_k²+σ̄²)^{−D/2} exp(−|x̄ − μ_k|²/(2(s_k²+σ̄²))),
//
// evaluated with a log-sum-exp softmax. A conditioning tensor cond of shape [B, K] replaces
// π per batch item (class weights: a one-hot row is the class-conditional model), which
// makes the mixture a test bed for classifier-free guidance.
type GMM struct {
	Weights []float64   // π_k, K values summing to 1
	Means   [][]float64 // μ_k, K × D
	Stds    []float64   // s_k > 0
	D       int
}

// NewGMM validates and returns a mixture.
func NewGMM(weights []float64, means [][]float64, stds []float64) (*GMM, error) {
	k := len(weights)
	if k == 0 || len(means) != k || len(stds) != k {
		return nil, fmt.Errorf("a mixture needs K ≥ 1 weights, means and stds of equal count (got %d, %d, %d)", k, len(means), len(stds))
	}
	d := len(means[0])
	sum := 0.0
	for i := range weights {
		if len(means[i]) != d || d == 0 {
			return nil, fmt.Errorf("mean %d has %d coordinates, want %d", i, len(means[i]), d)
		}
		if !(weights[i] > 0) || !(stds[i] > 0) {
			return nil, fmt.Errorf("component %d: weight %g and std %g must be > 0", i, weights[i], stds[i])
		}
		sum += weights[i]
	}
	if math.Abs(sum-1) > 1e-9 {
		return nil, fmt.Errorf("mixture weights sum to %g, not 1", sum)
	}
	return &GMM{Weights: weights, Means: means, Stds: stds, D: d}, nil
}

// Eps implements belm.Model.
func (m *GMM) Eps(_ *model.Scope, x *Node, tm belm.Time, cond *Node) *Node {
	g, dt := x.Graph(), x.DType()
	xf, _ := flatten(x, m.D)
	k := len(m.Weights)
	flatMeans := make([]float64, 0, k*m.D)
	vars := make([]float64, k)
	for i := range m.Means {
		flatMeans = append(flatMeans, m.Means[i]...)
		vars[i] = m.Stds[i] * m.Stds[i]
	}
	mu := ConvertDType(Const(g, flatMeans), dt)
	mu = Reshape(mu, 1, k, m.D)
	s2 := Reshape(ConvertDType(Const(g, vars), dt), 1, k)
	sb := Div(tm.Sigma, tm.Alpha)
	v := Add(s2, Square(sb))                          // [1, K]
	diff := Sub(ExpandAxes(Div(xf, tm.Alpha), 1), mu) // [B, K, D]
	sq := ReduceSum(Square(diff), -1)                 // [B, K]
	var logw *Node
	if cond != nil {
		logw = Log(ConvertDType(cond, dt))
	} else {
		lw := make([]float64, k)
		for i, w := range m.Weights {
			lw[i] = math.Log(w)
		}
		logw = Reshape(ConvertDType(Const(g, lw), dt), 1, k)
	}
	logits := Sub(Sub(logw, MulScalar(Log(v), float64(m.D)/2)), Div(sq, MulScalar(v, 2)))
	r := Softmax(logits, -1) // [B, K]
	eps := Mul(sb, ReduceSum(Mul(ExpandAxes(Div(r, v), -1), diff), 1))
	return Reshape(eps, x.Shape().Dimensions...)
}

// Density is the data density p(x₀) of the mixture at one point (D values).
func (m *GMM) Density(x []float64) float64 {
	p := 0.0
	for k, w := range m.Weights {
		v := m.Stds[k] * m.Stds[k]
		sq := 0.0
		for j, xj := range x {
			d := xj - m.Means[k][j]
			sq += d * d
		}
		p += w * math.Exp(-sq/(2*v)) / math.Pow(2*math.Pi*v, float64(len(x))/2)
	}
	return p
}

// Sample draws data points from the mixture given, per point, a uniform u ∈ [0,1) choosing
// the component and D normal deviates z; it returns flat B·D values.
func (m *GMM) Sample(u []float64, z []float64) []float64 {
	out := make([]float64, len(z))
	for b := range u {
		c, acc := len(m.Weights)-1, 0.0
		for i, w := range m.Weights {
			acc += w
			if u[b] < acc {
				c = i
				break
			}
		}
		for j := 0; j < m.D; j++ {
			out[b*m.D+j] = m.Means[c][j] + m.Stds[c]*z[b*m.D+j]
		}
	}
	return out
}

// flatten reshapes x [B, …] to [B, D], checking the trailing size.
func flatten(x *Node, d int) (*Node, int) {
	dims := x.Shape().Dimensions
	size := 1
	for _, v := range dims[1:] {
		size *= v
	}
	if size != d {
		panic(fmt.Errorf("analytic model of dimension %d got latents of shape %v (%d values per item): make the shapes agree", d, dims, size))
	}
	return Reshape(x, dims[0], d), d
}

func meanNode(g *Graph, dt dtypes.DType, mean []float64, d int) *Node {
	if len(mean) == 1 {
		return Scalar(g, dt, mean[0])
	}
	return Reshape(ConvertDType(Const(g, mean), dt), 1, d)
}

// predictionFromEps turns an exact ε into the model output of another prediction type:
// v = α ε − σ x̂₀ with x̂₀ = (x − σ ε)/α, or x̂₀ itself.
func predictionFromEps(pt string, eps, x *Node, tm belm.Time) *Node {
	switch pt {
	case "v_prediction":
		x0 := Div(Sub(x, Mul(tm.Sigma, eps)), tm.Alpha)
		return Sub(Mul(tm.Alpha, eps), Mul(tm.Sigma, x0))
	case "sample":
		return Div(Sub(x, Mul(tm.Sigma, eps)), tm.Alpha)
	}
	return eps
}
