package viz

import (
	"hash/fnv"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// samplerStyle is the fixed look of one sampler in every figure.
type samplerStyle struct {
	label string
	color color.RGBA
	glyph draw.GlyphDrawer
}

// The known samplers. Colours are from the Okabe–Ito palette (safe for
// colour-blind readers); each sampler also has its own marker so that a
// figure printed in grey stays readable.
var knownSamplers = map[string]samplerStyle{
	"ddim":  {"DDIM", color.RGBA{0xD5, 0x5E, 0x00, 0xFF}, draw.CircleGlyph{}},   // vermillion
	"edict": {"EDICT", color.RGBA{0x00, 0x72, 0xB2, 0xFF}, draw.PyramidGlyph{}}, // blue
	"bdia":  {"BDIA", color.RGBA{0x00, 0x9E, 0x73, 0xFF}, draw.BoxGlyph{}},      // bluish green
	"belm":  {"O-BELM", color.RGBA{0x6A, 0x3D, 0x9A, 0xFF}, diamondGlyph{}},     // purple
}

// belmK3Color is the colour of 3-step BELM ("belm3", "belm-k3").
var belmK3Color = color.RGBA{0xE6, 0x9F, 0x00, 0xFF} // orange

// fallbackPalette colours samplers the package does not know, chosen by a
// hash of the name, so a name gets the same colour in every figure and run.
var fallbackPalette = []color.RGBA{
	{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	{0x8C, 0x56, 0x4B, 0xFF}, // brown
	{0x17, 0xBE, 0xCF, 0xFF}, // teal
	{0x7F, 0x7F, 0x00, 0xFF}, // olive
	{0x39, 0x3B, 0x79, 0xFF}, // navy
	{0xE3, 0x77, 0xC2, 0xFF}, // pink
}

var fallbackGlyphs = []draw.GlyphDrawer{ringGlyph{}, crossGlyph{}}

// canonical lower-cases a sampler name and maps aliases ("O-BELM", "obelm")
// to the project's names.
func canonical(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "o-belm", "obelm", "o_belm":
		return "belm"
	}
	return n
}

// belmSteps reports k for a k-step BELM name: "belm3", "belm-k3", "belm_k3",
// "belmk3", "belm-3" all give 3.
func belmSteps(n string) (int, bool) {
	rest, ok := strings.CutPrefix(n, "belm")
	if !ok {
		return 0, false
	}
	rest = strings.TrimLeft(rest, "-_ ")
	rest = strings.TrimPrefix(rest, "k")
	rest = strings.TrimPrefix(rest, "=")
	k, err := strconv.Atoi(rest)
	if err != nil || k < 1 {
		return 0, false
	}
	return k, true
}

func styleOf(name string) samplerStyle {
	n := canonical(name)
	if s, ok := knownSamplers[n]; ok {
		return s
	}
	h := fnv.New32a()
	h.Write([]byte(n))
	sum := h.Sum32()
	s := samplerStyle{
		label: strings.TrimSpace(name),
		color: fallbackPalette[sum%uint32(len(fallbackPalette))],
		glyph: fallbackGlyphs[sum%uint32(len(fallbackGlyphs))],
	}
	if k, ok := belmSteps(n); ok {
		s.label = "BELM k=" + strconv.Itoa(k)
		s.glyph = crossGlyph{}
		if k == 3 {
			s.color = belmK3Color
		}
	}
	return s
}

// SamplerColor is the colour of a sampler in every figure: fixed for "ddim",
// "edict", "bdia", "belm" (O-BELM) and 3-step BELM ("belm3", "belm-k3");
// any other name gets a colour from a palette, chosen by a hash of the name
// (the same name always gets the same colour). Case is ignored.
func SamplerColor(name string) color.Color { return styleOf(name).color }

// SamplerLabel is the display name of a sampler: "DDIM", "EDICT", "BDIA",
// "O-BELM", "BELM k=3" for "belm3"/"belm-k3" (any k); unknown names are
// returned as given.
func SamplerLabel(name string) string { return styleOf(name).label }

// diamondGlyph is a filled diamond (a square standing on a corner).
type diamondGlyph struct{}

func (diamondGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius * 1.3
	c.FillPolygon(sty.Color, []vg.Point{{X: pt.X, Y: pt.Y + r}, {X: pt.X + r, Y: pt.Y}, {X: pt.X, Y: pt.Y - r}, {X: pt.X - r, Y: pt.Y}})
}

// floorGlyph is a hollow triangle pointing down: "the true value is below
// this" — it marks a zero error drawn at the visible floor of a log axis.
type floorGlyph struct{}

func (floorGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius * 1.4
	ls := draw.LineStyle{Color: sty.Color, Width: vg.Points(1.2)}
	c.StrokeLines(ls, []vg.Point{
		{X: pt.X - r, Y: pt.Y + r*0.6}, {X: pt.X + r, Y: pt.Y + r*0.6}, {X: pt.X, Y: pt.Y - r}, {X: pt.X - r, Y: pt.Y + r*0.6},
	})
}

// ringGlyph and crossGlyph are gonum's ring and cross with a line width that
// shows at a glance (gonum's are 0.5 pt).
type ringGlyph struct{}

func (ringGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(1.5)})
	var p vg.Path
	p.Move(vg.Point{X: pt.X + sty.Radius, Y: pt.Y})
	p.Arc(pt, sty.Radius, 0, 2*math.Pi)
	p.Close()
	c.Stroke(p)
}

type crossGlyph struct{}

func (crossGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	ls := draw.LineStyle{Color: sty.Color, Width: vg.Points(2)}
	r := sty.Radius / math.Sqrt2
	c.StrokeLine2(ls, pt.X-r, pt.Y-r, pt.X+r, pt.Y+r)
	c.StrokeLine2(ls, pt.X-r, pt.Y+r, pt.X+r, pt.Y-r)
}

// hollowGlyph draws a glyph with a white centre.
type hollowGlyph struct{ draw.GlyphDrawer }

func (g hollowGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	g.GlyphDrawer.DrawGlyph(c, sty, pt)
	sty.Shape, sty.Color, sty.Radius = g.GlyphDrawer, color.White, sty.Radius*0.5
	c.DrawGlyphNoClip(sty, pt) // sets the colour: gonum's glyphs fill with the canvas colour
}
