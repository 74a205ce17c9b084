package viz

import (
	"hash/fnv"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/belmlab/workbench/belm"
)

// samplerStyle is the fixed look of one sampler in every figure.
type samplerStyle struct {
	label string
	color color.RGBA
	glyph draw.GlyphDrawer
}

// samplerGlyphs are the markers of the samplers, keyed by their name or family in belm's
// registry (belm.Samplers), so that a figure printed in grey stays readable. The labels and
// colours (Okabe–Ito, safe for colour-blind readers) come from the registry.
var samplerGlyphs = map[string]draw.GlyphDrawer{
	"ddim":                   draw.CircleGlyph{},
	"ddim-inverse-diffusers": ringGlyph{},
	"edict":                  draw.PyramidGlyph{},
	"bdia":                   draw.BoxGlyph{},
	"belm":                   diamondGlyph{},
	"belmK":                  crossGlyph{}, // every k-step BELM
}

// belmK3Color is the colour of 3-step BELM ("belm3", "belm-k3").
var belmK3Color = styleOf("belm3").color

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

// styleOf is the look of a sampler name: its registry entry's label, colour and glyph (names
// and aliases alike, case ignored); a name the registry does not know, or an entry without a
// colour, gets a colour and glyph chosen by a hash of the (registry) name.
func styleOf(name string) samplerStyle {
	n := strings.ToLower(strings.TrimSpace(name))
	info, known := belm.LookupSampler(n)
	if known {
		n = info.Name
	}
	h := fnv.New32a()
	h.Write([]byte(n))
	sum := h.Sum32()
	s := samplerStyle{
		label: strings.TrimSpace(name),
		color: fallbackPalette[sum%uint32(len(fallbackPalette))],
		glyph: fallbackGlyphs[sum%uint32(len(fallbackGlyphs))],
	}
	if !known {
		return s
	}
	s.label = info.Label
	if c, ok := hexColor(info.Color); ok {
		s.color = c
	}
	if g, ok := samplerGlyphs[info.Name]; ok {
		s.glyph = g
	} else if g, ok := samplerGlyphs[info.Family]; ok {
		s.glyph = g
	}
	return s
}

// hexColor parses "#RRGGBB".
func hexColor(s string) (color.RGBA, bool) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	if len(s) != 7 || s[0] != '#' || err != nil {
		return color.RGBA{}, false
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xFF}, true
}

// SamplerColor is the colour of a sampler in every figure, from belm's registry: fixed for
// "ddim", "edict", "bdia", "belm" (O-BELM), 3-step BELM ("belm3", "belm-k3") and the other
// registered samplers, whatever alias names them; any other name gets a colour from a
// palette, chosen by a hash of the name (the same name always gets the same colour). Case is
// ignored.
func SamplerColor(name string) color.Color { return styleOf(name).color }

// SamplerLabel is the display name of a sampler, from belm's registry: "DDIM", "EDICT",
// "BDIA", "O-BELM", "BELM k=3" for "belm3"/"belm-k3" (any k); unknown names are returned as
// given.
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
