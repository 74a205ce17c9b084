package quality

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Gaussian is the mean and covariance of a set of feature vectors (float64).
type Gaussian struct {
	N    int           // number of vectors
	Mean []float64     // [d]
	Cov  *mat.SymDense // d×d, the unbiased sample covariance (divided by N−1), as numpy.cov
}

// Fit computes the mean and covariance of n feature vectors of dimension d (row-major).
func Fit(features []float32, d int) (Gaussian, error) {
	if d < 1 || len(features)%d != 0 || len(features)/d < 2 {
		return Gaussian{}, fmt.Errorf("quality: need at least 2 feature vectors of dimension %d, got %d values", d, len(features))
	}
	n := len(features) / d
	mean := make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range features[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	centred := mat.NewDense(n, d, nil)
	for i := 0; i < n; i++ {
		for j, v := range features[i*d : (i+1)*d] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return Gaussian{}, fmt.Errorf("quality: feature vector %d has a non-finite value", i)
			}
			centred.Set(i, j, float64(v)-mean[j])
		}
	}
	cov := mat.NewSymDense(d, nil)
	cov.SymOuterK(1/float64(n-1), centred.T())
	return Gaussian{N: n, Mean: mean, Cov: cov}, nil
}

// sqrtPSD is the symmetric square root of a symmetric positive semi-definite matrix
// (eigenvalues below 0, from rounding, count as 0).
func sqrtPSD(a *mat.SymDense) (*mat.SymDense, error) {
	var eig mat.EigenSym
	if !eig.Factorize(a, true) {
		return nil, fmt.Errorf("quality: eigendecomposition failed")
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	d := len(vals)
	scaled := mat.DenseCopyOf(&vecs)
	for j, l := range vals {
		s := math.Sqrt(max(l, 0))
		for i := 0; i < d; i++ {
			scaled.Set(i, j, scaled.At(i, j)*s)
		}
	}
	var prod mat.Dense
	prod.Mul(scaled, vecs.T()) // V diag(√λ) Vᵀ
	return symmetrised(&prod), nil
}

// symmetrised is (m + mᵀ)/2 of a square matrix.
func symmetrised(m *mat.Dense) *mat.SymDense {
	d, _ := m.Dims()
	out := mat.NewSymDense(d, nil)
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			out.SetSym(i, j, (m.At(i, j)+m.At(j, i))/2)
		}
	}
	return out
}

// FrechetDistance is the Fréchet distance between two Gaussians,
//
//	‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2},
//
// computed with symmetric eigendecompositions only (Σ₁^{1/2} Σ₂ Σ₁^{1/2} is symmetric
// positive semi-definite and has the eigenvalues of Σ₁Σ₂, so its trace square root is
// FID's tr √(Σ₁Σ₂) without a non-symmetric matrix square root). The result is clamped
// at 0 against rounding.
func FrechetDistance(a, b Gaussian) (float64, error) {
	d := len(a.Mean)
	if d == 0 || len(b.Mean) != d || a.Cov == nil || b.Cov == nil || a.Cov.SymmetricDim() != d || b.Cov.SymmetricDim() != d {
		return 0, fmt.Errorf("quality: Fréchet distance between Gaussians of dimensions %d and %d", len(a.Mean), len(b.Mean))
	}
	var fd float64
	for i := range a.Mean {
		fd += (a.Mean[i] - b.Mean[i]) * (a.Mean[i] - b.Mean[i])
	}
	fd += mat.Trace(a.Cov) + mat.Trace(b.Cov)
	sa, err := sqrtPSD(a.Cov)
	if err != nil {
		return 0, err
	}
	var m mat.Dense
	m.Mul(sa, b.Cov)
	m.Mul(&m, sa)
	var eig mat.EigenSym
	if !eig.Factorize(symmetrised(&m), false) {
		return 0, fmt.Errorf("quality: eigendecomposition failed")
	}
	var tr float64
	for _, l := range eig.Values(nil) {
		tr += math.Sqrt(max(l, 0))
	}
	fd -= 2 * tr
	if math.IsNaN(fd) {
		return 0, fmt.Errorf("quality: the Fréchet distance is NaN")
	}
	return max(fd, 0), nil
}
