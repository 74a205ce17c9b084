package unet

import (
	"math"
	"testing"
)

// TestSleefSinCos checks the emulation of PyTorch's float32 sin/cos against the tiny
// fixture's t_proj (diffusers' sinusoidal embedding of t = [10, 500], PyTorch 1.13 CPU):
// bit for bit, where correctly rounded sin/cos differ.
func TestSleefSinCos(t *testing.T) {
	f := openIO(t)
	want, shape, err := f.Float32("t_proj")
	if err != nil {
		t.Fatal(err)
	}
	tv, _ := fixture(t, f, "t")
	half := shape[1] / 2
	freqs := sinusoidFreqs32(half, 1)
	// One 8-lane vector holds both rows (2×4): 500·f₀ ≥ 125 sends all lanes to Payne-Hanek.
	var args []float32
	for _, ts := range tv {
		for _, fr := range freqs {
			args = append(args, float32(ts)*fr)
		}
	}
	sin, cos := sleefSinCos32(args)
	diffSleef, diffCR := 0, 0
	for b := range tv {
		for k := 0; k < half; k++ {
			for j, got := range []float32{sin[b*half+k], cos[b*half+k]} {
				w := want[b*shape[1]+j*half+k]
				if got != w {
					diffSleef++
					t.Errorf("t=%g k=%d %s: SLEEF emulation %v, PyTorch %v", tv[b], k, []string{"sin", "cos"}[j], got, w)
				}
				a := float64(args[b*half+k])
				cr := float32(math.Sin(a))
				if j == 1 {
					cr = float32(math.Cos(a))
				}
				if cr != w {
					diffCR++
				}
			}
		}
	}
	t.Logf("entries differing from PyTorch: SLEEF emulation %d, correctly rounded %d (of %d)", diffSleef, diffCR, 2*len(args))
}
