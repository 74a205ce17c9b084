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
	l := newGridLayout(g, n, h, w)
	// Labels first (gonum/plot text at 72 dpi), then the tiles, copied pixel for pixel so
	// their values are exact.
	cv := vgimg.NewWith(vgimg.UseWH(vg.Length(l.width), vg.Length(l.height)), vgimg.UseDPI(72))
	l.drawLabels(draw.New(cv), g)
	img, ok := cv.Image().(*image.RGBA)
	if !ok || img.Bounds().Dx() != l.width || img.Bounds().Dy() != l.height {
		return nil, fmt.Errorf("viz: unexpected canvas image %T %v", cv.Image(), cv.Image().Bounds())
	}
	for b := range n {
		x0, y0 := l.colX(b%l.cols), l.rowY(b/l.cols)
		for y := range h {
			for x := range w {
				px := im.pixel(b, y, x, h, w, c)
				for dy := range l.scale {
					for dx := range l.scale {
						img.SetRGBA(x0+x*l.scale+dx, y0+y*l.scale+dy, px)
					}
				}
			}
		}
	}
	return img, nil
}

// gridLabelGap is the number of pixels between labels and tiles.
const gridLabelGap = 6

// gridLayout is where an image grid puts its tiles and labels, in pixels.
type gridLayout struct {
	cols, rows, scale, pad int
	tileW, tileH           int // a tile: an image scaled
	left, top              int // the widths of the label margins
	width, height          int // the whole grid
}

// newGridLayout lays out n images of h×w pixels as g asks (see GridOptions' defaults).
func newGridLayout(g GridOptions, n, h, w int) gridLayout {
	l := gridLayout{cols: g.Cols, scale: g.Scale, pad: g.Pad}
	if l.cols <= 0 {
		l.cols = len(g.ColLabels)
	}
	if l.cols <= 0 {
		l.cols = int(math.Ceil(math.Sqrt(float64(n))))
	}
	l.rows = (n + l.cols - 1) / l.cols
	if l.scale <= 0 {
		l.scale = max(1, (64+w-1)/w)
	}
	switch {
	case l.pad == 0:
		l.pad = 2
	case l.pad < 0:
		l.pad = 0
	}
	l.tileW, l.tileH = w*l.scale, h*l.scale
	sty := gridTextStyle()
	for _, label := range g.RowLabels {
		l.left = max(l.left, int(math.Ceil(float64(sty.Width(label))))+2*gridLabelGap)
	}
	if len(g.ColLabels) > 0 {
		l.top = int(math.Ceil(float64(sty.Height("Mg")))) + gridLabelGap
	}
	l.width = l.left + l.pad + l.cols*(l.tileW+l.pad)
	l.height = l.top + l.pad + l.rows*(l.tileH+l.pad)
	return l
}

func gridTextStyle() text.Style {
	return text.Style{Color: color.Black, Font: gridFont, Handler: textHandler}
}

// colX and rowY are the left and top pixel of the tiles of column j and row i.
func (l gridLayout) colX(j int) int { return l.left + l.pad + j*(l.tileW+l.pad) }
func (l gridLayout) rowY(i int) int { return l.top + l.pad + i*(l.tileH+l.pad) }

// drawLabels writes the column labels centred above the columns and the row labels
// right-aligned left of the rows (labels beyond the grid's columns or rows are dropped).
func (l gridLayout) drawLabels(dc draw.Canvas, g GridOptions) {
	fromTop := func(y int) vg.Length { return vg.Length(l.height - y) }
	for j, label := range g.ColLabels {
		if j >= l.cols {
			break
		}
		s := gridTextStyle()
		s.XAlign, s.YAlign = draw.XCenter, draw.YBottom
		dc.FillText(s, vg.Point{X: vg.Length(l.colX(j) + l.tileW/2), Y: fromTop(l.top - gridLabelGap/2)}, label)
	}
	for i, label := range g.RowLabels {
		if i >= l.rows {
			break
		}
		s := gridTextStyle()
		s.XAlign, s.YAlign = draw.XRight, draw.YCenter
		dc.FillText(s, vg.Point{X: vg.Length(l.left - gridLabelGap), Y: fromTop(l.rowY(i) + l.tileH/2)}, label)
	}
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
