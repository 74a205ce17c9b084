package quality

import (
	"encoding/json"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Moments are the sufficient statistics of a set of feature vectors, in float64: their
// count N, their sum Σf and the sum of their outer products Σffᵀ. Sets add (Add), so a
// Fréchet distance over many batches, processes or machines needs only these, never the
// vectors: μ = Σf/N and Σ = (Σffᵀ − N μμᵀ)/(N − 1), numpy.cov's unbiased covariance.
type Moments struct {
	N     int
	Sum   []float64     // [d]
	Outer *mat.SymDense // d×d
}

// momentsJSON is Moments as JSON: the outer products row-major (JSON numbers written by
// encoding/json round-trip float64 exactly).
type momentsJSON struct {
	N     int       `json:"n"`
	Sum   []float64 `json:"sum"`
	Outer []float64 `json:"outer"`
}

func (m Moments) MarshalJSON() ([]byte, error) {
	d := len(m.Sum)
	j := momentsJSON{N: m.N, Sum: m.Sum, Outer: make([]float64, 0, d*d)}
	if d == 0 {
		return json.Marshal(j)
	}
	for r := 0; r < d; r++ {
		for c := 0; c < d; c++ {
			j.Outer = append(j.Outer, m.Outer.At(r, c))
		}
	}
	return json.Marshal(j)
}

func (m *Moments) UnmarshalJSON(b []byte) error {
	var j momentsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	d := len(j.Sum)
	if j.N == 0 && d == 0 && len(j.Outer) == 0 { // no vectors (a shard with no batch)
		*m = Moments{}
		return nil
	}
	if d == 0 || len(j.Outer) != d*d || j.N < 0 {
		return fmt.Errorf("quality: moments with %d sums and %d outer products", d, len(j.Outer))
	}
	outer := mat.NewSymDense(d, nil)
	for r := 0; r < d; r++ {
		for c := r; c < d; c++ {
			outer.SetSym(r, c, j.Outer[r*d+c])
		}
	}
	*m = Moments{N: j.N, Sum: j.Sum, Outer: outer}
	return nil
}

// NewMoments accumulates n feature vectors of dimension d (row-major).
func NewMoments(features []float32, d int) (Moments, error) {
	if d < 1 || len(features)%d != 0 {
		return Moments{}, fmt.Errorf("quality: %d values are not feature vectors of dimension %d", len(features), d)
	}
	n := len(features) / d
	m := Moments{N: n, Sum: make([]float64, d), Outer: mat.NewSymDense(d, nil)}
	rows := mat.NewDense(max(n, 1), d, nil)
	for i := 0; i < n; i++ {
		for j, v := range features[i*d : (i+1)*d] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return Moments{}, fmt.Errorf("quality: feature vector %d has a non-finite value", i)
			}
			m.Sum[j] += float64(v)
			rows.Set(i, j, float64(v))
		}
	}
	if n > 0 {
		m.Outer.SymOuterK(1, rows.T())
	}
	return m, nil
}

// Add accumulates o into m (m may be the zero Moments).
func (m *Moments) Add(o Moments) error {
	if o.N == 0 && o.Sum == nil {
		return nil
	}
	if m.N == 0 && m.Sum == nil {
		m.N, m.Sum, m.Outer = o.N, append([]float64(nil), o.Sum...), mat.NewSymDense(len(o.Sum), nil)
		m.Outer.CopySym(o.Outer)
		return nil
	}
	if len(o.Sum) != len(m.Sum) {
		return fmt.Errorf("quality: adding moments of dimension %d to %d", len(o.Sum), len(m.Sum))
	}
	m.N += o.N
	for j, v := range o.Sum {
		m.Sum[j] += v
	}
	m.Outer.AddSym(m.Outer, o.Outer)
	return nil
}

// Gaussian is the mean and unbiased covariance of the accumulated vectors.
func (m Moments) Gaussian() (Gaussian, error) {
	d := len(m.Sum)
	if m.N < 2 || d == 0 {
		return Gaussian{}, fmt.Errorf("quality: need at least 2 feature vectors, got %d", m.N)
	}
	n := float64(m.N)
	mean := make([]float64, d)
	for j, s := range m.Sum {
		mean[j] = s / n
	}
	cov := mat.NewSymDense(d, nil)
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			cov.SetSym(i, j, (m.Outer.At(i, j)-n*mean[i]*mean[j])/(n-1))
		}
	}
	return Gaussian{N: m.N, Mean: mean, Cov: cov}, nil
}
