package viz

import (
	"image/color"
	"math"
	"strconv"
	"strings"
	"unicode"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Options adjusts a figure. The zero value gives each figure its defaults.
type Options struct {
	// Title, XLabel and YLabel replace the figure's default texts when not empty.
	Title, XLabel, YLabel string

	// Floor is where values ≤ 0 are drawn on a log axis (an exact inversion
	// has error 0, and a log axis cannot show 0). Zero: one decade below the
	// smallest positive value (1e-16 when there is none). Points drawn at the
	// floor get a hollow ▼ marker and the legend says so.
	Floor float64

	// RefSlopes draws a dashed grey reference line of each slope on log-log
	// figures. nil: the figure's default (LTEOrder: 2 and 3, others: none);
	// an empty non-nil slice: none.
	RefSlopes []float64
}

func (o Options) or(title, x, y string) (string, string, string) {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return pick(o.Title, title), pick(o.XLabel, x), pick(o.YLabel, y)
}

// Text styling shared by all figures: Liberation Sans (built into gonum/plot)
// with a handler that places combining accents (σ̄, x̂) over their letter in
// raster output.
var (
	sansFont    = font.Font{Typeface: "Liberation", Variant: "Sans"}
	textHandler = markHandler{text.Plain{Fonts: font.DefaultCache}}
	gridColor   = color.Gray{Y: 225}
	refColor    = color.Gray{Y: 110}
)

// newPlot returns a plot with the package's fonts, labels and a light grid.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.TextHandler = textHandler
	style := func(s *text.Style, size vg.Length) {
		s.Font = font.From(sansFont, size)
		s.Handler = textHandler
	}
	style(&p.Title.TextStyle, 13)
	p.Title.Text = title
	p.Title.Padding = vg.Points(8)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		style(&a.Label.TextStyle, 12)
		style(&a.Tick.Label, 10)
		a.Label.Padding = vg.Points(4)
	}
	style(&p.Legend.TextStyle, 10)
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridColor, gridColor
	p.Add(g)
	return p
}

// Log-log figures plot log10 of their values on linear axes, labelled as
// log axes by logTicks. (gonum/plot's own LogScale panics on values ≤ 0 and
// places the axis labels' padding boxes at the arithmetic mean of the
// range, which on a log axis squeezes the data area.)
func setLog(a *plot.Axis) {
	a.Tick.Marker = logTicks{}
}

// padRange widens an axis range by 5% on each side so that markers at the
// extremes are not cut by the axes.
func padRange(a *plot.Axis) {
	d := 0.05 * (a.Max - a.Min)
	if d == 0 {
		d = 0.5
	}
	a.Min, a.Max = a.Min-d, a.Max+d
}

// logTicks marks an axis that shows log10 of the values: ticks at powers
// of ten (every k-th decade when the range is wide), also at 2 and 5 when
// it spans few decades, at every integer multiple when it spans less than
// one. Labels are the values, as exact short decimals ("0.01", "200") or
// "1e-16" for tiny and huge ones.
type logTicks struct{}

func (logTicks) Ticks(lmin, lmax float64) []plot.Tick {
	if !(lmax > lmin) || math.IsInf(lmin, 0) || math.IsInf(lmax, 0) {
		return nil
	}
	lo, hi := int(math.Floor(lmin)), int(math.Ceil(lmax))
	decades := max(1, hi-lo)
	every := (decades + 7) / 8 // at most ~9 labelled decades
	inRange := func(v float64) bool { return v >= lmin-1e-9 && v <= lmax+1e-9 }
	var ticks []plot.Tick
	labelled := 0
	add := func(m, e int, label bool) {
		t := plot.Tick{Value: float64(e) + math.Log10(float64(m))}
		if !inRange(t.Value) {
			return
		}
		if label {
			t.Label = formatPow(m, e)
			labelled++
		}
		ticks = append(ticks, t)
	}
	for e := lo; e <= hi; e++ {
		add(1, e, ((e%every)+every)%every == 0)
		if e == hi || decades > 6 {
			continue
		}
		for m := 2; m <= 9; m++ {
			add(m, e, decades <= 2 && (m == 2 || m == 5))
		}
	}
	if labelled < 2 { // a narrow range: label every tick
		for i := range ticks {
			m, e := mantExp(math.Pow(10, ticks[i].Value))
			ticks[i].Label = formatPow(m, e)
		}
	}
	// One style per axis: if a label needs an exponent, all get one.
	exp := false
	for _, t := range ticks {
		exp = exp || strings.Contains(t.Label, "e")
	}
	if exp {
		for i, t := range ticks {
			if t.Label != "" {
				m, e := mantExp(math.Pow(10, t.Value))
				ticks[i].Label = formatExp(m, e)
			}
		}
	}
	return ticks
}

// formatExp writes m·10^e as "1e−16", "2e4", or "1" for e = 0.
func formatExp(m, e int) string {
	if e == 0 {
		return strconv.Itoa(m)
	}
	return strconv.Itoa(m) + "e" + minus(strconv.Itoa(e))
}

// minus replaces the ASCII hyphen of a formatted number by a true minus sign.
func minus(s string) string { return strings.ReplaceAll(s, "-", "−") }

// integerTicks labels every integer of a short axis (step numbers).
type integerTicks struct{}

func (integerTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for v := math.Ceil(min); v <= max; v++ {
		ticks = append(ticks, plot.Tick{Value: v, Label: minus(strconv.Itoa(int(v)))})
	}
	return ticks
}

func mantExp(v float64) (int, int) {
	e := int(math.Floor(math.Log10(v) + 1e-9))
	return int(math.Round(v / math.Pow10(e))), e
}

// formatPow writes m·10^e (1 ≤ m ≤ 9) exactly: "0.002", "50", "1e-16".
func formatPow(m, e int) string {
	ms := strconv.Itoa(m)
	switch {
	case e >= 0 && e <= 4:
		return ms + strings.Repeat("0", e)
	case e < 0 && e >= -3:
		return "0." + strings.Repeat("0", -e-1) + ms
	}
	return formatExp(m, e)
}

// sideLegend is a legend drawn to the right of the data area, outside it,
// so that it never hides data. It is a plotter whose glyph box makes the
// plot leave room for it.
type sideLegend struct {
	plot.Legend
}

const legendGap = vg.Length(10)

func newSideLegend(p *plot.Plot) *sideLegend {
	l := &sideLegend{Legend: plot.NewLegend()}
	l.TextStyle = p.Legend.TextStyle
	l.Left, l.Top = true, true
	l.ThumbnailWidth = vg.Points(22)
	l.Padding = vg.Points(2)
	return l
}

func (l *sideLegend) size() (w, h vg.Length) {
	r := l.Legend.Rectangle(draw.Canvas{})
	return r.Size().X, r.Size().Y
}

func (l *sideLegend) Plot(c draw.Canvas, _ *plot.Plot) {
	w, _ := l.size()
	l.Legend.Draw(draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: c.Max.X + legendGap, Y: c.Min.Y},
		Max: vg.Point{X: c.Max.X + legendGap + w, Y: c.Max.Y},
	}})
}

func (l *sideLegend) GlyphBoxes(*plot.Plot) []plot.GlyphBox {
	w, _ := l.size()
	if w == 0 {
		return nil
	}
	return []plot.GlyphBox{{X: 1, Y: 1, Rectangle: vg.Rectangle{
		Min: vg.Point{X: legendGap, Y: 0}, Max: vg.Point{X: 2*legendGap + w, Y: 0.1}, // a gap on the right too
	}}}
}

// markHandler is text.Plain that draws combining marks (the macron of σ̄,
// the hat of x̂) centred over the preceding letter. gonum/plot's raster
// text has no shaping, so without this a combining mark lands between two
// letters. SVG output is left alone: the viewer shapes it.
type markHandler struct{ text.Plain }

func (h markHandler) Draw(c vg.Canvas, txt string, sty text.Style, pt vg.Point) {
	if strings.IndexFunc(txt, isMark) >= 0 && !isSVG(c) {
		c = markCanvas{c}
	}
	h.Plain.Draw(c, txt, sty, pt)
}

func isMark(r rune) bool { return unicode.Is(unicode.Mn, r) }

func isSVG(c vg.Canvas) bool {
	for {
		switch v := c.(type) {
		case *draw.Canvas:
			c = v.Canvas
		case draw.Canvas:
			c = v.Canvas
		case *vgsvg.Canvas:
			return true
		default:
			return false
		}
	}
}

type markCanvas struct{ vg.Canvas }

func (m markCanvas) FillString(f font.Face, pt vg.Point, s string) {
	ff := f.FontFace(72) // 1 dot = 1 point
	defer ff.Close()
	centre := func(r rune) vg.Length {
		b, _, _ := ff.GlyphBounds(r)
		return vg.Length(float64(b.Min.X+b.Max.X) / 128) // 26.6 fixed point, halved
	}
	x := pt.X
	var run []rune
	base := rune(-1)
	flush := func() {
		if len(run) > 0 {
			m.Canvas.FillString(f, vg.Point{X: x, Y: pt.Y}, string(run))
			x += f.Width(string(run))
			run = run[:0]
		}
	}
	for _, r := range s {
		if !isMark(r) || base < 0 {
			run = append(run, r)
			base = r
			continue
		}
		// Draw up to the base letter, then the mark centred over it.
		flush()
		bx := x - f.Width(string(base))
		m.Canvas.FillString(f, vg.Point{X: bx + centre(base) - centre(r), Y: pt.Y}, string(r))
	}
	flush()
}
