package belm_test

import (
	"math"
	"testing"

	"github.com/belmlab/workbench/belm"
)

// Slerp at intermediate weights, in closed form. For orthogonal z₀, z₁ (θ = π/2),
// sin((1−λ)θ)/sin θ = cos(λπ/2) and sin(λθ)/sin θ = sin(λπ/2), so slerp(λ) =
// cos(λπ/2)·z₀ + sin(λπ/2)·z₁: at λ = 0.25 the weights are cos(π/8) = 0.92387953251128674 and
// sin(π/8) = 0.38268343236508977, at λ = 0.5 both are √2/2 (the lengths of z₀, z₁ are kept
// as given: slerp does not normalise). For unit vectors 60° apart, slerp(0.5) is the unit
// vector halfway, at 30°: (cos 30°, sin 30°) = (√3/2, 1/2). Tolerance 1e-15: a few roundings
// of O(1) values.
func TestSlerpKnownAnswers(t *testing.T) {
	c8, s8 := 0.92387953251128674, 0.38268343236508977
	h := math.Sqrt2 / 2
	for _, tc := range []struct {
		name   string
		lambda float64
		z0, z1 []float64
		want   []float64
	}{
		{"orthogonal λ=0.25", 0.25, []float64{1, 0}, []float64{0, 1}, []float64{c8, s8}},
		{"orthogonal λ=0.5", 0.5, []float64{1, 0}, []float64{0, 1}, []float64{h, h}},
		{"orthogonal λ=0.75", 0.75, []float64{1, 0}, []float64{0, 1}, []float64{s8, c8}},
		{"orthogonal, lengths 2 and 3, λ=0.25", 0.25, []float64{2, 0, 0}, []float64{0, 0, 3}, []float64{2 * c8, 0, 3 * s8}},
		{"60° λ=0.5", 0.5, []float64{1, 0}, []float64{0.5, math.Sqrt(3) / 2}, []float64{math.Sqrt(3) / 2, 0.5}},
		{"endpoint λ=0", 0, []float64{1, 2}, []float64{-3, 1}, []float64{1, 2}},
		{"endpoint λ=1", 1, []float64{1, 2}, []float64{-3, 1}, []float64{-3, 1}},
	} {
		got, err := belm.Slerp(tc.lambda, tc.z0, tc.z1)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tc.want {
			if math.Abs(got[i]-tc.want[i]) > 1e-15 {
				t.Errorf("%s: slerp = %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

// SlerpPerChannel interpolates each channel on its own angle (the reference script's
// variant): channel 0 holds orthogonal vectors (weights cos, sin of λπ/2), channel 1 vectors
// 60° apart (the unit vector at λ·60°). The whole-vector Slerp of the same data uses one
// angle and differs.
func TestSlerpPerChannelKnownAnswers(t *testing.T) {
	z0 := []float64{1, 0, 1, 0}
	z1 := []float64{0, 1, 0.5, math.Sqrt(3) / 2}
	for _, lambda := range []float64{0.25, 0.5} {
		got, err := belm.SlerpPerChannel(lambda, z0, z1, 2)
		if err != nil {
			t.Fatal(err)
		}
		a, b := lambda*math.Pi/2, lambda*math.Pi/3
		want := []float64{math.Cos(a), math.Sin(a), math.Cos(b), math.Sin(b)}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-15 {
				t.Fatalf("λ=%g: per channel %v, want %v", lambda, got, want)
			}
		}
		whole, _ := belm.Slerp(lambda, z0, z1)
		if e := belm.Compare(whole, want, 1); e.MaxAbs < 1e-3 {
			t.Errorf("λ=%g: whole-vector slerp %v equals the per-channel one", lambda, whole)
		}
	}
	if _, err := belm.SlerpPerChannel(0.5, z0, z1, 3); err == nil {
		t.Error("4 values in 3 channels: no error")
	}
}
