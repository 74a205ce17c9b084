package viz

import "math"

// Fixtures shaped like real results of the core (made up, not computed).

var stepsN = []float64{10, 20, 50, 100, 200, 500, 1000}

func errorCurves() []Curve {
	pow := func(c, p float64) []float64 {
		y := make([]float64, len(stepsN))
		for i, n := range stepsN {
			y[i] = c * math.Pow(n, p)
		}
		return y
	}
	return []Curve{
		{Sampler: "ddim", X: stepsN, Y: pow(0.8, -1)},
		{Sampler: "edict", X: stepsN, Y: []float64{3e-15, 4e-15, 6e-15, 9e-15, 1.2e-14, 2e-14, 3e-14}},
		{Sampler: "bdia", X: stepsN, Y: []float64{2e-14, 2.5e-14, 4e-14, 6e-14, 9e-14, 1.5e-13, 2.2e-13}},
		{Sampler: "belm", X: stepsN, Y: []float64{0, 0, 2.2e-16, 0, 4.4e-16, 0, 0}},
		{Sampler: "belm-k3", X: stepsN, Y: []float64{1e-3, 2e-3, 1e2, 3e10, math.Inf(1), math.NaN(), math.NaN()}},
	}
}

func lteCurves() []Curve {
	h := []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5}
	pow := func(c, p float64) []float64 {
		y := make([]float64, len(h))
		for i, x := range h {
			y[i] = c * math.Pow(x, p) * (1 + 0.05*math.Sin(float64(i)))
		}
		return y
	}
	return []Curve{
		{Sampler: "ddim", X: h, Y: pow(0.5, 2)},
		{Sampler: "bdia", X: h, Y: pow(0.3, 2)},
		{Sampler: "belm", X: h, Y: pow(0.2, 3)},
	}
}

func precisionCurves() (f64, f32 []Curve) {
	for _, s := range []string{"belm", "edict", "bdia", "ddim"} {
		y64 := make([]float64, len(stepsN))
		y32 := make([]float64, len(stepsN))
		for i, n := range stepsN {
			y64[i] = 1e-15 * math.Sqrt(n)
			y32[i] = 3e-7 * math.Sqrt(n)
			if s == "ddim" {
				y64[i] = 0.8 / n
				y32[i] = 0.8/n + 3e-7
			}
			if s == "bdia" {
				y64[i] *= 10
				y32[i] *= 10
			}
		}
		f64 = append(f64, Curve{Sampler: s, X: stepsN, Y: y64})
		f32 = append(f32, Curve{Sampler: s, X: stepsN, Y: y32})
	}
	return f64, f32
}

// gauss returns n deterministic pseudo-normal values with the given std.
func gauss(n int, std float64, seed uint64) []float64 {
	out := make([]float64, n)
	s := seed
	next := func() float64 {
		s = s*6364136223846793005 + 1442695040888963407
		return (float64(s>>11) + 0.5) / (1 << 53)
	}
	for i := range out {
		out[i] = std * math.Sqrt(-2*math.Log(next())) * math.Cos(2*math.Pi*next())
	}
	return out
}

func noiseSamples() []NoiseSample {
	return []NoiseSample{
		{Sampler: "ddim", Values: gauss(20000, 1.35, 1)},
		{Sampler: "edict", Values: gauss(20000, 1.08, 2)},
		{Sampler: "belm", Values: gauss(20000, 1.01, 3)},
	}
}

// mixture is a two-component Gaussian mixture density in the plane.
func mixture(x, y float64) float64 {
	g := func(mx, my float64) float64 { return math.Exp(-((x-mx)*(x-mx) + (y-my)*(y-my)) / (2 * 0.15)) }
	return g(-1, -0.5) + g(1, 0.8)
}

func trajectories() []Trajectory {
	// A path from a to b bending by c, n points.
	path := func(a, b Point, bend float64, n int) []Point {
		out := make([]Point, n)
		for i := range n {
			t := float64(i) / float64(n-1)
			out[i] = Point{a[0] + t*(b[0]-a[0]) - bend*math.Sin(math.Pi*t)*(b[1]-a[1]), a[1] + t*(b[1]-a[1]) + bend*math.Sin(math.Pi*t)*(b[0]-a[0])}
		}
		return out
	}
	x0a, x0b := Point{-1, -0.5}, Point{1, 0.8}
	na, nb := Point{0.6, 1.9}, Point{-1.7, -0.4}
	return []Trajectory{
		{Sampler: "ddim", Inversion: path(x0a, na, 0.15, 20), Sampling: path(Point{0.75, 1.95}, Point{-0.55, -0.75}, -0.15, 20)},
		{Sampler: "belm", Inversion: path(x0b, nb, 0.2, 20), Sampling: path(nb, x0b, -0.2, 20)},
		{Sampler: "ddim", Inversion: path(x0b, Point{-1.2, -1.5}, 0.1, 20), Sampling: path(Point{-1.05, -1.6}, Point{0.7, 0.45}, -0.1, 20)},
	}
}

func dataPoints() []Point {
	xs, ys := gauss(300, 0.38, 7), gauss(300, 0.38, 8)
	pts := make([]Point, len(xs))
	for i := range xs {
		c := Point{-1, -0.5}
		if i%2 == 0 {
			c = Point{1, 0.8}
		}
		pts[i] = Point{c[0] + xs[i], c[1] + ys[i]}
	}
	return pts
}

// oBELMCoefficients follows Eq. 18 with a made-up σ̄ grid for N = 10.
func oBELMCoefficients() Coefficients {
	sb := []float64{0, 0.03, 0.37, 0.8, 1.4, 2.2, 3.3, 4.9, 7.1, 10.3, 14.6}
	var c Coefficients
	for i := 9; i >= 1; i-- {
		hi, hn := sb[i]-sb[i-1], sb[i+1]-sb[i]
		alpha := func(s float64) float64 { return 1 / math.Sqrt(1+s*s) }
		c.Step = append(c.Step, float64(i))
		c.A = append(c.A, hi*hi/(hn*hn)*alpha(sb[i-1])/alpha(sb[i+1]))
		c.B = append(c.B, (hn*hn-hi*hi)/(hn*hn)*alpha(sb[i-1])/alpha(sb[i]))
		c.C = append(c.C, -hi*(hi+hn)/hn*alpha(sb[i-1]))
	}
	return c
}

// testBatch is 6 RGB images of 16×16 in NCHW, values in [-1, 1]: image b
// has red = x ramp, green = y ramp, blue = b/5 (so every pixel is known).
func testBatch() Images {
	const n, c, h, w = 6, 3, 16, 16
	d := make([]float64, n*c*h*w)
	for b := range n {
		for y := range h {
			for x := range w {
				v := [3]float64{2*float64(x)/(w-1) - 1, 2*float64(y)/(h-1) - 1, 2*float64(b)/5 - 1}
				for k := range c {
					d[((b*c+k)*h+y)*w+x] = v[k]
				}
			}
		}
	}
	return Images{Data: d, Shape: [4]int{n, c, h, w}, Layout: NCHW, Range: MinusOneOne}
}
