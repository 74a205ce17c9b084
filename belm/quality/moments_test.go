package quality

import (
	"encoding/json"
	"math"
	"testing"
)

// Moments of three parts, added (through JSON, as shards are merged), give the Gaussian of
// the whole set that Fit computes from centred data, to rounding.
func TestMomentsMerge(t *testing.T) {
	const n, d = 301, 5
	f := make([]float32, n*d)
	for i := range f {
		f[i] = float32(3 + math.Sin(float64(i)*0.7)*float64(1+i%d))
	}
	want, err := Fit(f, d)
	if err != nil {
		t.Fatal(err)
	}
	var sum Moments
	for _, part := range [][2]int{{0, 100}, {100, 101}, {101, n}} {
		m, err := NewMoments(f[part[0]*d:part[1]*d], d)
		if err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Moments
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatal(err)
		}
		if err := sum.Add(back); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sum.Gaussian()
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := 0; i < d; i++ {
		worst = math.Max(worst, math.Abs(got.Mean[i]-want.Mean[i]))
		for j := 0; j < d; j++ {
			worst = math.Max(worst, math.Abs(got.Cov.At(i, j)-want.Cov.At(i, j)))
		}
	}
	if got.N != n || worst > 1e-12 {
		t.Errorf("N %d, max |Δ| %.2e vs Fit", got.N, worst)
	}
	if fd, err := FrechetDistance(got, want); err != nil || fd > 1e-10 {
		t.Errorf("FD between the merged and the direct Gaussian: %g, %v", fd, err)
	}
	// A shard with no batch: zero moments round-trip and add nothing.
	js, _ := json.Marshal(Moments{})
	var zero Moments
	if err := json.Unmarshal(js, &zero); err != nil || sum.Add(zero) != nil || sum.N != n {
		t.Errorf("zero moments (%s): %v, N %d", js, err, sum.N)
	}
	var bad Moments
	if err := json.Unmarshal([]byte(`{"n": 2, "sum": [1, 2], "outer": [1]}`), &bad); err == nil {
		t.Error("3 outer products missing: no error")
	}
}
