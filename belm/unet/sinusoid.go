package unet

import (
	"math"
	"math/big"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

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

// PyTorch's CPU sin and cos of a float32 tensor are SLEEF's Sleef_sinf8_u10 / cosf8_u10
// (xsinf_u1, xcosf_u1 of sleefsimdsp.c, AVX2 with FMA), applied 8 lanes at a time. They
// are within 1 ulp but not always correctly rounded, so a float32 embedding computed with
// correctly rounded sin/cos differs from diffusers' by 1 ulp in some entries, which moves
// a float64 ε by up to ~5e-9 (the float32 embedding is upcast). sleefSinCos32 reproduces
// them:
//
//   - |x| < 125 for every lane of the 8-lane vector: Cody-Waite reduction by π (three
//     float32 parts, PI_A2f/PI_B2f/PI_C2f) kept as a double-float, then the u1 polynomial
//     in double-float arithmetic, ported operation by operation (fused multiply-adds
//     where the AVX2 build has them);
//   - otherwise (SLEEF ≤ 3.5 sends the whole vector down this path): Payne-Hanek
//     reduction by π/2 (rempif). It is emulated here with an exact reduction (math/big)
//     rounded to a double-float, which equals SLEEF's table-driven one to ~2^-40
//     relative; the float32 result can only differ when it lies within ~2^-16 ulp of a
//     rounding boundary.
//
// The lanes are grouped 8 by 8 from the start of each row of the [B, half] argument
// matrix, which is PyTorch's grouping whenever half is a multiple of 8 (real models) or
// all rows share one timestep (the samplers).

const (
	sleefPiA2  = float32(3.1414794921875)
	sleefPiB2  = float32(0.00011315941810607910156)
	sleefPiC2  = float32(1.9841872589410058936e-09)
	sleefRange = float32(125)
	sleefLanes = 8
)

// df is a SLEEF double-float (x + y, |y| ≤ ulp(x)/2).
type df struct{ x, y float32 }

func add32(a, b float32) float32 { return a + b }
func sub32(a, b float32) float32 { return a - b }
func mul32(a, b float32) float32 { return a * b }

// fmaF32 is a correctly rounded float32 fused multiply-add: the product is exact in
// float64, the sum's rounding error is recovered (TwoSum) to break the float32 ties that
// the float64 rounding could have created.
func fmaF32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	c64 := float64(c)
	s := p + c64
	bb := s - p
	e := (p - (s - bb)) + (c64 - bb)
	if e != 0 && math.Abs(s) >= 0x1p-126 && math.Float64bits(s)&(1<<29-1) == 1<<28 {
		s = math.Nextafter(s, s+e)
	}
	return float32(s)
}

func fmapn32(a, b, c float32) float32 { return fmaF32(a, b, -c) } // a·b − c

func rint32(x float32) float32 { return float32(math.RoundToEven(float64(x))) }

func dfAdd2FF(x, y float32) df {
	s := add32(x, y)
	v := sub32(s, x)
	return df{s, add32(sub32(x, sub32(s, v)), sub32(y, v))}
}

func dfAddDF(x df, y float32) df {
	s := add32(x.x, y)
	return df{s, add32(add32(sub32(x.x, s), y), x.y)}
}

func dfAdd2DF(x df, y float32) df {
	s := add32(x.x, y)
	v := sub32(s, x.x)
	t := add32(sub32(x.x, sub32(s, v)), sub32(y, v))
	return df{s, add32(t, x.y)}
}

func dfAdd2DD(x, y df) df {
	s := add32(x.x, y.x)
	v := sub32(s, x.x)
	t := add32(sub32(x.x, sub32(s, v)), sub32(y.x, v))
	return df{s, add32(t, add32(x.y, y.y))}
}

func dfAddFF(x, y float32) df {
	s := add32(x, y)
	return df{s, add32(sub32(x, s), y)}
}

func dfAddFD(x float32, y df) df {
	s := add32(x, y.x)
	return df{s, add32(add32(sub32(x, s), y.x), y.y)}
}

func dfNormalize(t df) df {
	s := add32(t.x, t.y)
	return df{s, add32(sub32(t.x, s), t.y)}
}

func dfSqu(x df) df {
	s := mul32(x.x, x.x)
	return df{s, fmaF32(add32(x.x, x.x), x.y, fmapn32(x.x, x.x, s))}
}

func dfMulDD(x, y df) df {
	s := mul32(x.x, y.x)
	return df{s, fmaF32(x.x, y.y, fmaF32(x.y, y.x, fmapn32(x.x, y.x, s)))}
}

func dfMulToF(x, y df) float32 {
	return fmaF32(x.x, y.x, fmaF32(x.y, y.x, mul32(x.x, y.y)))
}

// sleefPoly is the common tail of xsinf_u1 / xcosf_u1: sin(t) for the reduced t.
func sleefPoly(t df) float32 {
	s := dfSqu(t)
	u := float32(2.6083159809786593541503e-06)
	u = fmaF32(u, s.x, -0.0001981069071916863322258)
	u = fmaF32(u, s.x, 0.00833307858556509017944336)
	x := dfAddFD(1, dfMulDD(dfAddFF(-0.166666597127914428710938, mul32(u, s.x)), s))
	return dfMulToF(t, x)
}

var bigHalfPi = func() *big.Float {
	pi, _, err := big.ParseFloat("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798214808651", 10, 256, big.ToNearestEven)
	if err != nil {
		panic(err)
	}
	return pi.Quo(pi, big.NewFloat(2).SetPrec(256))
}()

// rempi is the Payne-Hanek reduction x = q·π/2 + r, |r| ≤ π/4, r as a double-float.
func rempi(a float32) (df, int) {
	if math.Abs(float64(a)) < 0.7 {
		return df{a, 0}, 0
	}
	q := math.RoundToEven(float64(a) / (math.Pi / 2))
	r := new(big.Float).SetPrec(256).SetFloat64(float64(a))
	r.Sub(r, new(big.Float).SetPrec(256).Mul(bigHalfPi, new(big.Float).SetPrec(256).SetFloat64(q)))
	rf, _ := r.Float64()
	hi := float32(rf)
	lo, _ := new(big.Float).SetPrec(256).Sub(r, new(big.Float).SetFloat64(float64(hi))).Float32()
	return df{hi, lo}, int(q)
}

func mulsign32(a, y float32) float32 {
	return math.Float32frombits(math.Float32bits(a) ^ (math.Float32bits(y) & (1 << 31)))
}

// sleefSinf is xsinf_u1 on one lane; big selects the Payne-Hanek path.
func sleefSinf(d float32, big bool) float32 {
	var s df
	var q int
	if !big {
		u := rint32(mul32(d, float32(1/math.Pi)))
		q = int(u)
		v := fmaF32(u, -sleefPiA2, d)
		s = dfAdd2FF(v, mul32(u, -sleefPiB2))
		s = dfAddDF(s, mul32(u, -sleefPiC2))
	} else {
		r, qi := rempi(d)
		q = ((qi&3)*2 + map[bool]int{true: 2, false: 1}[r.x > 0]) >> 2
		if qi&1 == 1 {
			x := df{mulsign32(float32(math.Pi)*-0.5, r.x), mulsign32(-8.7422776573475857731e-08*-0.5, r.x)}
			r = dfAdd2DD(r, x)
		}
		s = dfNormalize(r)
	}
	u := sleefPoly(s)
	if q&1 == 1 {
		u = -u
	}
	return u
}

// sleefCosf is xcosf_u1 on one lane; big selects the Payne-Hanek path.
func sleefCosf(d float32, big bool) float32 {
	var s df
	var q int
	if !big {
		dq := fmaF32(rint32(fmaF32(d, float32(1/math.Pi), -0.5)), 2, 1)
		q = int(rint32(dq))
		s = dfAdd2FF(d, mul32(dq, -sleefPiA2*0.5))
		s = dfAdd2DF(s, mul32(dq, -sleefPiB2*0.5))
		s = dfAdd2DF(s, mul32(dq, -sleefPiC2*0.5))
	} else {
		r, qi := rempi(d)
		q = ((qi&3)*2 + map[bool]int{true: 8, false: 7}[r.x > 0]) >> 1
		if qi&1 == 0 {
			y := float32(-1)
			if r.x > 0 {
				y = 0
			}
			x := df{mulsign32(float32(math.Pi)*-0.5, y), mulsign32(-8.7422776573475857731e-08*-0.5, y)}
			r = dfAdd2DD(r, x)
		}
		s = dfNormalize(r)
	}
	u := sleefPoly(s)
	if q&2 == 0 {
		u = -u
	}
	return u
}

// sleefSinCos32 returns PyTorch's float32 sin and cos of one row of arguments, 8 lanes
// at a time (see above).
func sleefSinCos32(args []float32) (sin, cos []float32) {
	sin = make([]float32, len(args))
	cos = make([]float32, len(args))
	for g := 0; g < len(args); g += sleefLanes {
		lanes := args[g:min(g+sleefLanes, len(args))]
		big := false
		for _, a := range lanes {
			if !(float32(math.Abs(float64(a))) < sleefRange) {
				big = true
			}
		}
		for i, a := range lanes {
			sin[g+i] = sleefSinf(a, big)
			cos[g+i] = sleefCosf(a, big)
		}
	}
	return sin, cos
}

// sinCosTable returns, for every integer timestep 0 … T−1, PyTorch's float32 [sin | cos]
// of the embedding arguments t·f_k (T−1 rows of 2·half values), computed once per UNet.
func (u *UNet) sinCosTable(half int) (table []float32, rows int) {
	u.sinOnce.Do(func() {
		rows = 1000
		if n := u.cfg.NumTrainTimesteps; n != nil && *n > 0 {
			rows = *n
		}
		freqs := sinusoidFreqs32(half, u.cfg.FreqShift)
		u.sinTable = make([]float32, rows*2*half)
		args := make([]float32, half)
		for t := 0; t < rows; t++ {
			for k, f := range freqs {
				args[k] = float32(t) * f
			}
			s, c := sleefSinCos32(args)
			copy(u.sinTable[t*2*half:], s)
			copy(u.sinTable[t*2*half+half:], c)
		}
	})
	return u.sinTable, len(u.sinTable) / (2 * half)
}

// sinCos returns [sin(args), cos(args)] for the timestep embedding of t [B] (args = t·f,
// [B, half]). In float32 (the float32 sinusoid, diffusers' choice) integer timesteps in
// range take PyTorch's SLEEF values from sinCosTable; other timesteps, and other dtypes,
// use the backend's sin and cos.
func (b *builder) sinCos(t, args *Node) []*Node {
	sin, cos := Sin(args), Cos(args)
	if args.DType() != dtypes.Float32 || !b.u.opts.sleefSinCos {
		return []*Node{sin, cos}
	}
	dims := args.Shape().Dimensions
	batch, half := dims[0], dims[1]
	table, rows := b.u.sinCosTable(half)
	g := args.Graph()
	idx := ConvertDType(t, dtypes.Int32)
	idx = Max(Min(idx, Scalar(g, dtypes.Int32, rows-1)), ScalarZero(g, dtypes.Int32))
	exact := Equal(ConvertDType(idx, dtypes.Float32), t) // integer and in range
	exact = BroadcastToDims(ExpandAxes(exact, 1), batch, half)
	looked := Gather(Const(g, tensors.FromFlatDataAndDimensions(table, rows, 2*half)), ExpandAxes(idx, 1)) // [B, 2·half]
	ls := Slice(looked, AxisRange(), AxisRange(0, half))
	lc := Slice(looked, AxisRange(), AxisRange(half, 2*half))
	return []*Node{Where(exact, ls, sin), Where(exact, lc, cos)}
}
