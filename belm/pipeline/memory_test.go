package pipeline

import (
	"testing"

	"github.com/belmlab/workbench/belm/unet"
)

// The VAE decode's worst operation, by hand for SD 1.5 at 512×512: the last up block's
// first resnet (256 → 128 channels at 512²) holds its input, 256·s², and conv1's
// (256 + 128)·s² plus, on the pure-Go backend, 18·256·s² im2col patches: 5248·s² values
// (1.38e9, 5.5 GB in float32) on go, 640·s² without patches.
func TestVAEDecodeValues(t *testing.T) {
	s2 := 512.0 * 512
	cfg := unet.SD15VAEConfig()
	if got, want := vaeDecodeValues(cfg, 512, 18), 5248*s2; got != want {
		t.Errorf("go: %g values, want %g", got, want)
	}
	if got, want := vaeDecodeValues(cfg, 512, 0), 640*s2; got != want {
		t.Errorf("onnx: %g values, want %g", got, want)
	}
}

// SD 1.5's UNet: the 8-head attention maps at the full latent side dominate the estimate,
// 2·8·N² values with N = side² (scores and probabilities of one transformer), which the
// conditional walk must count: the estimate lies between that and 1.5× it, at the config's
// side 64 and at 96 (a 768×768 image), where it grows as side⁴.
func TestPerImageValuesSD(t *testing.T) {
	for _, side := range []int{64, 96} {
		cfg := unet.SD15Config()
		cfg.SampleSize = &side
		n := float64(side * side)
		maps := 2 * 8 * n * n
		if got := float64(PerImageValues(cfg)); got < maps || got > 1.5*maps {
			t.Errorf("side %d: %g values an image, want within [1, 1.5]× the attention maps' %g", side, got, maps)
		}
	}
}
