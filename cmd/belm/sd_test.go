package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/belmlab/workbench/internal/fixtures"
)

// tinySD is the tiny Stable Diffusion folder the project ships (assembled from the SD
// fixtures: belm/sd.AssembleTiny).
const tinySD = "../../data/tiny-sd"

// belm edit on the tiny SD folder, as image_editing.py: the reference's file names, the
// reconstruction under --ori_prompt exact for O-BELM (max |Δz| ≤ 1e-4 in float32 at
// w = 2, 10 steps, F = 2 on these random weights: measured 1.2e-5) and not for DDIM (> 1e-3),
// the edit moving the latents, and with --res_prompt = --ori_prompt the edit is the input.
func TestEditCommand(t *testing.T) {
	img := filepath.Join(testImages(t, 1), "img0.png")
	type result struct {
		Result struct {
			Reconstruction struct {
				MaxAbs float64 `json:"max_abs"`
			} `json:"reconstruction"`
			EditRMS float64 `json:"edit_rms"`
		} `json:"result"`
		Files   map[string]string `json:"files"`
		Sampled bool              `json:"sample_latents"`
		Seed    uint64            `json:"seed"`
	}
	edit := func(sampler, res string, more ...string) (string, result) {
		out := filepath.Join(t.TempDir(), "edit")
		capture(t, func() error {
			return runEdit(append([]string{"--model_id", tinySD, "--ori_im_path", img, "--num_inference_steps", "10", "--freeze_step", "2",
				"--resolution", "64", "--sampler_type", sampler, "--res_prompt", res, "--save_dir", out, "--quiet"}, more...))
		})
		b, err := os.ReadFile(filepath.Join(out, "edit.json"))
		if err != nil {
			t.Fatal(err)
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		noTempFiles(t, out)
		return out, r
	}
	out, r := edit("belm", "A Dalmatian")
	for _, name := range []string{"ori_A_dog_res_A_Dalmatian_belm_infer10_free2_g2.png", "ori_A_dog_res_A_Dalmatian_belm_infer10_free2_g2_recon.png", "ori_A_dog_res_A_Dalmatian_belm_infer10_free2_g2_grid.png"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
	}
	t.Logf("belm: reconstruction %.2e, edit %.3f", r.Result.Reconstruction.MaxAbs, r.Result.EditRMS)
	if r.Result.Reconstruction.MaxAbs > 1e-4 || r.Result.EditRMS < 1e-3 {
		t.Errorf("belm edit: reconstruction %.2e, edit RMS %.2e", r.Result.Reconstruction.MaxAbs, r.Result.EditRMS)
	}
	if _, d := edit("ddim", "A Dalmatian"); d.Result.Reconstruction.MaxAbs < 1e-3 {
		t.Errorf("ddim reconstructs to %.2e: its inversion is not exact", d.Result.Reconstruction.MaxAbs)
	}
	if _, s := edit("belm", "A dog"); s.Result.EditRMS > 1e-4 {
		t.Errorf("an edit to the original prompt moved the latents by %.2e RMS", s.Result.EditRMS)
	}
	// --sample_latents encodes with a posterior draw: recorded, seeded, and another draw
	// (seed) is another edit.
	_, s1 := edit("belm", "A Dalmatian", "--sample_latents", "--seed", "1")
	_, s2 := edit("belm", "A Dalmatian", "--sample_latents", "--seed", "2")
	if !s1.Sampled || s1.Seed != 1 || s1.Result.EditRMS == s2.Result.EditRMS || s1.Result.EditRMS == r.Result.EditRMS {
		t.Errorf("--sample_latents: recorded %v seed %d; edit RMS %g (seed 1), %g (seed 2), %g (mean)", s1.Sampled, s1.Seed, s1.Result.EditRMS, s2.Result.EditRMS, r.Result.EditRMS)
	}
}

// belm txt2img and belm reconstruct run on the tiny SD folder: one PNG an image, named as
// sd_sampling.py does (with the seed), and the reconstruction table with the exact
// samplers' latent error at rounding level (≤ 1e-6 in float32 at w = 1, measured ~1e-10).
func TestTxt2ImgAndReconstructSD(t *testing.T) {
	out := filepath.Join(t.TempDir(), "t2i")
	capture(t, func() error {
		return runTxt2Img([]string{"--model_id", tinySD, "--num_inference_steps", "5", "--resolution", "64", "--batch_size", "2",
			"--prompt", "a red car", "--save_dir", out, "--quiet"})
	})
	for i := range 2 {
		if _, err := os.Stat(filepath.Join(out, "belm_infer5_g4_seed38018716_"+string(rune('0'+i))+".png")); err != nil {
			t.Error(err)
		}
	}
	rec := filepath.Join(t.TempDir(), "rec")
	capture(t, func() error {
		return runReconstruct([]string{"--model_id", tinySD, "--directory", testImages(t, 2), "--resolution", "64", "--num_inference_steps", "5",
			"--sampler_type", "belm,ddim", "--save_dir", rec, "--quiet", "--batch_size", "2"})
	})
	b, err := os.ReadFile(filepath.Join(rec, "reconstruction.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Summary []struct {
			Sampler string  `json:"sampler"`
			Latent  float64 `json:"mse_latent"`
			PM1     float64 `json:"mse_pm1"`
		} `json:"summary"`
		Floor *struct {
			PM1 float64 `json:"mse_pm1"`
		} `json:"codec_floor"`
		AE float64 `json:"paper_table2_ae_floor"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Summary) != 2 || doc.Summary[0].Latent > 1e-6 || doc.Summary[1].Latent < 1e-4 {
		t.Errorf("SD reconstruction summary %+v: want belm's latent MSE ≤ 1e-6, DDIM's > 1e-4", doc.Summary)
	}
	// The VAE's own round trip is the exact sampler's pixel error, to float32 rounding
	// through the decoder (≤ 1e-4 apart; measured ~1e-7).
	if doc.Floor == nil || doc.AE != 0.004 || math.Abs(doc.Floor.PM1-doc.Summary[0].PM1) > 1e-4 {
		t.Errorf("codec floor %+v (paper AE %g) against belm's pixel MSE %g", doc.Floor, doc.AE, doc.Summary[0].PM1)
	}
}

// belm eps on a conditional UNet reads encoder_hidden_states and reproduces diffusers'
// UNet2DConditionModel output (fixture sd_unet_io: ≤ 1e-5 in float32), writing the raw
// output and ε (equal for an ε-prediction model).
func TestEpsConditional(t *testing.T) {
	io := fixtures.File(t, "sd", "sd_unet_io.safetensors")
	out := filepath.Join(t.TempDir(), "eps.safetensors")
	capture(t, func() error {
		return runEps([]string{"--model_id", tinySD, "--input", io, "--output", out, "--quiet"})
	})
	for _, name := range []string{"out", "eps"} {
		worst := tensorDiff(t, out, name, io, "eps")
		t.Logf("%s vs diffusers: %.2e", name, worst)
		if worst > 1e-5 {
			t.Errorf("%s differs from diffusers' UNet2DConditionModel by %.2e > 1e-5", name, worst)
		}
	}
	want, err := safetensors.Open(io)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	// Without the text embeddings: an error naming them, nothing written.
	noCtx := filepath.Join(t.TempDir(), "x.safetensors")
	x, xs, _ := want.Float64("x")
	tv, ts, _ := want.Float64("t")
	if err := safetensors.Write(noCtx, []safetensors.Tensor{safetensors.FromFloat64("x", xs, x), safetensors.FromFloat64("t", ts, tv)}, nil); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	err = runEps([]string{"--model_id", tinySD, "--input", noCtx, "--output", bad, "--quiet"})
	if err == nil || !strings.Contains(err.Error(), "encoder_hidden_states") {
		t.Errorf("no encoder_hidden_states: %v", err)
	}
	if _, serr := os.Stat(bad); serr == nil {
		t.Error("an output was written for a failed eps")
	}
}
