package viz

import (
	"regexp"
	"strings"
	"testing"

	"gonum.org/v1/plot/font"
)

func sansFace() font.Face { return textHandler.Fonts.Lookup(font.From(sansFont, 10), 10) }

// segments: TeX-like subscripts (x_{i−1}, x_i) and Unicode ones the font lacks (xᵢ₋₁) are
// drawn by the handler; names with underscores and subscripts Liberation has (x₀) are not.
func TestSubscriptSegments(t *testing.T) {
	face := sansFace()
	str := func(segs []segment) string {
		var b strings.Builder
		for _, s := range segs {
			if s.sub {
				b.WriteString("[" + s.text + "]")
			} else {
				b.WriteString(s.text)
			}
		}
		return b.String()
	}
	for in, want := range map[string]string{
		"x_{i−1} = A·x_{i+1} + B·x_i + C·ε": "x[i−1] = A·x[i+1] + B·x[i] + C·ε",
		"xᵢ₋₁ = A·xᵢ₊₁ + B·xᵢ + C·ε":        "x[i−1] = A·x[i+1] + B·x[i] + C·ε",
		"x₍ᵢ₋₁₎":                            "x[(i−1)]",
		"x₁₀ₙ":                              "x[10n]",
		"Inverted noise x_N at N = 10":      "Inverted noise x[N] at N = 10",
		"A  (of x_{i+1})":                   "A  (of x[i+1])",
		"h_{i-1}":                           "h[i−1]", // a hyphen in a subscript is a minus
		"σ̄_i":                              "σ̄[i]",
	} {
		if got := str(segments(in, face)); got != want {
			t.Errorf("segments(%q) = %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{"O-BELM, scaled_linear/linspace schedule", "squaredcos_cap_v2", "max |x̂₀ − x₀|", "_x", "a _b", "x_{open", "t_next", ""} {
		if segs := segments(in, face); segs != nil {
			t.Errorf("segments(%q) = %q, want nil (plain text)", in, str(segs))
		}
	}
}

// The coefficient figure's title and legend have their subscripts drawn small and lowered,
// in SVG as in PNG: no markup is left in the text, and the box is the drawn width.
func TestSubscriptsDrawn(t *testing.T) {
	p, err := CoefficientPlot(oBELMCoefficients(), Options{Title: "O-BELM, N = 10:  xᵢ₋₁ = A·xᵢ₊₁ + B·xᵢ + C·ε"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := SVG(p, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	svg := string(b)
	for _, bad := range []string{"_{", "x_i", "₋", "₊"} {
		if strings.Contains(svg, bad) {
			t.Errorf("SVG text contains %q", bad)
		}
	}
	// The subscripts are texts of their own at 0.7 of the size of the text around them.
	sizes := map[string]string{}
	for _, m := range regexp.MustCompile(`font-size:([0-9.]+)px[^>]*>([^<]*)<`).FindAllStringSubmatch(svg, -1) {
		sizes[m[2]] = m[1]
	}
	for text, size := range map[string]string{"i−1": "9.1", "i+1": "7", ")": "10", "A  (of x": "10", "O-BELM, N = 10:  x": "13"} {
		if sizes[text] != size {
			t.Errorf("text %q: font-size %q, want %s (all texts: %v)", text, sizes[text], size, sizes)
		}
	}
	if _, err := PNG(p, 0, 0); err != nil {
		t.Fatal(err)
	}

	fnt := font.From(sansFont, 10)
	w, _, _ := textHandler.Box("x_{i+1}", fnt)
	face, sub := textHandler.faces(fnt)
	if want := face.Width("x") + sub.Width("i+1"); w != want {
		t.Errorf("Box width of x_{i+1} = %v, want %v", w, want)
	}
	if w0, _, _ := textHandler.Box("scaled_linear", fnt); w0 != face.Width("scaled_linear") {
		t.Errorf("plain text is measured as text.Plain does")
	}
}
