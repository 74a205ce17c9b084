package belm

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
)

// NewTensor returns a tensor of dtype (Float32 or Float64) with the given float64 values.
func NewTensor(values []float64, dtype dtypes.DType, dims ...int) (*tensors.Tensor, error) {
	n := 1
	for _, d := range dims {
		if d <= 0 {
			return nil, fmt.Errorf("tensor dimensions must be positive, got %v", dims)
		}
		n *= d
	}
	if n != len(values) {
		return nil, fmt.Errorf("shape %v holds %d values, got %d", dims, n, len(values))
	}
	switch dtype {
	case dtypes.Float64:
		return tensors.FromFlatDataAndDimensions(append([]float64(nil), values...), dims...), nil
	case dtypes.Float32:
		f := make([]float32, len(values))
		for i, v := range values {
			f[i] = float32(v)
		}
		return tensors.FromFlatDataAndDimensions(f, dims...), nil
	}
	return nil, fmt.Errorf("dtype %s is not supported: use float32 or float64", dtype)
}

// Values returns a float32 or float64 tensor's values as float64.
func Values(t *tensors.Tensor) ([]float64, error) {
	switch v := t.Value().(type) {
	case []float64:
		return append([]float64(nil), v...), nil
	case []float32:
		out := make([]float64, len(v))
		for i, f := range v {
			out[i] = float64(f)
		}
		return out, nil
	}
	var out []float64
	err := t.ConstFlatData(func(flat any) {
		switch v := flat.(type) {
		case []float64:
			out = append(out, v...)
		case []float32:
			for _, f := range v {
				out = append(out, float64(f))
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if out == nil && t.Size() > 0 {
		return nil, fmt.Errorf("tensor of dtype %s is not float32 or float64", t.DType())
	}
	return out, nil
}

// Normal returns n standard normal deviates from a seeded PCG generator: noise drawn on the
// host is the same on every backend (in-graph RNGs differ between backends).
func Normal(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	out := make([]float64, n)
	for i := range out {
		out[i] = r.NormFloat64()
	}
	return out
}

// Uniform returns n uniform deviates in [0, 1) from a seeded PCG generator.
func Uniform(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 0x632be59bd9b4e019))
	out := make([]float64, n)
	for i := range out {
		out[i] = r.Float64()
	}
	return out
}

// Errors compares x against a reference: the max-abs and RMS differences, each divided by
// scale (the data scale, e.g. max |ref|).
type Errors struct {
	MaxAbs float64 `json:"max_abs"`
	RMS    float64 `json:"rms"`
}

// Compare returns the errors of x against ref relative to scale (scale ≤ 0: max |ref|).
func Compare(x, ref []float64, scale float64) Errors {
	if scale <= 0 {
		for _, v := range ref {
			scale = math.Max(scale, math.Abs(v))
		}
		if scale == 0 {
			scale = 1
		}
	}
	var e Errors
	for i := range x {
		d := math.Abs(x[i] - ref[i])
		if math.IsNaN(d) {
			return Errors{MaxAbs: math.Inf(1), RMS: math.Inf(1)}
		}
		e.MaxAbs = math.Max(e.MaxAbs, d)
		e.RMS += d * d
	}
	e.RMS = math.Sqrt(e.RMS/float64(len(x))) / scale
	e.MaxAbs /= scale
	return e
}

// MeanStd returns the mean and the (population) standard deviation of v.
func MeanStd(v []float64) (mean, std float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(len(v)))
}
