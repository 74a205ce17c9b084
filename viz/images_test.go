package viz

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// nhwc is the test batch transposed to NHWC, in [0, 1].
func nhwc(im Images) Images {
	n, c, h, w := im.Shape[0], im.Shape[1], im.Shape[2], im.Shape[3]
	d := make([]float64, len(im.Data))
	for b := range n {
		for k := range c {
			for y := range h {
				for x := range w {
					d[((b*h+y)*w+x)*c+k] = (im.Data[((b*c+k)*h+y)*w+x] + 1) / 2
				}
			}
		}
	}
	return Images{Data: d, Shape: [4]int{n, h, w, c}, Layout: NHWC, Range: ZeroOne}
}

// wantPixel is pixel (y, x) of image b of testBatch.
func wantPixel(b, y, x int) color.RGBA {
	u := func(v float64) uint8 { return uint8(v*255 + 0.5) }
	return color.RGBA{u(float64(x) / 15), u(float64(y) / 15), u(float64(b) / 5), 255}
}

func TestImageGridPixels(t *testing.T) {
	const scale, pad = 3, 2
	for _, im := range []Images{testBatch(), nhwc(testBatch())} {
		g, err := ImageGrid(im, GridOptions{Cols: 4, Scale: scale, Pad: pad})
		if err != nil {
			t.Fatal(err)
		}
		// 6 images in 4 columns: 2 rows; tiles of 48 px, 2 px apart.
		tile := 16*scale + pad
		if got, want := g.Bounds().Size(), image.Pt(pad+4*tile, pad+2*tile); got != want {
			t.Fatalf("layout %d: grid is %v, want %v", im.Layout, got, want)
		}
		for _, pt := range []struct{ b, y, x int }{{0, 0, 0}, {0, 15, 15}, {1, 3, 7}, {3, 15, 0}, {4, 8, 8}, {5, 0, 15}} {
			for _, d := range []image.Point{{0, 0}, {scale - 1, scale - 1}} { // both corners of the scaled pixel
				X := pad + (pt.b%4)*tile + pt.x*scale + d.X
				Y := pad + (pt.b/4)*tile + pt.y*scale + d.Y
				if got := g.RGBAAt(X, Y); got != wantPixel(pt.b, pt.y, pt.x) {
					t.Errorf("layout %d: image %d pixel (%d,%d) at (%d,%d) = %v, want %v", im.Layout, pt.b, pt.y, pt.x, X, Y, got, wantPixel(pt.b, pt.y, pt.x))
				}
			}
		}
		// Padding and the empty 8th cell stay white.
		white := color.RGBA{255, 255, 255, 255}
		for _, p := range []image.Point{{0, 0}, {pad + tile - 1, 5}, {pad + 3*tile + 5, pad + tile + 5}} {
			if got := g.RGBAAt(p.X, p.Y); got != white {
				t.Errorf("layout %d: background at %v = %v, want white", im.Layout, p, got)
			}
		}
	}
}

func TestImageGridGreyClipAndLabels(t *testing.T) {
	// One grey 2×2 image in [-1, 1] with out-of-range values, clipped.
	im := Images{Data: []float64{-1, 0, 1, 7}, Shape: [4]int{1, 1, 2, 2}, Layout: NCHW}
	g, err := ImageGrid(im, GridOptions{Scale: 1, Pad: -1, RowLabels: []string{"O-BELM"}, ColLabels: []string{"σ̄ = 1"}})
	if err != nil {
		t.Fatal(err)
	}
	// Labels widen the left and top margins; the tile sits at the bottom right.
	r := g.Bounds()
	x0, y0 := r.Dx()-2, r.Dy()-2
	if x0 < 20 || y0 < 10 {
		t.Fatalf("label margins missing: grid %v", r.Size())
	}
	for i, want := range []uint8{0, 128, 255, 255} {
		if got := g.RGBAAt(x0+i%2, y0+i/2); got != (color.RGBA{want, want, want, 255}) {
			t.Errorf("grey pixel %d = %v, want %d", i, got, want)
		}
	}
	// The labels drew ink (dark pixels) in the margins.
	dark := func(rect image.Rectangle) int {
		n := 0
		for y := rect.Min.Y; y < rect.Max.Y; y++ {
			for x := rect.Min.X; x < rect.Max.X; x++ {
				if g.RGBAAt(x, y).R < 128 {
					n++
				}
			}
		}
		return n
	}
	if dark(image.Rect(0, y0, x0, r.Dy())) == 0 {
		t.Error("row label not drawn")
	}
	if dark(image.Rect(0, 0, r.Dx(), y0)) == 0 {
		t.Error("column label not drawn")
	}
	b, err := ImagePNG(g)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := png.Decode(bytes.NewReader(b)); err != nil || back.Bounds() != g.Bounds() {
		t.Fatalf("grid PNG round trip: %v, %v", err, back.Bounds())
	}
}

func TestInterpolationGrid(t *testing.T) {
	w := []float64{0, 0.5, 1}
	g, err := InterpolationGrid(testBatch(), w, GridOptions{Scale: 1, Pad: 1, RowLabels: []string{"pair 1", "pair 2"}})
	if err != nil {
		t.Fatal(err)
	}
	// Rows are pairs, columns weights: image 4 (pair 2, λ = 0.5) is at row 1, column 1,
	// from the bottom-right corner of the grid (the margins are on the left and top).
	x := g.Bounds().Dx() - 2*17 + 0
	y := g.Bounds().Dy() - 17 + 0
	if got := g.RGBAAt(x, y); got != wantPixel(4, 0, 0) {
		t.Errorf("pair 2 at λ=0.5, first pixel = %v, want %v", got, wantPixel(4, 0, 0))
	}
	if _, err := InterpolationGrid(testBatch(), []float64{0, 0.25, 0.5, 1}, GridOptions{}); err == nil {
		t.Error("6 images cannot be rows of 4 weights: want an error")
	}
}

func TestImageGridErrors(t *testing.T) {
	for name, im := range map[string]Images{
		"2 channels":   {Data: make([]float64, 8), Shape: [4]int{1, 2, 2, 2}},
		"short data":   {Data: make([]float64, 3), Shape: [4]int{1, 1, 2, 2}},
		"empty":        {Shape: [4]int{0, 1, 2, 2}},
		"bad layout":   {Data: make([]float64, 4), Shape: [4]int{1, 1, 2, 2}, Layout: 7},
		"NHWC 4 chans": {Data: make([]float64, 16), Shape: [4]int{1, 2, 2, 4}, Layout: NHWC},
	} {
		if _, err := ImageGrid(im, GridOptions{}); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
