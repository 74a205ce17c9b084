package pipeline

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/hub"
)

// tinyCache puts the tiny fixture model into a temporary Hugging Face cache under the id
// "test/tiny-cifar10" and returns the id.
func tinyCache(t *testing.T) string {
	t.Helper()
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
	snap := filepath.Join(cache, hub.RepoFolder("test/tiny-cifar10"), "snapshots", "abc")
	for from, to := range map[string]string{
		"../unet/testdata/tiny_cifar10_config.json":      hub.ConfigFile,
		"../unet/testdata/tiny_cifar10_unet.safetensors": hub.SafetensorsFile,
		"../testdata/ddpm_scheduler_config.json":         hub.SchedulerConfigFile,
	} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(snap, 0o755)
		if err := os.WriteFile(filepath.Join(snap, to), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return "test/tiny-cifar10"
}

func TestPipeline(t *testing.T) {
	id := tinyCache(t)
	p, err := Load(id, Options{DType: dtypes.Float64})
	if err != nil {
		t.Fatal(err)
	}
	if p.Model.Source != "cache" || p.SchedulerDefaulted || !p.Schedule.Config.ClipSample || p.SampleSize() != 8 || p.Channels() != 3 {
		t.Fatalf("pipeline: %+v", p)
	}
	ddim, _ := p.Sampler("ddim", belm.DefaultSamplerOptions, true)
	if d, ok := ddim.(belm.DDIM); !ok || d.Clip != 1 {
		t.Errorf("sampling DDIM should clip as DDIMPipeline does: %#v", ddim)
	}
	s, err := p.Sampler("belm", belm.DefaultSamplerOptions, true)
	if err != nil {
		t.Fatal(err)
	}
	noise := Noise(1, p.Size(2))
	x1, err := p.Sample(s, 4, noise, 2)
	if err != nil {
		t.Fatal(err)
	}
	x2, _ := p.Sample(s, 4, Noise(1, p.Size(2)), 2)
	for i := range x1 {
		if x1[i] != x2[i] {
			t.Fatal("same noise, different samples")
		}
	}
	imgs, err := p.Images(x1, 2)
	if err != nil || len(imgs) != 2 || imgs[0].Bounds().Dx() != 8 {
		t.Fatalf("images: %v %v", imgs, err)
	}
	// Exact inversion of the sample, and interpolation endpoints.
	st, err := p.Invert(s, 4, x1, 2)
	if err != nil {
		t.Fatal(err)
	}
	one, err := SplitState(st)
	if err != nil || len(one) != 2 || len(one[0].Latents) != 2 {
		t.Fatalf("split: %v %v", one, err)
	}
	mid, err := InterpolateStates(one[0], one[1], []float64{0, 0.5, 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	back, err := p.SampleFrom(s, 4, mid)
	if err != nil {
		t.Fatal(err)
	}
	n := p.Size(1)
	for _, c := range []struct{ got, want []float64 }{{back[:n], x1[:n]}, {back[2*n:], x1[n:]}} {
		if e := belm.Compare(c.got, c.want, 1).MaxAbs; e > 1e-10 {
			t.Errorf("interpolation endpoint reconstructs with error %.2e", e)
		}
	}
	if _, err := InterpolateStates(one[0], one[1], []float64{0.5}, true); err != nil {
		t.Errorf("per-channel: %v", err)
	}
	img01 := make([]float64, len(x1))
	for i := range img01 {
		img01[i] = float64(i%256)/127.5 - 1
	}
	es := ReconstructionErrors(img01, img01, 2)
	if m := Mean(es); m.Latent != 0 || m.PM1 != 0 || m.Unit > 1e-5 {
		t.Errorf("identical images: %+v", m)
	}
	if _, err := p.Grid(0); err == nil {
		t.Error("N=0 accepted")
	}
	if _, err := p.Sample(s, 4, noise[:5], 2); err == nil || !strings.Contains(err.Error(), "values") {
		t.Errorf("short noise: %v", err)
	}
}

func TestLoadImage(t *testing.T) {
	dir := t.TempDir()
	// 12×6 RGB: left and right thirds red and blue, the center square green.
	img := image.NewNRGBA(image.Rect(0, 0, 12, 6))
	for y := 0; y < 6; y++ {
		for x := 0; x < 12; x++ {
			c := color.NRGBA{0, 255, 0, 255}
			if x < 3 {
				c = color.NRGBA{255, 0, 0, 255}
			} else if x >= 9 {
				c = color.NRGBA{0, 0, 255, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	path := filepath.Join(dir, "a.png")
	f, _ := os.Create(path)
	png.Encode(f, img)
	f.Close()
	v, err := LoadImage(path, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Center crop: pure green, resized to 3×3.
	for i := 0; i < 9; i++ {
		if v[i] != -1 || v[9+i] != 1 || v[18+i] != -1 {
			t.Fatalf("center crop is not green: %v", v)
		}
	}
	// Grey → 3 equal channels; 1 channel takes the luma.
	g := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range g.Pix {
		g.Pix[i] = 51
	}
	gp := filepath.Join(dir, "sub", "g.png")
	os.MkdirAll(filepath.Dir(gp), 0o755)
	f, _ = os.Create(gp)
	png.Encode(f, g)
	f.Close()
	v, err = LoadImage(gp, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 16; i++ {
		if math.Abs(v[i]-(51/127.5-1)) > 1e-12 || v[i] != v[16+i] || v[i] != v[32+i] {
			t.Fatalf("grey: %v", v)
		}
	}
	paths, err := ListImages(dir)
	if err != nil || len(paths) != 2 {
		t.Errorf("ListImages: %v %v", paths, err)
	}
	if _, err := ListImages(t.TempDir()); err == nil {
		t.Error("empty folder accepted")
	}
	// The 8-bit round trip of ToImage is exact on 8-bit inputs.
	im, _ := ToImage(v, 3, 4, 4)
	if r, _, _, _ := im.At(1, 1).RGBA(); r>>8 != 51 {
		t.Errorf("ToImage: %d", r>>8)
	}
}

// set_alpha_to_one false (Stable Diffusion 1.x's scheduler config) makes DDIM end on
// ᾱ₀ = alphas_cumprod[0], as diffusers' DDIMScheduler does, in both directions; O-BELM keeps
// the clean endpoint, so its samples do not change at all.
func TestSetAlphaToOne(t *testing.T) {
	p, err := Load(tinyCache(t), Options{DType: dtypes.Float64})
	if err != nil {
		t.Fatal(err)
	}
	off := false
	sc := p.Schedule.Config
	sc.SetAlphaToOne = &off
	q, err := New(p.UNet, sc, Options{DType: dtypes.Float64})
	if err != nil {
		t.Fatal(err)
	}
	noise := Noise(5, p.Size(2))
	sample := func(p *Pipeline, name string) []float64 {
		s, err := p.Sampler(name, belm.DefaultSamplerOptions, true)
		if err != nil {
			t.Fatal(err)
		}
		x, err := p.Sample(s, 5, noise, 2)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, sampling := range []bool{true, false} {
		s, _ := q.Sampler("ddim", belm.DefaultSamplerOptions, sampling)
		d := s.(belm.DDIM)
		if want := math.Sqrt(q.Schedule.AlphasCumprod[0]); d.Final == nil || d.Final.Alpha != want || want == 1 {
			t.Errorf("sampling=%v: DDIM.Final = %+v, want α = √ᾱ₀ = %v", sampling, d.Final, want)
		}
		if s, _ := p.Sampler("ddim", belm.DefaultSamplerOptions, sampling); s.(belm.DDIM).Final != nil {
			t.Errorf("set_alpha_to_one true: DDIM.Final should be nil (the clean endpoint)")
		}
	}
	if a, b := sample(p, "belm"), sample(q, "belm"); maxAbsDiff(a, b) != 0 {
		t.Errorf("O-BELM changed with set_alpha_to_one: %g", maxAbsDiff(a, b))
	}
	// The last DDIM step lands on α₀ = √ᾱ₀ < 1 instead of 1: x̂₀ is scaled by α₀ (≈ 0.99995)
	// and gets σ₀·ε added, a small but non-zero change.
	if d := maxAbsDiff(sample(p, "ddim"), sample(q, "ddim")); !(d > 1e-6 && d < 0.1) {
		t.Errorf("DDIM with set_alpha_to_one false moved the samples by %g, want a small non-zero change", d)
	}
}

func maxAbsDiff(a, b []float64) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(a[i]-b[i]))
	}
	return m
}
