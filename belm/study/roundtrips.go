package study

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
)

// RoundTrips is one round-trip study (RoundTrip) run twice on the same data, in float64
// and in float32: what the precision figure compares. DType says which of the two the
// other round-trip figures show (Rows).
type RoundTrips struct {
	Model   string            `json:"-"` // the analytic model ("gaussian", "gmm")
	DType   dtypes.DType      `json:"-"` // the dtype of Rows: Common.DType
	Float64 []RoundTripResult `json:"float64"`
	Float32 []RoundTripResult `json:"float32"`
}

// RoundTripsInBothPrecisions runs RoundTrip with c in float64 and in float32, whatever
// c.DType says; c.DType (float64 when unset) picks Rows.
func RoundTripsInBothPrecisions(c Common, samplers []string, ns []int) (RoundTrips, error) {
	c = c.defaults()
	out := RoundTrips{Model: c.Model, DType: c.DType}
	for _, p := range []struct {
		dt   dtypes.DType
		rows *[]RoundTripResult
	}{{dtypes.Float64, &out.Float64}, {dtypes.Float32, &out.Float32}} {
		cp := c
		cp.DType = p.dt
		rows, err := RoundTrip(cp, samplers, ns)
		if err != nil {
			return RoundTrips{}, fmt.Errorf("round trip in %s: %w", p.dt, err)
		}
		*p.rows = rows
	}
	return out, nil
}

// Rows are the results in r.DType.
func (r RoundTrips) Rows() []RoundTripResult {
	if r.DType == dtypes.Float32 {
		return r.Float32
	}
	return r.Float64
}

// NoiseSample is the inverted x_N of one sampler (every coordinate of every inverted data
// point) with its mean and population standard deviation: ≈ 0 and 1 when the inversion
// lands on N(0, 1)-like noise.
type NoiseSample struct {
	Sampler string    `json:"sampler"`
	Mean    float64   `json:"mean"`
	Std     float64   `json:"std"`
	Values  []float64 `json:"-"`
}

// InvertedNoise is the inverted noise of each sampler of a round-trip study at one N.
type InvertedNoise struct {
	Model   string
	DType   dtypes.DType
	N       int
	Samples []NoiseSample // one per sampler whose round trip at N succeeded, in study order
}

// InvertedNoise is the inverted noise of Rows at the smallest N of the study, where
// samplers disperse most. Failed round trips (Err set) are left out.
func (r RoundTrips) InvertedNoise() InvertedNoise {
	rows := r.Rows()
	out := InvertedNoise{Model: r.Model, DType: r.DType}
	if len(rows) == 0 {
		return out
	}
	out.N = slices.MinFunc(rows, func(a, b RoundTripResult) int { return a.N - b.N }).N
	for _, row := range rows {
		if row.N == out.N && row.Err == "" {
			m, s := belm.MeanStd(row.Inverted)
			out.Samples = append(out.Samples, NoiseSample{Sampler: row.Sampler, Mean: m, Std: s, Values: row.Inverted})
		}
	}
	return out
}
