package viz

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/belmlab/workbench/belm"
)

// ErrorVsSteps is figure 1: reconstruction (or sampling) error against the
// number of steps N, log-log, one line per sampler with markers and the
// fitted slope in the legend. Exact zeros are drawn at a visible floor with
// a hollow ▼ (see Options.Floor). Set Options.YLabel for a sampling error.
func ErrorVsSteps(curves []Curve, o Options) (*plot.Plot, error) {
	t, x, y := o.or("Reconstruction error vs number of steps", "N (number of steps)", "max |x̂₀ − x₀| / data scale")
	return logLogFigure{title: t, xLabel: x, yLabel: y, series: plain(curves), slopes: true,
		refSlopes: o.RefSlopes, floor: o.Floor}.plot()
}

// LTEOrder is figure 2, the picture behind Props. 3 and 4 of the paper:
// the local truncation error of one step against the step size h, log-log,
// with dashed reference lines of slope 2 and 3 (change them with
// Options.RefSlopes) and the fitted slopes in the legend. A method of order p
// has slope p+1: DDIM and BDIA 2, O-BELM 3.
func LTEOrder(curves []Curve, o Options) (*plot.Plot, error) {
	t, x, y := o.or("Local truncation error vs step size (slope = order + 1)", "h (step size in σ̄)", "local truncation error of one step")
	ref := o.RefSlopes
	if ref == nil {
		ref = []float64{2, 3}
	}
	return logLogFigure{title: t, xLabel: x, yLabel: y, series: plain(curves), slopes: true,
		refSlopes: ref, floor: o.Floor}.plot()
}

// Precision is figure 3: the round-trip (inversion then reconstruction)
// error against N of each sampler computed in float64 (solid line, filled
// markers) and in float32 (dashed line, hollow markers, same colour),
// log-log. Where the two coincide (DDIM, whose error is its inexactness)
// the hollow markers show the float32 curve on the float64 one.
func Precision(float64Curves, float32Curves []Curve, o Options) (*plot.Plot, error) {
	t, x, y := o.or("Round-trip error in float64 (solid) and float32 (dashed, hollow markers)", "N (number of steps)", "max |x̂₀ − x₀| / data scale")
	var s []series
	for _, c := range float64Curves {
		s = append(s, series{Curve: c, suffix: " float64"})
	}
	for _, c := range float32Curves {
		s = append(s, series{Curve: c, suffix: " float32", dashed: true})
	}
	return logLogFigure{title: t, xLabel: x, yLabel: y, series: s, refSlopes: o.RefSlopes, floor: o.Floor}.plot()
}

func plain(curves []Curve) []series {
	s := make([]series, len(curves))
	for i, c := range curves {
		s[i] = series{Curve: c}
	}
	return s
}

// NoiseSample is the inverted noise x_N of one sampler, all coordinates of
// all inverted images flattened.
type NoiseSample struct {
	Sampler, Label string
	Values         []float64
}

// NoiseHistogram is figure 4: the histogram (as a density) of the inverted
// noise of each sampler against the N(0,1) density, with each sampler's
// standard deviation in the legend: an inversion that over-disperses has
// std > 1 and heavier tails. Non-finite values are left out.
func NoiseHistogram(samples []NoiseSample, o Options) (*plot.Plot, error) {
	if len(samples) == 0 {
		return nil, errors.New("viz: no samples to plot")
	}
	t, x, y := o.or("Inverted noise x_N against N(0,1)", "value of one coordinate of the inverted x_N", "density")
	p := newPlot(t, x, y)
	leg := newSideLegend(p)
	finiteVals := make([][]float64, len(samples))
	stds := make([]float64, len(samples))
	r := 4.0 // the histogram covers [-r, r]: ±4 and the bulk of every sampler
	for i, s := range samples {
		finiteVals[i] = finiteOnly(s.Values)
		if len(finiteVals[i]) > 0 {
			var mean float64
			mean, stds[i] = belm.MeanStd(finiteVals[i])
			r = math.Max(r, math.Min(math.Abs(mean)+4*stds[i], 20))
		}
	}
	for i, s := range samples {
		label := s.Label
		if label == "" {
			label = SamplerLabel(s.Sampler)
		}
		if len(finiteVals[i]) == 0 {
			leg.Add(label + "  (no finite values)")
			continue
		}
		line, err := plotter.NewLine(densitySteps(finiteVals[i], r, 60))
		if err != nil {
			return nil, err
		}
		line.StepStyle = plotter.PostStep
		line.Color = SamplerColor(s.Sampler)
		line.Width = vg.Points(1.6)
		p.Add(line)
		leg.Add(fmt.Sprintf("%s  (std %.3f)", label, stds[i]), line)
	}
	normal := plotter.NewFunction(func(x float64) float64 { return math.Exp(-x*x/2) / math.Sqrt(2*math.Pi) })
	normal.Color = color.Black
	normal.Width = vg.Points(1.2)
	normal.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	normal.Samples = 200
	p.Add(normal)
	leg.Add("N(0,1)  (std 1)", normal)
	p.Add(leg)
	p.X.Min, p.X.Max = -r, r
	p.Y.Min = 0
	return p, nil
}

// finiteOnly is v without its NaN and ±Inf values.
func finiteOnly(v []float64) []float64 {
	out := make([]float64, 0, len(v))
	for _, x := range v {
		if finite(x) {
			out = append(out, x)
		}
	}
	return out
}

// densitySteps is the histogram of vals over [−r, r] in bins equal bins, as a density
// (counts / (len(vals)·width)): bins+1 points for a post-step line, the last repeating
// the last bin. Values outside [−r, r) are counted in no bin.
func densitySteps(vals []float64, r float64, bins int) plotter.XYs {
	w := 2 * r / float64(bins)
	counts := make([]float64, bins)
	for _, v := range vals {
		if k := int(math.Floor((v + r) / w)); k >= 0 && k < bins {
			counts[k]++
		}
	}
	pts := make(plotter.XYs, bins+1)
	for k := range pts {
		pts[k].X = -r + float64(k)*w
		pts[k].Y = counts[min(k, bins-1)] / (float64(len(vals)) * w)
	}
	return pts
}

// Point is a point of the plane (for 2-D data).
type Point = [2]float64

// Trajectory is the path of one sampler for 2-D data: the inversion of a
// data point x₀ to noise, and the sampling path from that noise back to the
// reconstruction x̂₀. An exact inversion ends where it started; DDIM does not.
type Trajectory struct {
	Sampler, Label string
	Inversion      []Point // x₀ → x_N, drawn dashed; starts at the data point
	Sampling       []Point // x_N → x̂₀, drawn solid; ends at the reconstruction
}

// Density is the data the paths are drawn over: sample points (faint dots)
// or a density function (grey shades), or both.
type Density struct {
	Points []Point
	Func   func(x, y float64) float64
}

// Trajectories is figure 6: the sampling and inversion paths of each sampler
// for 2-D data, drawn over the data density. Each data point x₀ is a black
// ring, each reconstruction x̂₀ a cross in the sampler's colour: when they do
// not coincide the sampler's inversion is not exact.
func Trajectories(trajs []Trajectory, d Density, o Options) (*plot.Plot, error) {
	if len(trajs) == 0 {
		return nil, errors.New("viz: no trajectories to plot")
	}
	t, x, y := o.or("Sampling and inversion paths over the data density", "x (first coordinate)", "y (second coordinate)")
	p := newPlot(t, x, y)
	leg := newSideLegend(p)
	xmin, ymin, xmax, ymax, err := trajectoryExtent(trajs, d.Points)
	if err != nil {
		return nil, err
	}
	if d.Func != nil {
		p.Add(plotter.NewImage(densityImage(d.Func, xmin, ymin, xmax, ymax), xmin, ymin, xmax, ymax))
	}
	if len(d.Points) > 0 {
		sc, err := plotter.NewScatter(xys(d.Points))
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: color.Gray{Y: 175}, Radius: vg.Points(1.1), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		leg.Add("data samples", sc)
	}
	seen := map[string]bool{}
	for _, tr := range trajs {
		if err := addTrajectory(p, tr); err != nil {
			return nil, err
		}
		label := tr.Label
		if label == "" {
			label = SamplerLabel(tr.Sampler)
		}
		if !seen[label] {
			seen[label] = true
			leg.Add(label, &plotter.Line{LineStyle: draw.LineStyle{Color: SamplerColor(tr.Sampler), Width: vg.Points(1.5)}})
		}
	}
	solid := &plotter.Line{LineStyle: draw.LineStyle{Color: refColor, Width: vg.Points(1.5)}}
	dashed := &plotter.Line{LineStyle: draw.LineStyle{Color: refColor, Width: vg.Points(1.5), Dashes: pathDashes}}
	leg.Add("inversion x₀ → noise", dashed)
	leg.Add("sampling noise → x̂₀", solid)
	leg.Add("data point x₀", &plotter.Scatter{GlyphStyle: dataPointGlyph})
	leg.Add("reconstruction x̂₀", &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: refColor, Radius: vg.Points(4.5), Shape: crossGlyph{}}})
	p.Add(leg)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
	return p, nil
}

// pathDashes dash the inversion paths; dataPointGlyph rings each data point x₀.
var (
	pathDashes     = []vg.Length{vg.Points(5), vg.Points(3)}
	dataPointGlyph = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4.5), Shape: ringGlyph{}}
)

// trajectoryExtent is the rectangle holding every finite point of the paths and the data
// points, with an 8% margin; an error when there is no finite point.
func trajectoryExtent(trajs []Trajectory, data []Point) (xmin, ymin, xmax, ymax float64, err error) {
	xmin, ymin, xmax, ymax = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	grow := func(pts []Point) {
		for _, q := range pts {
			if !finite(q[0]) || !finite(q[1]) {
				continue
			}
			xmin, xmax = math.Min(xmin, q[0]), math.Max(xmax, q[0])
			ymin, ymax = math.Min(ymin, q[1]), math.Max(ymax, q[1])
		}
	}
	for _, tr := range trajs {
		grow(tr.Inversion)
		grow(tr.Sampling)
	}
	grow(data)
	if math.IsInf(xmin, 1) {
		return 0, 0, 0, 0, errors.New("viz: no finite point in the trajectories")
	}
	mx, my := 0.08*(xmax-xmin)+1e-3, 0.08*(ymax-ymin)+1e-3
	return xmin - mx, ymin - my, xmax + mx, ymax + my, nil
}

// addTrajectory draws one path: the inversion dashed and the sampling solid in the
// sampler's colour, a cross at the reconstruction x̂₀ and a ring at the data point x₀.
func addTrajectory(p *plot.Plot, tr Trajectory) error {
	col := SamplerColor(tr.Sampler)
	for k, path := range [][]Point{tr.Inversion, tr.Sampling} {
		pts := xys(path)
		if len(pts) < 2 {
			continue
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color, line.Width = col, vg.Points(1.5)
		if k == 0 {
			line.Dashes = pathDashes
		}
		p.Add(line)
	}
	if pts := xys(tr.Sampling); len(pts) > 0 {
		sc, err := plotter.NewScatter(pts[len(pts)-1:])
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4.5), Shape: crossGlyph{}}
		p.Add(sc)
	}
	if pts := xys(tr.Inversion); len(pts) > 0 {
		sc, err := plotter.NewScatter(pts[:1])
		if err != nil {
			return err
		}
		sc.GlyphStyle = dataPointGlyph
		p.Add(sc)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// xys converts points, leaving out non-finite ones.
func xys(pts []Point) plotter.XYs {
	out := make(plotter.XYs, 0, len(pts))
	for _, q := range pts {
		if finite(q[0]) && finite(q[1]) {
			out = append(out, plotter.XY{X: q[0], Y: q[1]})
		}
	}
	return out
}

// densityImage rasterises f over the rectangle as shades from white (0) to
// a light blue-grey (the maximum), so paths drawn over it stay visible.
func densityImage(f func(x, y float64) float64, xmin, ymin, xmax, ymax float64) image.Image {
	const n = 200
	vals := make([]float64, n*n)
	peak := 0.0
	for j := range n {
		for i := range n {
			v := f(xmin+(float64(i)+0.5)*(xmax-xmin)/n, ymax-(float64(j)+0.5)*(ymax-ymin)/n)
			if !(v > 0) || math.IsInf(v, 0) {
				v = 0
			}
			vals[j*n+i] = v
			peak = math.Max(peak, v)
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, n, n))
	for k, v := range vals {
		s := 0.0
		if peak > 0 {
			s = math.Pow(v/peak, 0.6)
		}
		shade := func(lo float64) uint8 { return uint8(math.Round(255 - s*(255-lo))) }
		img.Pix[4*k], img.Pix[4*k+1], img.Pix[4*k+2], img.Pix[4*k+3] = shade(150), shade(160), shade(185), 255
	}
	return img
}

// Coefficients are the O-BELM coefficients of each step, written (as in the
// paper's Eq. 18) x_{i−1} = A·x_{i+1} + B·x_i + C·ε_θ(x_i, t_i).
type Coefficients struct {
	Step    []float64 // the horizontal position of each step: i, t_i or σ̄_i
	A, B, C []float64 // coefficients of x_{i+1}, x_i and ε
}

// CoefficientPlot is figure 7: the O-BELM coefficients A, B, C (of x_{i+1},
// x_i and ε) across the steps of a schedule, with a line at zero.
func CoefficientPlot(c Coefficients, o Options) (*plot.Plot, error) {
	n := len(c.Step)
	if n == 0 || len(c.A) != n || len(c.B) != n || len(c.C) != n {
		return nil, fmt.Errorf("viz: coefficients need equal, non-zero lengths (steps %d, A %d, B %d, C %d)", n, len(c.A), len(c.B), len(c.C))
	}
	t, x, y := o.or("O-BELM coefficients:  x_{i−1} = A·x_{i+1} + B·x_i + C·ε", "step i", "coefficient")
	p := newPlot(t, x, y)
	leg := newSideLegend(p)
	zero, err := plotter.NewLine(plotter.XYs{{X: minOf(c.Step), Y: 0}, {X: maxOf(c.Step), Y: 0}})
	if err != nil {
		return nil, err
	}
	zero.Color, zero.Width = refColor, vg.Points(0.8)
	p.Add(zero)
	for _, s := range []struct {
		label string
		ys    []float64
		color color.RGBA
		glyph draw.GlyphDrawer
		dash  bool
	}{
		{"A  (of x_{i+1})", c.A, color.RGBA{0x1B, 0x7E, 0x8A, 0xFF}, draw.CircleGlyph{}, false},
		{"B  (of x_i)", c.B, color.RGBA{0x39, 0x3B, 0x79, 0xFF}, draw.BoxGlyph{}, false},
		{"C  (of ε)", c.C, color.RGBA{0xB2, 0x18, 0x2B, 0xFF}, draw.PyramidGlyph{}, true},
	} {
		pts := make(plotter.XYs, 0, n)
		for i, v := range s.ys {
			if finite(v) && finite(c.Step[i]) {
				pts = append(pts, plotter.XY{X: c.Step[i], Y: v})
			}
		}
		line, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		line.Color, line.Width = s.color, vg.Points(1.6)
		if s.dash {
			line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: s.color, Radius: vg.Points(2.8), Shape: s.glyph}
		p.Add(line, sc)
		leg.Add(s.label, line, sc)
	}
	p.Add(leg)
	padRange(&p.X)
	padRange(&p.Y)
	if allIntegers(c.Step) && p.X.Max-p.X.Min <= 25 {
		p.X.Tick.Marker = integerTicks{}
	}
	return p, nil
}

func allIntegers(v []float64) bool {
	for _, x := range v {
		if x != math.Trunc(x) {
			return false
		}
	}
	return true
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		if finite(x) {
			m = math.Min(m, x)
		}
	}
	return m
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		if finite(x) {
			m = math.Max(m, x)
		}
	}
	return m
}
