package viz

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func TestSaveWritesBothFilesAtomically(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "figs") // Save creates it
	p, err := LTEOrder(lteCurves(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second time replaces the files
		if err := Save(p, dir, "lte", 4*vg.Inch, 3*vg.Inch); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "lte.png"))
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Size() != image.Pt(384, 288) {
		t.Fatalf("lte.png: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "lte.svg")); err != nil || !strings.Contains(string(b), "slope 3 (reference)") {
		t.Fatalf("lte.svg: %v", err)
	}
	if err := SaveImagePNG(image.NewRGBA(image.Rect(0, 0, 3, 2)), filepath.Join(dir, "grid.png")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "grid.png lte.png lte.svg" {
		t.Errorf("directory holds %q: temporary files left behind?", got)
	}
}

func TestSaveFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	// A directory where the file should go makes the rename fail.
	if err := os.Mkdir(filepath.Join(dir, "grid.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := SaveImagePNG(image.NewRGBA(image.Rect(0, 0, 1, 1)), filepath.Join(dir, "grid.png")); err == nil {
		t.Fatal("want an error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("a failed save left %d entries, want only the blocking directory", len(entries))
	}
}

// The macron of σ̄ must sit over the σ, not after it: gonum/plot's raster
// text has no shaping, markHandler places it.
func TestCombiningMacronOverSigma(t *testing.T) {
	c := vgimg.NewWith(vgimg.UseWH(120, 80), vgimg.UseDPI(72))
	dc := draw.New(c)
	sty := text.Style{Color: image.Black.C, Font: fontOf(60), Handler: textHandler}
	dc.FillText(sty, vg.Point{X: 10, Y: 15}, "σ̄")
	img := c.Image()
	// Ink columns of the macron (the top band) and of the σ (below it).
	span := func(y0, y1 int) (lo, hi int) {
		lo, hi = 1<<30, -1
		for y := y0; y < y1; y++ {
			for x := range 120 {
				if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
					lo, hi = min(lo, x), max(hi, x)
				}
			}
		}
		return lo, hi
	}
	top, bottom := topInk(img), 80
	mlo, mhi := span(top, top+3)
	slo, shi := span(top+12, bottom)
	if mhi < 0 || shi < 0 {
		t.Fatalf("no ink: macron %d..%d, sigma %d..%d", mlo, mhi, slo, shi)
	}
	mc, sc := (mlo+mhi)/2, (slo+shi)/2
	if mc < slo || mc > shi || abs(mc-sc) > (shi-slo)/4 {
		t.Errorf("macron centred at x=%d, σ spans %d..%d (centre %d)", mc, slo, shi, sc)
	}
}

func fontOf(size vg.Length) font.Font { return font.From(sansFont, size) }

func topInk(img image.Image) int {
	for y := range img.Bounds().Dy() {
		for x := range img.Bounds().Dx() {
			if r, _, _, _ := img.At(x, y).RGBA(); r < 0x8000 {
				return y
			}
		}
	}
	return -1
}

func abs(x int) int { return max(x, -x) }
