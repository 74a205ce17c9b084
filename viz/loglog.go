package viz

import (
	"github.com/belmlab/workbench/belm"

	"errors"
	"fmt"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Curve is one sampler's line in a log-log figure: Y against X.
type Curve struct {
	// Sampler is the sampler's name ("ddim", "edict", "bdia", "belm",
	// "belm3", …): it picks the colour and marker, and the label when Label
	// is empty.
	Sampler string
	// Label replaces SamplerLabel(Sampler) in the legend.
	Label string
	// X and Y have the same length. Points with X ≤ 0 or a non-finite value
	// are left out (a non-finite Y marks the curve "diverged" in the
	// legend); Y ≤ 0 is drawn at the figure's floor.
	X, Y []float64
	// Slope is the slope printed in the legend. 0: fitted with
	// FitLogLogSlope; NaN: no slope shown.
	Slope float64
}

func (c Curve) label() string {
	if c.Label != "" {
		return c.Label
	}
	return SamplerLabel(c.Sampler)
}

// FitLogLogSlope fits log y = slope·log x + b by least squares, ignoring points with a
// non-positive or infinite coordinate. It is belm.FitLogLogSlope, the one used for the
// fitted orders, so a legend shows exactly the number the study reports.
func FitLogLogSlope(x, y []float64) (slope float64, ok bool) { return belm.FitLogLogSlope(x, y) }

// series is a curve with the way a figure draws it.
type series struct {
	Curve
	dashed bool   // dashed line and hollow markers
	suffix string // appended to the legend label, e.g. " float32"
}

// logLogFigure is the one builder behind every log-log figure.
type logLogFigure struct {
	title, xLabel, yLabel string
	series                []series
	slopes                bool      // print slopes in the legend
	refSlopes             []float64 // dashed reference lines
	floor                 float64   // 0: automatic
}

var refDashes = [][]vg.Length{{vg.Points(7), vg.Points(4)}, {vg.Points(2), vg.Points(3)}, {vg.Points(9), vg.Points(3), vg.Points(2), vg.Points(3)}}

func (f logLogFigure) plot() (*plot.Plot, error) {
	if len(f.series) == 0 {
		return nil, errors.New("viz: no curves to plot")
	}
	// The smallest and largest positive values decide the floor and the
	// vertical extent of the reference lines.
	minPos, maxPos := math.Inf(1), math.Inf(-1)
	for _, s := range f.series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("viz: curve %q has %d x values and %d y values", s.label(), len(s.X), len(s.Y))
		}
		for i, y := range s.Y {
			if validX(s.X[i]) && y > 0 && !math.IsInf(y, 1) {
				minPos, maxPos = math.Min(minPos, y), math.Max(maxPos, y)
			}
		}
	}
	floor := f.floor
	if floor <= 0 {
		floor = 1e-16
		if !math.IsInf(minPos, 1) {
			floor = math.Pow10(int(math.Floor(math.Log10(minPos))) - 1)
		}
	}
	if math.IsInf(minPos, 1) {
		minPos, maxPos = floor, floor
	}
	lfloor := math.Log10(floor)

	p := newPlot(f.title, f.xLabel, f.yLabel)
	setLog(&p.X)
	setLog(&p.Y)
	leg := newSideLegend(p)
	lxmin, lxmax := math.Inf(1), math.Inf(-1)
	var anchors []float64 // log y at each curve's largest x, for the reference lines
	anyFloor := false

	for _, s := range f.series {
		// Points in log10 units: all of them (the line), those above the
		// floor and those at it (the markers).
		var pts, above, atFloor plotter.XYs
		diverged := false
		for i, x := range s.X {
			y := s.Y[i]
			if !validX(x) {
				continue
			}
			q := plotter.XY{X: math.Log10(x), Y: lfloor}
			switch {
			case math.IsNaN(y) || math.IsInf(y, 0):
				diverged = true
				continue
			case y <= 0:
				atFloor = append(atFloor, q)
			default:
				q.Y = math.Log10(y)
				above = append(above, q)
			}
			pts = append(pts, q)
			lxmin, lxmax = math.Min(lxmin, q.X), math.Max(lxmax, q.X)
		}
		st := styleOf(s.Sampler)
		label := s.label() + s.suffix
		if f.slopes {
			// A fitted slope means nothing for a curve that diverges or
			// has exact zeros; a slope the caller gives is always shown.
			slope, ok := s.Slope, true
			if slope == 0 {
				slope, ok = FitLogLogSlope(s.X, s.Y)
				ok = ok && !diverged && len(atFloor) == 0
			}
			if ok && !math.IsNaN(slope) {
				label += "  (slope " + minus(strconv.FormatFloat(slope, 'f', 2, 64)) + ")"
			}
		}
		if diverged {
			label += "  (diverged)"
		}
		if len(pts) == 0 {
			leg.Add(label + "  (no data)")
			continue
		}
		sortXY(pts)
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		line.Color = st.color
		line.Width = vg.Points(1.6)
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		p.Add(line)
		thumbs := []plot.Thumbnailer{line}
		if len(above) > 0 {
			sc, err := plotter.NewScatter(above)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(3), Shape: st.glyph}
			if s.dashed { // hollow markers: visible even where the curve lies on a solid one
				sc.GlyphStyle.Shape, sc.GlyphStyle.Radius = hollowGlyph{st.glyph}, vg.Points(3.6)
			}
			p.Add(sc)
			thumbs = append(thumbs, sc)
			anchors = append(anchors, lastY(above))
		}
		if len(atFloor) > 0 {
			anyFloor = true
			sc, err := plotter.NewScatter(atFloor)
			if err != nil {
				return nil, err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(3.5), Shape: floorGlyph{}}
			p.Add(sc)
			if len(above) == 0 {
				thumbs = append(thumbs, sc)
			}
		}
		leg.Add(label, thumbs...)
	}
	if math.IsInf(lxmin, 1) {
		return nil, errors.New("viz: no point with a positive, finite x")
	}

	if anyFloor {
		fl, err := plotter.NewLine(plotter.XYs{{X: lxmin, Y: lfloor}, {X: lxmax, Y: lfloor}})
		if err != nil {
			return nil, err
		}
		fl.Color = refColor
		fl.Width = vg.Points(1)
		fl.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		p.Add(fl)
		mark := &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: refColor, Radius: vg.Points(3.5), Shape: floorGlyph{}}}
		leg.Add("0 (exact), drawn at "+formatFloor(floor), fl, mark)
	}

	// Reference lines through the mean height of the curves at their right
	// end, clipped to the vertical range of the data so that they never
	// stretch the axes.
	if len(anchors) > 0 && lxmax > lxmin {
		var ly0 float64
		for _, a := range anchors {
			ly0 += a
		}
		ly0 /= float64(len(anchors))
		ylo, yhi := math.Log10(minPos), math.Log10(maxPos)
		for k, slope := range f.refSlopes {
			a, b := lxmin, lxmax
			if slope != 0 { // keep ly0 + slope·(x − lxmax) inside [ylo, yhi]
				l1, l2 := lxmax+(ylo-ly0)/slope, lxmax+(yhi-ly0)/slope
				a, b = math.Max(a, math.Min(l1, l2)), math.Min(b, math.Max(l1, l2))
			}
			if b <= a {
				continue
			}
			ref, err := plotter.NewLine(plotter.XYs{{X: a, Y: ly0 + slope*(a-lxmax)}, {X: b, Y: ly0 + slope*(b-lxmax)}})
			if err != nil {
				return nil, err
			}
			ref.Color = refColor
			ref.Width = vg.Points(1.2)
			ref.Dashes = refDashes[k%len(refDashes)]
			p.Add(ref)
			leg.Add("slope "+minus(strconv.FormatFloat(slope, 'g', 4, 64))+" (reference)", ref)
		}
	}

	p.Add(leg)
	if p.X.Max-p.X.Min < 0.3 { // one x value, or nearly: show a decade around it
		c := (p.X.Max + p.X.Min) / 2
		p.X.Min, p.X.Max = c-0.5, c+0.5
	}
	if p.Y.Max-p.Y.Min < 1 {
		c := (p.Y.Max + p.Y.Min) / 2
		p.Y.Min, p.Y.Max = c-0.5, c+0.5
	}
	padRange(&p.X)
	padRange(&p.Y)
	return p, nil
}

func validX(x float64) bool { return x > 0 && !math.IsInf(x, 1) }

func lastY(pts plotter.XYs) float64 {
	best := pts[0]
	for _, q := range pts {
		if q.X > best.X {
			best = q
		}
	}
	return best.Y
}

func sortXY(pts plotter.XYs) {
	for i := 1; i < len(pts); i++ { // insertion sort: curves are short and usually sorted
		for j := i; j > 0 && pts[j].X < pts[j-1].X; j-- {
			pts[j], pts[j-1] = pts[j-1], pts[j]
		}
	}
}

func formatFloor(v float64) string {
	m, e := mantExp(v)
	if math.Abs(float64(m)*math.Pow10(e)-v) <= 1e-9*v {
		return formatPow(m, e)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
