package sd

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/hub"
	"github.com/belmlab/workbench/belm/study"
)

func loadTiny(t testing.TB, dt dtypes.DType) *Model {
	t.Helper()
	m, err := Load(tinyDir, Options{DType: dt, Backend: "go"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// testImages are n smooth 3-channel pictures in [−1, 1] (gradients and a disc), an image's
// worth of structure for the VAE without a file.
func testImages(size, n int) []float64 {
	x := make([]float64, 0, n*3*size*size)
	for k := range n {
		for c := range 3 {
			for i := range size {
				for j := range size {
					u, v := float64(i)/float64(size)-0.5, float64(j)/float64(size)-0.5
					val := 0.8 * math.Sin(3*u+float64(c+k)) * math.Cos(2*v-float64(k))
					if u*u+v*v < 0.05*float64(k+1) {
						val = 0.9 - 0.3*float64(c)
					}
					x = append(x, val)
				}
			}
		}
	}
	return x
}

// The tiny folder loads as SD 1.5 does: every part found, the parts agreeing, the image
// size from the UNet's sample_size times the VAE's factor (16·8 = 128), the reference
// scripts' linspace timesteps, set_alpha_to_one false, prompts embedded to [77, 32].
func TestLoadTiny(t *testing.T) {
	m := loadTiny(t, dtypes.Float32)
	if !IsStableDiffusion(m.Hub) || m.Pipeline.SampleSize() != 128 || m.Pipeline.LatentShape()[1] != 16 {
		t.Fatalf("tiny SD: image %v, latent %v", m.Pipeline.ImageShape(), m.Pipeline.LatentShape())
	}
	sc := m.Pipeline.Schedule.Config
	if sc.TimestepSpacing != "linspace" || sc.SetAlphaToOne == nil || *sc.SetAlphaToOne || sc.BetaSchedule != "scaled_linear" {
		t.Errorf("scheduler %+v: want the reference SD scripts' DDIM (linspace, set_alpha_to_one false, scaled_linear)", sc)
	}
	g, err := m.Pipeline.Grid(10)
	if err != nil || g.Net[10].T != 999 || g.Net[1].T != 0 {
		t.Errorf("N = 10 grid: top %v, last %v (%v); want 999 and 0", g.Net[10].T, g.Net[1].T, err)
	}
	emb, shape, err := m.Embed("a photo of a dog", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(emb) != 2 || len(shape) != 2 || shape[0] != 77 || shape[1] != 32 || len(emb[0]) != 77*32 {
		t.Fatalf("embeddings %d × %v", len(emb), shape)
	}
	if d := belm.Compare(emb[0], emb[1], 1).MaxAbs; d < 1e-3 {
		t.Errorf("a prompt and the empty prompt embed %.2e apart", d)
	}
}

// Exact inversion through the whole tiny SD pipeline (VAE latents, text conditioning,
// guidance w = 3, with and without a frozen part, 64×64 images: 8×8 latents), checked in
// both precisions:
//   - float64: O-BELM, EDICT and BDIA reconstruct the input's latent to ≤ 1e-10 relative
//     (measured 4e-14 … 4e-12), DDIM does not (> 1e-4; measured ~76: its inversion is not
//     exact and this random-weight UNet at w = 3 is far from smooth), and an edit whose
//     prompt is the original's returns the input's latent as exactly;
//   - float32: the same round trip is exact up to rounding amplified as in float64: the
//     error in units of float32's roundoff stays within 10× the float64 error in units of
//     float64's (measured 1.5–1.7×: the amplification is the model's, not the precision's).
//     With these random weights and w = 3 it is large — 350 to 39,000 roundoffs: O-BELM's
//     float32 error is 2e-4 of max |z₀| (5e-7 of the largest latent of the pass), EDICT's
//     and BDIA's 4e-3 — so the 1e-5 a trained model would give is not reached here.
func TestExactEditing(t *testing.T) {
	type tcase struct {
		sampler string
		freeze  int
		exact   bool
	}
	cases := []tcase{{"belm", 0, true}, {"belm", 2, true}, {"edict", 2, true}, {"bdia", 0, true}, {"ddim", 0, false}}
	amp := map[tcase]float64{} // float64 error / float64 unit roundoff
	for _, dt := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
		m, err := Load(tinyDir, Options{DType: dt, Backend: "go", Size: 64})
		if err != nil {
			t.Fatal(err)
		}
		orig, err := m.Conditioning("a photo of a dog", "", 3)
		if err != nil {
			t.Fatal(err)
		}
		edit, err := m.Conditioning("a photo of a cat", "", 3)
		if err != nil {
			t.Fatal(err)
		}
		u := map[dtypes.DType]float64{dtypes.Float64: 0x1p-53, dtypes.Float32: 0x1p-24}[dt]
		x := testImages(64, 1)
		for _, tc := range cases {
			s, err := m.Pipeline.Sampler(tc.sampler, belm.DefaultSamplerOptions, false)
			if err != nil {
				t.Fatal(err)
			}
			cfg := study.EditConfig{Sampler: s, N: 8, Freeze: tc.freeze, Images: x, Batch: 1, Original: orig, Edited: edit}
			r, err := study.Edit(context.Background(), m.Pipeline, cfg)
			if err != nil {
				t.Fatal(err)
			}
			rel := belm.Compare(r.Reconstructed, r.Latents, 0).MaxAbs
			t.Logf("%s %s F=%d: reconstruction %.2e of max |z₀| (%.0f roundoffs), edit moved the latents by %.3f RMS", dt, tc.sampler, tc.freeze, rel, rel/u, r.EditDistance)
			switch {
			case !tc.exact:
				if rel < 1e-4 {
					t.Errorf("%s %s: DDIM reconstructs to %.2e: its inversion should not be exact", dt, tc.sampler, rel)
				}
			case dt == dtypes.Float64:
				amp[tc] = rel / u
				if rel > 1e-10 {
					t.Errorf("float64 %s F=%d: reconstruction error %.2e relative > 1e-10", tc.sampler, tc.freeze, rel)
				}
			case rel/u > 10*max(amp[tc], 1):
				t.Errorf("float32 %s F=%d: %.0f roundoffs, over 10× float64's %.0f", tc.sampler, tc.freeze, rel/u, amp[tc])
			}
			if r.EditDistance < 1e-3 {
				t.Errorf("%s %s: the edit moved the latents by %.2e only", dt, tc.sampler, r.EditDistance)
			}
			if tc.exact && tc.freeze == 0 && dt == dtypes.Float64 {
				cfg.Edited = orig
				same, err := study.Edit(context.Background(), m.Pipeline, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if d := belm.Compare(same.Edited, same.Latents, 0).MaxAbs; d > 1e-10 {
					t.Errorf("%s: an edit to the original prompt moved the latents by %.2e relative", tc.sampler, d)
				}
			}
		}
	}
}

// Bad input: a prompt over 75 tokens, a folder without the SD parts, a tokenizer from
// another model (the real CLIP vocabulary beside the tiny text encoder), a bad spacing.
func TestBadInput(t *testing.T) {
	m := loadTiny(t, dtypes.Float32)
	long := strings.Repeat("a very long prompt ", 30)
	if _, _, err := m.Embed(long); err == nil || !strings.Contains(err.Error(), "shorten it") {
		t.Errorf("a %d-character prompt: %v", len(long), err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(tinyDir)); err != nil {
		t.Fatal(err)
	}
	tok := loadOpenAI(t)
	if err := tok.WriteFolder(filepath.Join(dir, "tokenizer"), 0, "<|endoftext|>"); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, Options{Backend: "go"}); err == nil || !strings.Contains(err.Error(), "does not match the text encoder") {
		t.Errorf("the real tokenizer with the tiny text encoder: %v", err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "vae")); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, Options{Backend: "go"}); err == nil || !strings.Contains(err.Error(), "vae/") {
		t.Errorf("no vae/: %v", err)
	}
	if _, err := Load(tinyDir, Options{Backend: "go", TimestepSpacing: "linear"}); err == nil || !strings.Contains(err.Error(), "--timestep_spacing") {
		t.Errorf("spacing linear: %v", err)
	}
	h, err := hub.Resolve("../../data/fashion-mnist")
	if err != nil {
		t.Fatal(err)
	}
	if IsStableDiffusion(h) {
		t.Error("the Fashion-MNIST UNet folder is taken for Stable Diffusion")
	}
}

// A Hub id whose SD folder is in the Hugging Face cache (huggingface_hub's layout:
// models--org--name/snapshots/<rev>/, refs/main naming it) loads offline, every part found
// in the snapshot.
func TestLoadFromCache(t *testing.T) {
	cache := t.TempDir()
	repo := filepath.Join(cache, hub.RepoFolder("someone/tiny-sd"))
	if err := os.CopyFS(filepath.Join(repo, "snapshots", "0a1b2c"), os.DirFS(tinyDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "refs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte("0a1b2c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
	m, err := Load("someone/tiny-sd", Options{Backend: "go", Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	if m.Hub.Source != "cache" || !strings.HasPrefix(m.Hub.TextEncoderDir, filepath.Join(repo, "snapshots", "0a1b2c")) {
		t.Errorf("loaded from %s (%s), text encoder %s", m.Hub.Dir, m.Hub.Source, m.Hub.TextEncoderDir)
	}
	if _, err := Load("someone/not-there", Options{Backend: "go"}); err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("a model not in the cache, offline: %v", err)
	}
}

// SD 2.x predicts v: with prediction_type v_prediction in the scheduler config the pipeline
// converts the UNet's output to ε (ε = α v + σ x) in both directions, so inversion stays
// exact (O-BELM, float64, ≤ 1e-10 relative), and EpsOut returns the raw output and that ε.
func TestVPrediction(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(tinyDir)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "scheduler", "scheduler_config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), `"epsilon"`, `"v_prediction"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir, Options{DType: dtypes.Float64, Backend: "go", Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	if m.Pipeline.Schedule.Config.PredictionType != "v_prediction" {
		t.Fatalf("prediction type %q", m.Pipeline.Schedule.Config.PredictionType)
	}
	c, err := m.Conditioning("a photo", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := m.Pipeline.Sampler("belm", belm.DefaultSamplerOptions, false)
	r, err := study.Edit(context.Background(), m.Pipeline, study.EditConfig{Sampler: s, N: 6, Images: testImages(64, 1), Batch: 1, Original: c, Edited: c})
	if err != nil {
		t.Fatal(err)
	}
	if e := belm.Compare(r.Reconstructed, r.Latents, 0).MaxAbs; e > 1e-10 {
		t.Errorf("v-prediction O-BELM round trip %.2e > 1e-10", e)
	}
	x, _ := belm.NewTensor(belm.Normal(1, 4*8*8), dtypes.Float64, 1, 4, 8, 8)
	tt, _ := belm.NewTensor([]float64{500}, dtypes.Float64, 1)
	ctx, _ := belm.NewTensor(c.Cond, dtypes.Float64, 1, 77, 32)
	out, eps, err := m.Pipeline.EpsOut(x, tt, ctx)
	if err != nil {
		t.Fatal(err)
	}
	ov, _ := belm.Values(out)
	ev, _ := belm.Values(eps)
	xv, _ := belm.Values(x)
	lv := m.Pipeline.Schedule.Level(500)
	for i := range ov {
		if want := lv.Alpha*ov[i] + lv.Sigma*xv[i]; math.Abs(ev[i]-want) > 1e-12 {
			t.Fatalf("ε[%d] = %g, want α v + σ x = %g", i, ev[i], want)
		}
	}
	// The runner converts the same way: one DDIM step (no guidance) equals the step by hand
	// from EpsOut's ε, x' = α'·(x − σ ε)/α + σ' ε (float64 rounding: ≤ 1e-12).
	one, err := m.Conditioning("a photo", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	cond, _, _, err := one.Condition(1, dtypes.Float64)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Pipeline.Runner.SetConditioning(cond, nil, 1); err != nil { // Run is the runner's: set it there
		t.Fatal(err)
	}
	g, _ := m.Pipeline.Grid(6)
	ddim, _ := m.Pipeline.Sampler("ddim", belm.DefaultSamplerOptions, false)
	st, err := m.Pipeline.Runner.Run(ddim, g, belm.State{Level: 6, Latents: []*tensors.Tensor{x}}, 5)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := belm.Values(st.X())
	tt6, _ := belm.NewTensor([]float64{g.Net[6].T}, dtypes.Float64, 1)
	ctx1, _ := belm.NewTensor(one.Cond, dtypes.Float64, 1, 77, 32)
	x6, _ := belm.NewTensor(xv, dtypes.Float64, 1, 4, 8, 8) // the runner may have donated x's buffer
	_, eps6, err := m.Pipeline.EpsOut(x6, tt6, ctx1)
	if err != nil {
		t.Fatal(err)
	}
	e6, _ := belm.Values(eps6)
	a6, s6, a5, s5 := g.Levels[6].Alpha, g.Levels[6].Sigma, g.Levels[5].Alpha, g.Levels[5].Sigma
	for i := range got {
		if want := a5*(xv[i]-s6*e6[i])/a6 + s5*e6[i]; math.Abs(got[i]-want) > 1e-12 {
			t.Fatalf("runner's v-prediction DDIM step [%d] = %.15g, by hand %.15g", i, got[i], want)
		}
	}
}
