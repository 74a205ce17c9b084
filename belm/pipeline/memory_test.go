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
