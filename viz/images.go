package viz

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Layout is the order of the axes of an image batch.
type Layout int

const (
	NCHW Layout = iota // batch, channel, height, width (PyTorch)
	NHWC               // batch, height, width, channel (GoMLX images)
)

// ValueRange is the range of pixel values of an image batch.
type ValueRange int

const (
	MinusOneOne ValueRange = iota // [-1, 1], the range diffusion models work in
	ZeroOne                       // [0, 1]
)

// Images is a batch of images in a flat slice. Values outside the range
// are clipped; 1 channel is grey, 3 are RGB.
type Images struct {
	Data   []float64
	Shape  [4]int // in the order of Layout: [N,C,H,W] or [N,H,W,C]
	Layout Layout
	Range  ValueRange
}

// dims checks the batch and returns its sizes.
func (im Images) dims() (n, h, w, c int, err error) {
	s := im.Shape
	switch im.Layout {
	case NCHW:
		n, c, h, w = s[0], s[1], s[2], s[3]
	case NHWC:
		n, h, w, c = s[0], s[1], s[2], s[3]
	default:
		return 0, 0, 0, 0, fmt.Errorf("viz: unknown image layout %d", im.Layout)
	}
	if n < 1 || h < 1 || w < 1 {
		return 0, 0, 0, 0, fmt.Errorf("viz: empty image batch, shape %v", s)
	}
	if c != 1 && c != 3 {
		return 0, 0, 0, 0, fmt.Errorf("viz: images need 1 or 3 channels, shape %v has %d", s, c)
	}
	if len(im.Data) != n*h*w*c {
		return 0, 0, 0, 0, fmt.Errorf("viz: shape %v needs %d values, data has %d", s, n*h*w*c, len(im.Data))
	}
	return n, h, w, c, nil
}

// pixel is the colour of pixel (y, x) of image b.
func (im Images) pixel(b, y, x, h, w, c int) color.RGBA {
	var v [3]uint8
	for ch := range 3 {
		k := min(ch, c-1) // grey: the one channel three times
		var i int
		if im.Layout == NCHW {
			i = ((b*c+k)*h+y)*w + x
		} else {
			i = ((b*h+y)*w+x)*c + k
		}
		u := im.Data[i]
		if im.Range == MinusOneOne {
			u = (u + 1) / 2
		}
		if math.IsNaN(u) {
			u = 0
		}
		v[ch] = uint8(math.Round(255 * math.Max(0, math.Min(1, u))))
	}
	return color.RGBA{v[0], v[1], v[2], 255}
}

// GridOptions lays out an image grid. The zero value gives a near-square
// grid of tiles at least 64 pixels wide, 2 pixels apart, without labels.
type GridOptions struct {
	Cols      int      // tiles per row; 0: ⌈√n⌉ (or len(ColLabels) when given)
	RowLabels []string // written left of each row
	ColLabels []string // written above each column
	Scale     int      // integer upscaling of each image (nearest neighbour); 0: the smallest making tiles ≥ 64 px
	Pad       int      // pixels between tiles and around the grid; 0: 2; negative: none
}

// gridFont is the font of grid labels; at 72 dpi one point is one pixel.
var gridFont = font.From(sansFont, 12)

// ImageGrid tiles a batch of images row by row on a white background, with
// optional row and column labels. Image b is at row b / Cols, column
// b % Cols; its pixel (y, x) is the block of Scale×Scale pixels at
// (Left + Pad + col·(Scale·W + Pad) + Scale·x, Top + Pad + row·(Scale·H + Pad) + Scale·y),
// where Left and Top are the widths of the label margins (0 without labels).
func ImageGrid(im Images, g GridOptions) (*image.RGBA, error) {
	n, h, w, c, err := im.dims()
	if err != nil {
		return nil, err
	}
	cols := g.Cols
	if cols <= 0 {
		cols = len(g.ColLabels)
	}
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(n))))
	}
	rows := (n + cols - 1) / cols
	scale := g.Scale
	if scale <= 0 {
		scale = max(1, (64+w-1)/w)
	}
	pad := g.Pad
	switch {
	case pad == 0:
		pad = 2
	case pad < 0:
		pad = 0
	}
	tw, th := w*scale, h*scale

	sty := text.Style{Color: color.Black, Font: gridFont, Handler: textHandler}
	const gap = 6 // pixels between labels and tiles
	left, top := 0, 0
	for _, l := range g.RowLabels {
		left = max(left, int(math.Ceil(float64(sty.Width(l))))+2*gap)
	}
	if len(g.ColLabels) > 0 {
		top = int(math.Ceil(float64(sty.Height("Mg")))) + gap
	}
	W := left + pad + cols*(tw+pad)
	H := top + pad + rows*(th+pad)

	// Labels first (gonum/plot text at 72 dpi), then the tiles, copied
	// pixel for pixel so their values are exact.
	cv := vgimg.NewWith(vgimg.UseWH(vg.Length(W), vg.Length(H)), vgimg.UseDPI(72))
	dc := draw.New(cv)
	fromTop := func(y int) vg.Length { return vg.Length(H - y) }
	colX := func(j int) int { return left + pad + j*(tw+pad) }
	rowY := func(i int) int { return top + pad + i*(th+pad) }
	for j, l := range g.ColLabels {
		if j >= cols {
			break
		}
		s := sty
		s.XAlign, s.YAlign = draw.XCenter, draw.YBottom
		dc.FillText(s, vg.Point{X: vg.Length(colX(j) + tw/2), Y: fromTop(top - gap/2)}, l)
	}
	for i, l := range g.RowLabels {
		if i >= rows {
			break
		}
		s := sty
		s.XAlign, s.YAlign = draw.XRight, draw.YCenter
		dc.FillText(s, vg.Point{X: vg.Length(left - gap), Y: fromTop(rowY(i) + th/2)}, l)
	}
	img, ok := cv.Image().(*image.RGBA)
	if !ok || img.Bounds().Dx() != W || img.Bounds().Dy() != H {
		return nil, fmt.Errorf("viz: unexpected canvas image %T %v", cv.Image(), cv.Image().Bounds())
	}
	for b := range n {
		x0, y0 := colX(b%cols), rowY(b/cols)
		for y := range h {
			for x := range w {
				px := im.pixel(b, y, x, h, w, c)
				for dy := range scale {
					for dx := range scale {
						img.SetRGBA(x0+x*scale+dx, y0+y*scale+dy, px)
					}
				}
			}
		}
	}
	return img, nil
}

// InterpolationGrid shows interpolations: im holds len(weights) images for
// each pair, pair after pair (image r·len(weights)+j is pair r at
// weights[j]); rows are pairs and columns are weights, labelled "λ = w".
// g.RowLabels (say "pair 1", …) are optional; g.Cols and g.ColLabels are
// set from the weights.
func InterpolationGrid(im Images, weights []float64, g GridOptions) (*image.RGBA, error) {
	if len(weights) == 0 {
		return nil, fmt.Errorf("viz: no interpolation weights")
	}
	n, _, _, _, err := im.dims()
	if err != nil {
		return nil, err
	}
	if n%len(weights) != 0 {
		return nil, fmt.Errorf("viz: %d images are not a whole number of rows of %d weights", n, len(weights))
	}
	g.Cols = len(weights)
	g.ColLabels = make([]string, len(weights))
	for j, wt := range weights {
		g.ColLabels[j] = "λ = " + strconv.FormatFloat(wt, 'g', 3, 64)
	}
	return ImageGrid(im, g)
}
