package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belmlab/workbench/data/fashionmnist"
)

// The shipped Fashion-MNIST model and classifier, from this package's folder.
const (
	fashionModel      = "../../data/fashion-mnist"
	fashionClassifier = "../../data/fashion-mnist/classifier.safetensors"
)

func needFashionMNIST(t *testing.T) {
	t.Helper()
	if _, err := fashionmnist.Load(fashionmnist.Dir(), fashionmnist.Test); err != nil {
		t.Skipf("Fashion-MNIST is not installed (%v): `%s`", err, fashionmnist.InstallHint)
	}
	for _, f := range []string{filepath.Join(fashionModel, "config.json"), fashionClassifier} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("the shipped model is incomplete: %v", err)
		}
	}
}

// The claim on the trained model, end to end through the CLI: in float32, the exact
// samplers reconstruct real test images to ≤ 1e-5 (MSE, [−1, 1]), DDIM only to ~1e-2.
func TestFashionMNISTReconstruction(t *testing.T) {
	needFashionMNIST(t)
	out := filepath.Join(t.TempDir(), "recon")
	js := capture(t, func() error {
		return runReconstruct([]string{"--model_id", fashionModel, "--dataset", "fashion-mnist", "--test_num", "4", "--batch_size", "4",
			"--sampler_type", "ddim,edict,bdia,belm", "--num_inference_steps", "10", "--save_dir", out, "--format", "json", "--quiet"})
	})
	var res struct {
		Images  int `json:"images"`
		Summary []struct {
			Sampler string   `json:"sampler"`
			N       int      `json:"num_inference_steps"`
			Latent  float64  `json:"mse_latent"`
			PM1     float64  `json:"mse_pm1"`
			Paper   *float64 `json:"paper_table5_latent_mse"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if res.Images != 4 || len(res.Summary) != 4 {
		t.Fatalf("want 4 images × 4 samplers:\n%s", js)
	}
	for _, s := range res.Summary {
		t.Logf("%-5s N=%d: MSE latent %.2e, [-1,1] %.2e", s.Sampler, s.N, s.Latent, s.PM1)
		if s.Paper == nil {
			t.Errorf("%s N=10: no paper number next to it", s.Sampler)
		}
		if s.Sampler == "ddim" {
			// DDIM's inversion error on this model at N = 10: ~1e-2 to 1e-1 (the paper: 0.414 on SD latents).
			if !(s.Latent > 1e-3 && s.Latent < 1) {
				t.Errorf("DDIM: latent MSE %.2e, expected ~1e-2", s.Latent)
			}
		} else if !(s.Latent <= 1e-5) {
			// float32 rounding, amplified by at most 10 steps of the exact inverse.
			t.Errorf("%s: latent MSE %.2e > 1e-5: inversion is not exact", s.Sampler, s.Latent)
		}
	}
	for _, f := range []string{"reconstruction.csv", "reconstruction.json", "reconstruction.svg", "reconstruction.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	noTempFiles(t, out)
}

// belm frechet, small: every row has a finite positive distance, the grids and files exist.
func TestFrechetCommand(t *testing.T) {
	needFashionMNIST(t)
	out := filepath.Join(t.TempDir(), "fd")
	args := []string{"--model_id", fashionModel, "--classifier", fashionClassifier, "--num_samples", "21", "--batch_size", "7", "--num_reference", "300",
		"--sampler_type", "ddim,belm", "--num_inference_steps", "5", "--grid_size", "4", "--format", "json", "--quiet"}
	js := capture(t, func() error { return runFrechet(append(args, "--save_dir", out)) })
	var res struct {
		Gamma float64 `json:"bdia_gamma"`
		Floor struct {
			FD float64 `json:"frechet_distance"`
		} `json:"data_floor"`
		Results []struct {
			Sampler string  `json:"sampler"`
			FD      float64 `json:"frechet_distance"`
			Samples int     `json:"num_samples"`
			Grid    string  `json:"grid"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if len(res.Results) != 2 || res.Gamma != 0.1 {
		t.Fatalf("want 2 rows and Table 3's γ = 0.1:\n%s", js)
	}
	for _, r := range res.Results {
		// 20 samples against 10,000 test images: the small-sample bias alone is large, but
		// the distance is finite and positive.
		if !(r.FD > 0 && !math.IsInf(r.FD, 0)) || r.Samples != 21 {
			t.Errorf("%s: Fréchet distance %g of %d samples", r.Sampler, r.FD, r.Samples)
		}
		if img := decodePNG(t, r.Grid); img.Bounds().Dx() < 2*28 {
			t.Errorf("%s grid is %v", r.Sampler, img.Bounds())
		}
	}
	if !(res.Floor.FD > 0) {
		t.Errorf("data floor %g", res.Floor.FD)
	}
	for _, f := range []string{"frechet.csv", "frechet.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	noTempFiles(t, out)

	// The same run in 3 shards (a batch each), merged: the same distances to 1e-10 (the
	// moments add in another order), the same grids.
	shards := t.TempDir()
	for i := range 3 {
		capture(t, func() error {
			return runFrechet(append(args, "--save_dir", filepath.Join(shards, fmt.Sprint(i)), "--shard", fmt.Sprintf("%d/3", i)))
		})
	}
	merged := filepath.Join(t.TempDir(), "merged")
	mjs := capture(t, func() error {
		return runMerge([]string{"--inputs", filepath.Join(shards, "*"), "--save_dir", merged, "--format", "json"})
	})
	var m struct {
		Results []struct {
			FD float64 `json:"frechet_distance"`
			N  int     `json:"num_samples"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(mjs), &m); err != nil || len(m.Results) != 2 {
		t.Fatalf("merged: %v\n%s", err, mjs)
	}
	for i, r := range m.Results {
		if d := math.Abs(r.FD - res.Results[i].FD); d > 1e-10 || r.N != 21 {
			t.Errorf("%s: merged %v (%d samples) vs whole run %v: |Δ| = %.2e", res.Results[i].Sampler, r.FD, r.N, res.Results[i].FD, d)
		}
		t.Logf("%s: Fréchet distance, whole run %.12g, 3 shards merged %.12g", res.Results[i].Sampler, res.Results[i].FD, r.FD)
	}
	a, _ := os.ReadFile(filepath.Join(out, "samples_belm_N5.png"))
	b, _ := os.ReadFile(filepath.Join(merged, "samples_belm_N5.png"))
	if len(a) == 0 || string(a) != string(b) {
		t.Error("the merged grid differs from the whole run's")
	}
}

// Interpolation between inverted test images, all pairs in one grid too.
func TestInterpolateDataset(t *testing.T) {
	needFashionMNIST(t)
	out := filepath.Join(t.TempDir(), "interp")
	capture(t, func() error {
		return runInterpolate([]string{"--model_id", fashionModel, "--dataset", "fashion-mnist", "--test_num", "2", "--num_inference_steps", "5",
			"--num_weights", "3", "--save_dir", out, "--quiet"})
	})
	img := decodePNG(t, filepath.Join(out, "all_belm_inter_whole_5.png"))
	if b := img.Bounds(); b.Dx() < 3*28 || b.Dy() < 2*28 {
		t.Errorf("grid of 2 pairs × 3 weights is %v", b)
	}
}

func TestDatasetErrors(t *testing.T) {
	needFashionMNIST(t)
	dir := t.TempDir()
	if err := runReconstruct([]string{"--model_id", fashionModel, "--dataset", "cifar10", "--save_dir", dir, "--quiet"}); err == nil || !strings.Contains(err.Error(), "fashion-mnist") {
		t.Errorf("unknown dataset: %v", err)
	}
	if err := runReconstruct([]string{"--model_id", tinyModel(t), "--dataset", "fashion-mnist", "--save_dir", dir, "--quiet"}); err == nil || !strings.Contains(err.Error(), "1-channel") {
		t.Errorf("3-channel model on Fashion-MNIST: %v", err)
	}
	if err := runReconstruct([]string{"--model_id", fashionModel, "--dataset", "fashion-mnist", "--directory", dir, "--save_dir", dir, "--quiet"}); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Errorf("two sources: %v", err)
	}
	if err := runFrechet([]string{"--model_id", fashionModel, "--classifier", filepath.Join(dir, "none.safetensors"), "--num_samples", "4", "--quiet"}); err == nil || !strings.Contains(err.Error(), "belm classifier") {
		t.Errorf("missing classifier: %v", err)
	}
}
