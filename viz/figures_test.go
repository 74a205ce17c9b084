package viz

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Structural checks, not golden bytes: rendering differs across platforms
// and library versions, so tests look at what a reader needs (size, ink,
// colours, texts), never at exact output.

func TestFitLogLogSlope(t *testing.T) {
	n := []float64{10, 20, 50, 100, 1000}
	pow := func(c, p float64, x []float64) []float64 {
		y := make([]float64, len(x))
		for i := range x {
			y[i] = c * math.Pow(x[i], p)
		}
		return y
	}
	tests := []struct {
		name   string
		x, y   []float64
		want   float64
		wantOK bool
	}{
		{"first order", n, pow(0.8, -1, n), -1, true},
		{"third order LTE", []float64{0.01, 0.1, 0.5}, pow(0.2, 3, []float64{0.01, 0.1, 0.5}), 3, true},
		{"zeros, negatives and non-finite ignored", []float64{1, 2, 0, 4, 8, 16, 32},
			[]float64{1, 4, 5, 0, -3, math.NaN(), math.Inf(1)}, 2, true},
		{"one usable point", []float64{1, 2}, []float64{1, 0}, 0, false},
		{"equal x", []float64{3, 3, 3}, []float64{1, 2, 3}, 0, false},
		{"empty", nil, nil, 0, false},
	}
	for _, tc := range tests {
		got, ok := FitLogLogSlope(tc.x, tc.y)
		// Exact power laws: only rounding in the logs, hence 1e-9.
		if ok != tc.wantOK || (ok && math.Abs(got-tc.want) > 1e-9) {
			t.Errorf("%s: FitLogLogSlope = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestSamplerIdentity(t *testing.T) {
	labels := map[string]string{
		"ddim": "DDIM", "EDICT": "EDICT", "bdia": "BDIA", "belm": "O-BELM", "O-BELM": "O-BELM",
		"belm3": "BELM k=3", "belm-k3": "BELM k=3", "belm_k4": "BELM k=4", "dpm-solver": "dpm-solver",
	}
	for name, want := range labels {
		if got := SamplerLabel(name); got != want {
			t.Errorf("SamplerLabel(%q) = %q, want %q", name, got, want)
		}
	}
	if SamplerColor("belm3") != SamplerColor("belm-k3") || SamplerColor("belm3") != belmK3Color {
		t.Error("belm3 and belm-k3 should share the fixed k=3 colour")
	}
	seen := map[color.Color]string{}
	for _, name := range []string{"ddim", "edict", "bdia", "belm", "belm3"} {
		c := SamplerColor(name)
		if other, dup := seen[c]; dup {
			t.Errorf("%s and %s share a colour", name, other)
		}
		seen[c] = name
	}
	if SamplerColor("my-sampler") != SamplerColor("My-Sampler ") {
		t.Error("unknown names must get a deterministic colour")
	}
}

// figure is a named figure builder with texts its SVG must contain and
// the samplers whose colours its PNG must show.
type figure struct {
	name     string
	build    func() (*plot.Plot, error)
	texts    []string
	samplers []string
}

func allFigures() []figure {
	f64, f32 := precisionCurves()
	return []figure{
		{"error", func() (*plot.Plot, error) { return ErrorVsSteps(errorCurves(), Options{}) },
			[]string{"Reconstruction error vs number of steps", "N (number of steps)", "max |x̂₀ − x₀| / data scale",
				"DDIM  (slope −1.00)", "EDICT  (slope 0.50)", "BELM k=3  (diverged)", "0 (exact), drawn at 1e−17"},
			[]string{"ddim", "edict", "bdia", "belm", "belm3"}},
		{"lte", func() (*plot.Plot, error) { return LTEOrder(lteCurves(), Options{}) },
			[]string{"h (step size in σ̄)", "O-BELM  (slope 2.98)", "slope 2 (reference)", "slope 3 (reference)"},
			[]string{"ddim", "bdia", "belm"}},
		{"precision", func() (*plot.Plot, error) { return Precision(f64, f32, Options{Title: "custom title"}) },
			[]string{"custom title", "O-BELM float64", "O-BELM float32", "DDIM float32"},
			[]string{"ddim", "edict", "bdia", "belm"}},
		{"noise", func() (*plot.Plot, error) { return NoiseHistogram(noiseSamples(), Options{}) },
			[]string{"DDIM  (std 1.3", "O-BELM  (std 1.0", "N(0,1)", "density"},
			[]string{"ddim", "edict", "belm"}},
		{"trajectories", func() (*plot.Plot, error) {
			return Trajectories(trajectories(), Density{Points: dataPoints(), Func: mixture}, Options{})
		}, []string{"DDIM", "O-BELM", "inversion x₀ → noise", "reconstruction x̂₀"}, []string{"ddim", "belm"}},
		{"coefficients", func() (*plot.Plot, error) { return CoefficientPlot(oBELMCoefficients(), Options{}) },
			[]string{"A  (of x", "C  (of ε)", "step i", "coefficient"}, nil},
	}
}

func TestFiguresPNG(t *testing.T) {
	for _, f := range allFigures() {
		p, err := f.build()
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		for _, sz := range []struct {
			w, h         vg.Length
			wantW, wantH int
		}{{0, 0, 672, 432}, {5 * vg.Inch, 3 * vg.Inch, 480, 288}} { // 96 dpi
			b, err := PNG(p, sz.w, sz.h)
			if err != nil {
				t.Fatalf("%s: %v", f.name, err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: PNG does not decode: %v", f.name, err)
			}
			if r := img.Bounds(); r.Dx() != sz.wantW || r.Dy() != sz.wantH {
				t.Errorf("%s: PNG is %v, want %dx%d", f.name, r.Size(), sz.wantW, sz.wantH)
			}
			if sz.w != 0 {
				continue
			}
			// Not blank: the plot area (the middle of the figure) holds lines,
			// markers and anti-aliased edges in many colours.
			r := img.Bounds()
			mid := image.Rect(r.Dx()/8, r.Dy()/8, r.Dx()*5/8, r.Dy()*7/8)
			if n := len(colours(img, mid)); n < 20 {
				t.Errorf("%s: only %d distinct colours in the plot area", f.name, n)
			}
			all := colours(img, r)
			for _, s := range f.samplers {
				if !all[color.RGBAModel.Convert(SamplerColor(s)).(color.RGBA)] {
					t.Errorf("%s: the colour of %s is nowhere in the PNG", f.name, s)
				}
			}
		}
	}
}

func colours(img image.Image, r image.Rectangle) map[color.RGBA]bool {
	set := map[color.RGBA]bool{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			set[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)] = true
		}
	}
	return set
}

func TestFiguresSVG(t *testing.T) {
	for _, f := range allFigures() {
		p, err := f.build()
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		b, err := SVG(p, 0, 0)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		svg := string(b)
		if !strings.HasPrefix(strings.TrimSpace(svg), "<?xml") || !strings.Contains(svg, "<svg") {
			t.Fatalf("%s: not an SVG document", f.name)
		}
		for _, want := range f.texts {
			if !strings.Contains(svg, ">"+escapeXML(want)) {
				t.Errorf("%s: SVG has no text starting %q", f.name, want)
			}
		}
		if !strings.Contains(svg, svgFonts) {
			t.Errorf("%s: SVG lacks the font fallbacks", f.name)
		}
	}
}

func escapeXML(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Log axes cannot show 0: zeros, negatives, NaN and ±Inf must neither panic
// nor fail, and a curve with no usable point at all must be an error.
func TestLogPlotsSurviveZeros(t *testing.T) {
	cases := map[string][]Curve{
		"all zero":          {{Sampler: "belm", X: stepsN, Y: make([]float64, len(stepsN))}},
		"zeros and others":  {{Sampler: "belm", X: stepsN, Y: make([]float64, len(stepsN))}, {Sampler: "ddim", X: []float64{10, 100}, Y: []float64{1e-2, 1e-3}}},
		"negative and NaN":  {{Sampler: "x", X: []float64{1, 2, 3}, Y: []float64{-1, math.NaN(), math.Inf(-1)}}},
		"one point":         {{Sampler: "bdia", X: []float64{50}, Y: []float64{3e-9}}},
		"non-positive x":    {{Sampler: "edict", X: []float64{0, -1, 10}, Y: []float64{1, 1, 1}}},
		"identical y":       {{Sampler: "edict", X: []float64{10, 20}, Y: []float64{1e-3, 1e-3}}},
		"user floor":        {{Sampler: "belm", X: []float64{10, 20}, Y: []float64{0, 1e-12}}},
		"empty curve too":   {{Sampler: "ddim"}, {Sampler: "belm", X: []float64{10}, Y: []float64{0}}},
		"all NaN, one good": {{Sampler: "ddim", X: []float64{10}, Y: []float64{math.NaN()}}, {Sampler: "belm", X: []float64{10}, Y: []float64{1}}},
	}
	for name, curves := range cases {
		for _, fig := range []func([]Curve, Options) (*plot.Plot, error){ErrorVsSteps, LTEOrder} {
			var o Options
			if name == "user floor" {
				o.Floor = 1e-14
			}
			p, err := fig(curves, o)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if _, err := PNG(p, 0, 0); err != nil {
				t.Errorf("%s: PNG: %v", name, err)
			}
			if _, err := SVG(p, 0, 0); err != nil {
				t.Errorf("%s: SVG: %v", name, err)
			}
		}
	}
	// The floor is announced in the legend, at the automatic or given height.
	p, _ := ErrorVsSteps(cases["zeros and others"], Options{})
	if b, _ := SVG(p, 0, 0); !strings.Contains(string(b), "0 (exact), drawn at 1e−4") {
		t.Error("automatic floor should be one decade below the smallest error (1e−4)")
	}
	p, _ = ErrorVsSteps(cases["user floor"], Options{Floor: 1e-14})
	if b, _ := SVG(p, 0, 0); !strings.Contains(string(b), "drawn at 1e−14") {
		t.Error("Options.Floor should be used and shown")
	}
	for name, curves := range map[string][]Curve{
		"no curves":     nil,
		"no usable x":   {{Sampler: "ddim", X: []float64{0, -1}, Y: []float64{1, 2}}},
		"length differ": {{Sampler: "ddim", X: []float64{1, 2}, Y: []float64{1}}},
	} {
		if _, err := ErrorVsSteps(curves, Options{}); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestLogTicks(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (logTicks{}).Ticks(math.Log10(lo), math.Log10(hi)) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{10, 1000, "10 20 50 100 200 500 1000"},
		{0.001, 0.5, "0.001 0.01 0.1"},
		{1e-16, 1, "1e−16 1e−14 1e−12 1e−10 1e−8 1e−6 1e−4 1e−2 1"},
		{3, 8, "3 4 5 6 7 8"},
	} {
		if got := strings.Join(labels(tc.lo, tc.hi), " "); got != tc.want {
			t.Errorf("ticks on [%g, %g] = %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestCoefficientPlotRejectsRaggedInput(t *testing.T) {
	c := oBELMCoefficients()
	c.C = c.C[1:]
	if _, err := CoefficientPlot(c, Options{}); err == nil {
		t.Error("want an error for coefficient slices of different lengths")
	}
}

// notebookRecorder stands in for GoNB: it counts what Show and ShowImage send.
type notebookRecorder struct {
	inside   bool
	pngs     [][]byte
	images   []image.Image
	html     []string
	syncs    int
	imageErr error
}

func (r *notebookRecorder) active() bool        { return r.inside }
func (r *notebookRecorder) displayPNG(b []byte) { r.pngs = append(r.pngs, b) }
func (r *notebookRecorder) displayImage(img image.Image) error {
	r.images = append(r.images, img)
	return r.imageErr
}
func (r *notebookRecorder) displayHTML(h string) { r.html = append(r.html, h) }
func (r *notebookRecorder) sync()                { r.syncs++ }

func recordNotebook(t *testing.T, inside bool) *notebookRecorder {
	r := &notebookRecorder{inside: inside}
	old := nb
	nb = r
	t.Cleanup(func() { nb = old })
	return r
}

// Outside a notebook Show and ShowImage send nothing (0 displays, 0 syncs); inside, each
// sends exactly one display — Show a PNG of the default 672 × 432 pixels — and one sync,
// and a display error becomes one HTML message naming it.
func TestShow(t *testing.T) {
	p, err := ErrorVsSteps(errorCurves(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tile := image.NewRGBA(image.Rect(0, 0, 2, 3))

	out := recordNotebook(t, false)
	Show(p)
	ShowImage(tile)
	if n := len(out.pngs) + len(out.images) + len(out.html) + out.syncs; n != 0 {
		t.Errorf("outside a notebook: %d displays and syncs, want 0", n)
	}

	in := recordNotebook(t, true)
	Show(p)
	ShowImage(tile)
	if len(in.pngs) != 1 || len(in.images) != 1 || len(in.html) != 0 || in.syncs != 2 {
		t.Fatalf("inside a notebook: %d PNGs, %d images, %d HTML, %d syncs; want 1, 1, 0, 2", len(in.pngs), len(in.images), len(in.html), in.syncs)
	}
	img, err := png.Decode(bytes.NewReader(in.pngs[0]))
	if err != nil {
		t.Fatalf("Show sent no PNG: %v", err)
	}
	if got := img.Bounds().Size(); got != image.Pt(672, 432) {
		t.Errorf("Show's PNG is %v, want 672×432 (DefaultWidth × DefaultHeight at 96 dpi)", got)
	}
	if got := in.images[0].Bounds().Size(); got != image.Pt(2, 3) {
		t.Errorf("ShowImage sent a %v image, want the 2×3 one given", got)
	}

	failing := recordNotebook(t, true)
	failing.imageErr = errors.New("kernel gone")
	ShowImage(tile)
	if len(failing.html) != 1 || !strings.Contains(failing.html[0], "viz: kernel gone") || failing.syncs != 1 {
		t.Errorf("a failed display: HTML %q and %d syncs, want one message naming the error and 1 sync", failing.html, failing.syncs)
	}
}
