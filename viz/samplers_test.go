package viz

import (
	"fmt"
	"image/color"
	"testing"

	"github.com/belmlab/workbench/belm"
)

// Every registered sampler is drawn with its registry label and colour under its name, its
// aliases and its label, and has a glyph of its own (keyed by name or family); k-step BELM
// members share the family's cross whatever the spelling.
func TestSamplerStylesFromRegistry(t *testing.T) {
	for _, info := range belm.Samplers() {
		want := color.RGBA{}
		if info.Color != "" {
			_, err := fmt.Sscanf(info.Color, "#%02X%02X%02X", &want.R, &want.G, &want.B)
			if err != nil {
				t.Fatalf("%s: colour %q: %v", info.Name, info.Color, err)
			}
			want.A = 0xFF
		}
		for _, n := range append([]string{info.Name, info.Label}, info.Aliases...) {
			s := styleOf(n)
			if s.label != info.Label || (info.Color != "" && s.color != want) {
				t.Errorf("%q: label %q colour %v, registry %q %s", n, s.label, s.color, info.Label, info.Color)
			}
		}
		if _, ok := samplerGlyphs[info.Name]; !ok && samplerGlyphs[info.Family] == nil {
			t.Errorf("%s has no glyph", info.Name)
		}
	}
	for _, n := range []string{"belm4", "belm-k4", "BELM k=4", "belm_k4"} {
		s := styleOf(n)
		if s.label != "BELM k=4" || s.color != styleOf("belm4").color || s.glyph != (crossGlyph{}) {
			t.Errorf("%q: %+v, want belm4's label, colour and the cross", n, s)
		}
	}
	if c, ok := hexColor("#12AB9f"); !ok || c != (color.RGBA{0x12, 0xAB, 0x9F, 0xFF}) {
		t.Errorf("hexColor: %v %v", c, ok)
	}
	for _, bad := range []string{"", "12AB9F", "#12AB9", "#12AB9FF", "#GGGGGG"} {
		if _, ok := hexColor(bad); ok {
			t.Errorf("hexColor(%q) accepted", bad)
		}
	}
}
