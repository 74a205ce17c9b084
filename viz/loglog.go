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
	minPos, maxPos, err := f.positiveRange()
	if err != nil {
		return nil, err
	}
	floor := f.floor
	if floor <= 0 { // a decade below the smallest positive value
		floor = 1e-16
		if !math.IsInf(minPos, 1) {
			floor = math.Pow10(int(math.Floor(math.Log10(minPos))) - 1)
		}
	}
	if math.IsInf(minPos, 1) {
		minPos, maxPos = floor, floor
	}
	d := &logLogDrawing{p: newPlot(f.title, f.xLabel, f.yLabel), lfloor: math.Log10(floor), lxmin: math.Inf(1), lxmax: math.Inf(-1)}
	setLog(&d.p.X)
	setLog(&d.p.Y)
	d.leg = newSideLegend(d.p)
	for _, s := range f.series {
		if err := d.addSeries(s, f.slopes); err != nil {
			return nil, err
		}
	}
	if math.IsInf(d.lxmin, 1) {
		return nil, errors.New("viz: no point with a positive, finite x")
	}
	if d.anyFloor {
		if err := d.addFloorLine(floor); err != nil {
			return nil, err
		}
	}
	if err := d.addRefLines(f.refSlopes, math.Log10(minPos), math.Log10(maxPos)); err != nil {
		return nil, err
	}
	d.p.Add(d.leg)
	fitLogAxes(d.p)
	return d.p, nil
}

// positiveRange is the smallest and largest positive, finite value of the series (+Inf,
// −Inf when there is none): they decide the floor and the vertical extent of the
// reference lines.
func (f logLogFigure) positiveRange() (minPos, maxPos float64, err error) {
	minPos, maxPos = math.Inf(1), math.Inf(-1)
	for _, s := range f.series {
		if len(s.X) != len(s.Y) {
			return 0, 0, fmt.Errorf("viz: curve %q has %d x values and %d y values", s.label(), len(s.X), len(s.Y))
		}
		for i, y := range s.Y {
			if validX(s.X[i]) && y > 0 && !math.IsInf(y, 1) {
				minPos, maxPos = math.Min(minPos, y), math.Max(maxPos, y)
			}
		}
	}
	return minPos, maxPos, nil
}

// logLogDrawing is a log-log figure being drawn, in log10 units.
type logLogDrawing struct {
	p            *plot.Plot
	leg          *sideLegend
	lfloor       float64   // log10 of the floor zeros are drawn at
	lxmin, lxmax float64   // the horizontal extent of the points drawn
	anchors      []float64 // log y at each curve's largest x, for the reference lines
	anyFloor     bool      // some point is drawn at the floor
}

// logPoints are the points of s in log10 units: all of them (the line), those above the
// floor and those at it (the markers); diverged says s has a non-finite value.
func (d *logLogDrawing) logPoints(s series) (pts, above, atFloor plotter.XYs, diverged bool) {
	for i, x := range s.X {
		y := s.Y[i]
		if !validX(x) {
			continue
		}
		q := plotter.XY{X: math.Log10(x), Y: d.lfloor}
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
		d.lxmin, d.lxmax = math.Min(d.lxmin, q.X), math.Max(d.lxmax, q.X)
	}
	return pts, above, atFloor, diverged
}

// seriesLabel is the legend text of s: its label, its slope when slopes is set and the
// slope means something (a fitted slope means nothing for a curve that diverges or has
// exact zeros; a slope the caller gives is always shown), and "(diverged)".
func seriesLabel(s series, slopes, diverged, hasZeros bool) string {
	label := s.label() + s.suffix
	if slopes {
		slope, ok := s.Slope, true
		if slope == 0 {
			slope, ok = FitLogLogSlope(s.X, s.Y)
			ok = ok && !diverged && !hasZeros
		}
		if ok && !math.IsNaN(slope) {
			label += "  (slope " + minus(strconv.FormatFloat(slope, 'f', 2, 64)) + ")"
		}
	}
	if diverged {
		label += "  (diverged)"
	}
	return label
}

// addSeries draws one curve: its line, its markers above the floor and its ▼ markers at
// the floor, with its legend entry.
func (d *logLogDrawing) addSeries(s series, slopes bool) error {
	pts, above, atFloor, diverged := d.logPoints(s)
	label := seriesLabel(s, slopes, diverged, len(atFloor) > 0)
	if len(pts) == 0 {
		d.leg.Add(label + "  (no data)")
		return nil
	}
	st := styleOf(s.Sampler)
	sortXY(pts)
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Color = st.color
	line.Width = vg.Points(1.6)
	if s.dashed {
		line.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	d.p.Add(line)
	thumbs := []plot.Thumbnailer{line}
	if len(above) > 0 {
		sc, err := plotter.NewScatter(above)
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(3), Shape: st.glyph}
		if s.dashed { // hollow markers: visible even where the curve lies on a solid one
			sc.GlyphStyle.Shape, sc.GlyphStyle.Radius = hollowGlyph{st.glyph}, vg.Points(3.6)
		}
		d.p.Add(sc)
		thumbs = append(thumbs, sc)
		d.anchors = append(d.anchors, lastY(above))
	}
	if len(atFloor) > 0 {
		d.anyFloor = true
		sc, err := plotter.NewScatter(atFloor)
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(3.5), Shape: floorGlyph{}}
		d.p.Add(sc)
		if len(above) == 0 {
			thumbs = append(thumbs, sc)
		}
	}
	d.leg.Add(label, thumbs...)
	return nil
}

// addFloorLine draws the dotted line of the floor, explained in the legend.
func (d *logLogDrawing) addFloorLine(floor float64) error {
	fl, err := plotter.NewLine(plotter.XYs{{X: d.lxmin, Y: d.lfloor}, {X: d.lxmax, Y: d.lfloor}})
	if err != nil {
		return err
	}
	fl.Color = refColor
	fl.Width = vg.Points(1)
	fl.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
	d.p.Add(fl)
	mark := &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: refColor, Radius: vg.Points(3.5), Shape: floorGlyph{}}}
	d.leg.Add("0 (exact), drawn at "+formatFloor(floor), fl, mark)
	return nil
}

// addRefLines draws reference lines of the given slopes through the mean height of the
// curves at their right end, clipped to [ylo, yhi] (log10 of the data's positive range)
// so that they never stretch the axes.
func (d *logLogDrawing) addRefLines(slopes []float64, ylo, yhi float64) error {
	if len(d.anchors) == 0 || d.lxmax <= d.lxmin {
		return nil
	}
	var ly0 float64
	for _, a := range d.anchors {
		ly0 += a
	}
	ly0 /= float64(len(d.anchors))
	for k, slope := range slopes {
		a, b := d.lxmin, d.lxmax
		if slope != 0 { // keep ly0 + slope·(x − lxmax) inside [ylo, yhi]
			l1, l2 := d.lxmax+(ylo-ly0)/slope, d.lxmax+(yhi-ly0)/slope
			a, b = math.Max(a, math.Min(l1, l2)), math.Min(b, math.Max(l1, l2))
		}
		if b <= a {
			continue
		}
		ref, err := plotter.NewLine(plotter.XYs{{X: a, Y: ly0 + slope*(a-d.lxmax)}, {X: b, Y: ly0 + slope*(b-d.lxmax)}})
		if err != nil {
			return err
		}
		ref.Color = refColor
		ref.Width = vg.Points(1.2)
		ref.Dashes = refDashes[k%len(refDashes)]
		d.p.Add(ref)
		d.leg.Add("slope "+minus(strconv.FormatFloat(slope, 'g', 4, 64))+" (reference)", ref)
	}
	return nil
}

// fitLogAxes shows at least a decade on each axis and pads both.
func fitLogAxes(p *plot.Plot) {
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
