package belm

import (
	"fmt"
	"math"
)

// Slerp interpolates spherically between two latents (paper Eq. 64):
//
//	slerp(w; z₀, z₁) = sin((1−w)θ)/sin θ · z₀ + sin(wθ)/sin θ · z₁,   cos θ = ⟨z₀, z₁⟩/(|z₀||z₁|),
//
// over the whole vector; w = 0 gives z₀ and w = 1 gives z₁ exactly. Nearly parallel vectors
// (sin θ < 1e-12) fall back to linear interpolation.
func Slerp(w float64, z0, z1 []float64) ([]float64, error) {
	if len(z0) != len(z1) || len(z0) == 0 {
		return nil, fmt.Errorf("slerp: latents of %d and %d values", len(z0), len(z1))
	}
	out := make([]float64, len(z0))
	slerpInto(out, w, z0, z1)
	return out, nil
}

// SlerpPerChannel is the reference script's variant (spec §4.4): the angle is computed and the
// interpolation done separately for each channel over its H·W values. z0 and z1 hold
// channels·hw values, channel-major (NCHW without the batch axis).
func SlerpPerChannel(w float64, z0, z1 []float64, channels int) ([]float64, error) {
	if len(z0) != len(z1) || channels < 1 || len(z0)%channels != 0 {
		return nil, fmt.Errorf("slerp per channel: latents of %d and %d values, %d channels", len(z0), len(z1), channels)
	}
	hw := len(z0) / channels
	out := make([]float64, len(z0))
	for c := 0; c < channels; c++ {
		slerpInto(out[c*hw:(c+1)*hw], w, z0[c*hw:(c+1)*hw], z1[c*hw:(c+1)*hw])
	}
	return out, nil
}

func slerpInto(out []float64, w float64, z0, z1 []float64) {
	var dot, n0, n1 float64
	for i := range z0 {
		dot += z0[i] * z1[i]
		n0 += z0[i] * z0[i]
		n1 += z1[i] * z1[i]
	}
	cos := math.Max(-1, math.Min(1, dot/math.Sqrt(n0*n1)))
	theta := math.Acos(cos)
	a, b := 1-w, w
	if s := math.Sin(theta); s > 1e-12 {
		a, b = math.Sin((1-w)*theta)/s, math.Sin(w*theta)/s
	}
	switch w { // exact endpoints
	case 0:
		a, b = 1, 0
	case 1:
		a, b = 0, 1
	}
	for i := range out {
		out[i] = a*z0[i] + b*z1[i]
	}
}
