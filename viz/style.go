package viz

import (
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/image/font/sfnt"
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
// the hat of x̂) centred over the preceding letter, and subscripts small and
// lowered. gonum/plot's raster text has no shaping, so without this a
// combining mark lands between two letters; SVG output is left to the
// viewer for marks. Subscripts are drawn by the handler in PNG and SVG alike
// (see segments): Liberation Sans lacks most subscript characters (₋ ₊ ₍ ₎ ₙ …),
// so a title reads xᵢ₋₁ whether it is written x_{i−1} or xᵢ₋₁.
type markHandler struct{ text.Plain }

// Subscripts are drawn at subScale of the font size, their baseline subDrop
// (of the font size) below the text's.
const (
	subScale = 0.7
	subDrop  = 0.2
)

// segment is a piece of a line of text: plain, or a subscript (its characters
// at full size: "i−1" for ᵢ₋₁).
type segment struct {
	text string
	sub  bool
}

// segments splits a line at its subscripts, written in a figure's texts as
//
//	x_{i−1}  TeX's braces: everything up to the closing brace (a hyphen becomes −)
//	x_i      TeX's single character: "_" after a character and before one letter or digit
//	         that ends a word (so scaled_linear and squaredcos_cap_v2 stay as they are)
//	xᵢ₋₁     Unicode subscript characters, except digits the face has (Liberation's ₀…₉,
//	         as in x̂₀, are left to the font; its ᵢ is not, as it sits higher than a drawn ₋₁)
//
// It returns nil when the line has none.
func segments(line string, face font.Face) []segment {
	rs := []rune(line)
	var segs []segment
	plain := 0 // start of the pending plain text
	found := false
	add := func(text string, sub bool) {
		if n := len(segs); n > 0 && segs[n-1].sub == sub {
			segs[n-1].text += text
			return
		}
		segs = append(segs, segment{text, sub})
	}
	flush := func(end int) {
		if end > plain {
			add(string(rs[plain:end]), false)
		}
	}
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	for i := 0; i < len(rs); {
		switch {
		case rs[i] == '_' && i > 0 && rs[i-1] != ' ' && i+1 < len(rs) && rs[i+1] == '{':
			end := slices.Index(rs[i+2:], '}')
			if end < 0 {
				i++
				continue
			}
			flush(i)
			add(strings.ReplaceAll(string(rs[i+2:i+2+end]), "-", "−"), true)
			i += 2 + end + 1
			plain, found = i, true
		case rs[i] == '_' && i > 0 && rs[i-1] != ' ' && i+1 < len(rs) && isWord(rs[i+1]) && (i+2 == len(rs) || !isWord(rs[i+2])):
			flush(i)
			add(string(rs[i+1]), true)
			i += 2
			plain, found = i, true
		case subscriptBase[rs[i]] != 0:
			j := i
			for j < len(rs) && subscriptBase[rs[j]] != 0 {
				j++
			}
			if digitsOnly(rs[i:j]) && hasGlyphs(face, rs[i:j]) {
				i = j
				continue
			}
			flush(i)
			base := make([]rune, j-i)
			for k, r := range rs[i:j] {
				base[k] = subscriptBase[r]
			}
			add(string(base), true)
			i = j
			plain, found = i, true
		default:
			i++
		}
	}
	if !found {
		return nil
	}
	flush(len(rs))
	return segs
}

func digitsOnly(rs []rune) bool {
	for _, r := range rs {
		if r < '₀' || r > '₉' {
			return false
		}
	}
	return true
}

// hasGlyphs reports whether face has a glyph for every rune of rs.
func hasGlyphs(face font.Face, rs []rune) bool {
	if face.Face == nil {
		return false
	}
	var buf sfnt.Buffer
	for _, r := range rs {
		if i, err := face.Face.GlyphIndex(&buf, r); err != nil || i == 0 {
			return false
		}
	}
	return true
}

// subscriptBase maps Unicode's subscript characters to the characters they lower.
var subscriptBase = map[rune]rune{
	'₀': '0', '₁': '1', '₂': '2', '₃': '3', '₄': '4', '₅': '5', '₆': '6', '₇': '7', '₈': '8', '₉': '9',
	'₊': '+', '₋': '−', '₌': '=', '₍': '(', '₎': ')',
	'ₐ': 'a', 'ₑ': 'e', 'ₒ': 'o', 'ₓ': 'x', 'ₔ': 'ə', 'ₕ': 'h', 'ₖ': 'k', 'ₗ': 'l', 'ₘ': 'm', 'ₙ': 'n',
	'ₚ': 'p', 'ₛ': 's', 'ₜ': 't', 'ᵢ': 'i', 'ᵣ': 'r', 'ᵤ': 'u', 'ᵥ': 'v', 'ⱼ': 'j',
	'ᵦ': 'β', 'ᵧ': 'γ', 'ᵨ': 'ρ', 'ᵩ': 'φ', 'ᵪ': 'χ',
}

// faces returns the text's face and its subscripts' face.
func (h markHandler) faces(fnt font.Font) (face, sub font.Face) {
	return h.Fonts.Lookup(fnt, fnt.Size), h.Fonts.Lookup(fnt, fnt.Size*subScale)
}

// width is the width of a line drawn as segs.
func width(segs []segment, face, sub font.Face) vg.Length {
	var w vg.Length
	for _, s := range segs {
		if s.sub {
			w += sub.Width(s.text)
		} else {
			w += face.Width(s.text)
		}
	}
	return w
}

// Box is text.Plain's, measuring subscripts at their size; a line with
// subscripts reaches down to the subscripts' descent.
func (h markHandler) Box(txt string, fnt font.Font) (w, ht, depth vg.Length) {
	face, sub := h.faces(fnt)
	segs := segments(txt, face)
	if segs == nil {
		return h.Plain.Box(txt, fnt)
	}
	ext := face.Extents()
	return width(segs, face, sub), ext.Ascent, max(ext.Descent, fnt.Size*subDrop+sub.Extents().Descent)
}

func (h markHandler) Draw(c vg.Canvas, txt string, sty text.Style, pt vg.Point) {
	if strings.IndexFunc(txt, isMark) >= 0 && !isSVG(c) {
		c = markCanvas{c}
	}
	face, sub := h.faces(sty.Font)
	txt = strings.TrimRight(txt, "\n")
	lines := h.Lines(txt)
	segs := make([][]segment, len(lines))
	found := false
	for i, line := range lines {
		segs[i] = segments(line, face)
		found = found || segs[i] != nil
	}
	if !found {
		h.Plain.Draw(c, txt, sty, pt)
		return
	}
	// text.Plain.Draw, with each line drawn (and measured) segment by segment.
	c.SetColor(sty.Color)
	if sty.Rotation != 0 {
		c.Push()
		c.Rotate(sty.Rotation)
		defer c.Pop()
	}
	sin64, cos64 := math.Sincos(sty.Rotation)
	cos, sin := vg.Length(cos64), vg.Length(sin64)
	pt.X, pt.Y = pt.Y*sin+pt.X*cos, pt.Y*cos-pt.X*sin
	pt.Y += sty.Height(txt)*vg.Length(sty.YAlign) - face.Extents().Ascent
	for i, line := range lines {
		ls := segs[i]
		if ls == nil {
			ls = []segment{{text: line}}
		}
		p := pt.Add(vg.Point{X: vg.Length(sty.XAlign) * width(ls, face, sub), Y: vg.Length(len(lines)-i) * sty.Font.Size})
		for _, s := range ls {
			if s.sub {
				c.FillString(sub, vg.Point{X: p.X, Y: p.Y - sty.Font.Size*subDrop}, s.text)
				p.X += sub.Width(s.text)
			} else {
				c.FillString(face, p, s.text)
				p.X += face.Width(s.text)
			}
		}
	}
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
