package viz

import (
	"github.com/belmlab/workbench/internal/atomicfile"

	"bytes"
	"fmt"
	"html"
	"image"
	"image/png"
	"path/filepath"

	"github.com/janpfeifer/gonb/gonbui"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// The size of a figure when a width or height of 0 is passed, and in Show.
// PNGs are drawn at 96 dpi: 7 × 4.5 in is 672 × 432 pixels.
const (
	DefaultWidth  = 7 * vg.Inch
	DefaultHeight = 4.5 * vg.Inch
)

func size(w, h vg.Length) (vg.Length, vg.Length) {
	if w <= 0 {
		w = DefaultWidth
	}
	if h <= 0 {
		h = DefaultHeight
	}
	return w, h
}

func render(p *plot.Plot, w, h vg.Length, format string) ([]byte, error) {
	w, h = size(w, h)
	wt, err := p.WriterTo(w, h, format)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	if format == "svg" { // viewers without Liberation Sans get a sans-serif of the same metrics
		return bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"), []byte(svgFonts)), nil
	}
	return buf.Bytes(), nil
}

const svgFonts = "font-family:'Liberation Sans',Arimo,Arial,Helvetica,sans-serif;"

// PNG renders a plot as PNG bytes at 96 dpi (0 for w or h: the default size).
func PNG(p *plot.Plot, w, h vg.Length) ([]byte, error) { return render(p, w, h, "png") }

// SVG renders a plot as SVG bytes (0 for w or h: the default size).
func SVG(p *plot.Plot, w, h vg.Length) ([]byte, error) { return render(p, w, h, "svg") }

// ImagePNG encodes an image (an image grid, say) as PNG bytes.
func ImagePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Save writes the plot to dir/name.png and dir/name.svg (creating dir),
// each atomically: it is written to a temporary file in dir and renamed, so
// an interrupted run leaves either the old file or the new one, never half
// a file. 0 for w or h: the default size.
func Save(p *plot.Plot, dir, name string, w, h vg.Length) error {
	for _, format := range []string{"png", "svg"} {
		b, err := render(p, w, h, format)
		if err != nil {
			return fmt.Errorf("viz: rendering %s.%s: %w", name, format, err)
		}
		if err := writeAtomic(filepath.Join(dir, name+"."+format), b); err != nil {
			return err
		}
	}
	return nil
}

// SaveImagePNG writes an image to path as PNG, atomically (see Save),
// creating the directory.
func SaveImagePNG(img image.Image, path string) error {
	b, err := ImagePNG(img)
	if err != nil {
		return fmt.Errorf("viz: encoding %s: %w", path, err)
	}
	return writeAtomic(path, b)
}

func writeAtomic(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("viz: %w", err)
	}
	return nil
}

// notebook is what Show and ShowImage need from GoNB; a test puts a recorder in its place.
type notebook interface {
	active() bool // running inside a GoNB notebook
	displayPNG(b []byte)
	displayImage(img image.Image) error
	displayHTML(h string)
	sync() // wait until the notebook has everything displayed
}

// gonb is the notebook of a GoNB kernel (gonbui).
type gonb struct{}

func (gonb) active() bool                       { return gonbui.IsNotebook }
func (gonb) displayPNG(b []byte)                { gonbui.DisplayPng(b) }
func (gonb) displayImage(img image.Image) error { return gonbui.DisplayImage(img) }
func (gonb) displayHTML(h string)               { gonbui.DisplayHtml(h) }
func (gonb) sync()                              { gonbui.Sync() }

var nb notebook = gonb{}

// Show displays the plot inline, as a PNG of the default size, when the
// program runs inside a GoNB notebook, and waits until the notebook has it
// (gonbui.Sync). Outside a notebook it does nothing: use Save to write
// files. A rendering error is shown in the notebook in place of the figure.
func Show(p *plot.Plot) {
	if !nb.active() {
		return
	}
	b, err := PNG(p, 0, 0)
	if err != nil {
		showError(err)
		return
	}
	nb.displayPNG(b)
	nb.sync()
}

// ShowImage displays an image (an image grid, say) inline inside a GoNB
// notebook, as Show does; outside a notebook it does nothing.
func ShowImage(img image.Image) {
	if !nb.active() {
		return
	}
	if err := nb.displayImage(img); err != nil {
		showError(err)
		return
	}
	nb.sync()
}

func showError(err error) {
	nb.displayHTML("<pre>viz: " + html.EscapeString(err.Error()) + "</pre>")
	nb.sync()
}
