package unet

import "math"

// The frequencies of the sinusoidal timestep embedding depend only on the config, so
// they are computed on the host and enter the graph as constants.
//
// diffusers (get_timestep_embedding) computes, in float32,
//
//	exponent = -ln(10000) · arange(half) / (half − shift);  freqs = exp(exponent)
//
// PyTorch's CPU exp is SLEEF's Sleef_expf8_u10 (≤1 ulp, not always correctly rounded:
// exp(−3.0701134) comes out 1 ulp low), so sinusoidFreqs32 reproduces that algorithm
// bit for bit (with fused multiply-adds, as the AVX2/AVX-512 builds use). The
// products t·f and the sin/cos are then taken in the graph.

// sinusoidFreqs32 returns diffusers' float32 frequencies.
func sinusoidFreqs32(half int, shift float64) []float32 {
	c := float32(-math.Log(10000))
	den := float32(float64(half) - shift)
	f := make([]float32, half)
	for k := range f {
		e := float32(c * float32(k))
		e = float32(e / den)
		f[k] = sleefExpf(e)
	}
	return f
}

// sinusoidFreqs64 returns the frequencies computed in float64.
func sinusoidFreqs64(half int, shift float64) []float64 {
	f := make([]float64, half)
	for k := range f {
		f[k] = math.Exp(-math.Log(10000) * float64(k) / (float64(half) - shift))
	}
	return f
}

// fma32 is a float32 fused multiply-add (via float64: the product of two float32 is
// exact in float64; the double rounding is harmless for these arguments).
func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }

// sleefExpf is SLEEF 3's xexpf (u10), vectorised in PyTorch as Sleef_expf8_u10.
func sleefExpf(d float32) float32 {
	const (
		rLn2 = float32(1.442695040888963407359924681001892137426645954152985934135449406931)
		l2u  = float32(0.693145751953125)
		l2l  = float32(1.428606765330187045e-06)
	)
	q := int(math.RoundToEven(float64(float32(d * rLn2))))
	qf := float32(q)
	s := fma32(qf, -l2u, d)
	s = fma32(qf, -l2l, s)
	u := float32(0.000198527617612853646278381)
	u = fma32(u, s, 0.00139304355252534151077271)
	u = fma32(u, s, 0.00833336077630519866943359)
	u = fma32(u, s, 0.0416664853692054748535156)
	u = fma32(u, s, 0.166666671633720397949219)
	u = fma32(u, s, 0.5)
	u = 1 + fma32(float32(s*s), u, s)
	u = float32(math.Ldexp(float64(u), q))
	if d < -104 {
		u = 0
	}
	if d > 104 {
		u = float32(math.Inf(1))
	}
	return u
}
