package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/quality"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/data/fashionmnist"
)

// The shipped Fashion-MNIST model and classifier, from this package's folder.
const (
	fashionModel      = "../../data/fashion-mnist"
	fashionClassifier = "../../data/fashion-mnist/classifier.safetensors"
)

// needFashionMNIST fails the test when Debian's Fashion-MNIST is not installed, naming the
// fix: `make test` installs it (`make data`), so a missing data set there is a broken
// setup, not a reason to pass. Only -short skips these tests.
func needFashionMNIST(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Fashion-MNIST and the shipped model (-short)")
	}
	if _, err := fashionmnist.Load(fashionmnist.Dir(), fashionmnist.Test); err != nil {
		t.Fatalf("Fashion-MNIST is not installed (%v): run `make data` or `%s` (or set $%s); -short skips this test", err, fashionmnist.InstallHint, fashionmnist.EnvDir)
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

// belm frechet, small, checked against an independent computation of the protocol: every
// row's distance is the Fréchet distance between the classifier features of 21 samples (the
// noise of seeds 1, 2, 3 in batches of 7, 8-bit quantised) and of the first 300 test
// images, and the data floor that of the first 21 training images. They agree to 1e-4
// relative: the features are float32 and the study takes them in batches of 7 where this
// test takes all at once (another summation order for the go backend's float32 matmuls).
// Samples are closer to the test split than uniform noise is (a model that learned nothing
// would not be). Three shards, merged, are the same run: each shard measured its own batch
// (7 samples), the merged distances equal the whole run's to 1e-10 relative (the same
// moments added in another order) and the merged grid is the whole run's, byte for byte.
func TestFrechetCommand(t *testing.T) {
	needFashionMNIST(t)
	out := filepath.Join(t.TempDir(), "fd")
	args := []string{"--model_id", fashionModel, "--classifier", fashionClassifier, "--num_samples", "21", "--batch_size", "7", "--num_reference", "300",
		"--sampler_type", "ddim,belm", "--num_inference_steps", "3", "--grid_size", "4", "--format", "json", "--quiet"}
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
	if len(res.Results) != 2 || res.Gamma != 0.1 || res.Results[0].Sampler != "ddim" || res.Results[1].Sampler != "belm" {
		t.Fatalf("want rows ddim and belm and Table 3's γ = 0.1:\n%s", js)
	}
	want := frechetByHand(t, []string{"ddim", "belm"})
	for i, r := range res.Results {
		t.Logf("%s: Fréchet distance %.6g (by hand %.6g; uniform noise %.6g)", r.Sampler, r.FD, want.rows[i], want.noise)
		if r.Samples != 21 || math.Abs(r.FD-want.rows[i]) > 1e-4*want.rows[i] {
			t.Errorf("%s: Fréchet distance %.8g of %d samples, by hand %.8g of 21", r.Sampler, r.FD, r.Samples, want.rows[i])
		}
		if !(r.FD < want.noise) {
			t.Errorf("%s: samples at %.4g are not closer to the test split than uniform noise (%.4g)", r.Sampler, r.FD, want.noise)
		}
		if img := decodePNG(t, r.Grid); img.Bounds().Dx() != 2+2*(84+2) || img.Bounds().Dy() != 2+2*(84+2) {
			t.Errorf("%s grid is %v: want 2×2 tiles of 84 px (4 samples of 28×28, ×3)", r.Sampler, img.Bounds())
		}
	}
	t.Logf("data floor %.6g (by hand %.6g)", res.Floor.FD, want.floor)
	if math.Abs(res.Floor.FD-want.floor) > 1e-4*want.floor {
		t.Errorf("data floor %.8g, by hand %.8g", res.Floor.FD, want.floor)
	}
	for _, f := range []string{"frechet.csv", "frechet.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	noTempFiles(t, out)

	shards := t.TempDir()
	for i := range 3 {
		dir := filepath.Join(shards, fmt.Sprint(i))
		capture(t, func() error {
			return runFrechet(append(args, "--save_dir", dir, "--shard", fmt.Sprintf("%d/3", i)))
		})
		var f struct {
			Data study.FrechetData `json:"data"`
		}
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("shard-%d-of-3.json", i)))
		if err == nil {
			err = json.Unmarshal(b, &f)
		}
		if err != nil || len(f.Data.Parts) != 2 || f.Data.Parts[0].Moments.N != 7 || f.Data.Parts[1].Moments.N != 7 || (f.Data.Parts[0].Grid != "") != (i == 0) {
			t.Errorf("shard %d/3: want 2 parts of one batch (7 samples each), a grid in shard 0 only: %v %+v", i, err, f.Data.Parts)
		}
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
		if d := math.Abs(r.FD - res.Results[i].FD); d > 1e-10*res.Results[i].FD || r.N != 21 {
			t.Errorf("%s: merged %v (%d samples) vs whole run %v: |Δ| = %.2e", res.Results[i].Sampler, r.FD, r.N, res.Results[i].FD, d)
		}
		t.Logf("%s: Fréchet distance, whole run %.12g, 3 shards merged %.12g", res.Results[i].Sampler, res.Results[i].FD, r.FD)
	}
	a, _ := os.ReadFile(filepath.Join(out, "samples_belm_N3.png"))
	b, _ := os.ReadFile(filepath.Join(merged, "samples_belm_N3.png"))
	if len(a) == 0 || string(a) != string(b) {
		t.Error("the merged grid differs from the whole run's")
	}
}

// frechetWant is the protocol of TestFrechetCommand computed by hand.
type frechetWant struct {
	rows         []float64 // by sampler
	floor, noise float64
}

// frechetByHand computes TestFrechetCommand's numbers without package study: samples of the
// shipped model (float32, N = 3, seeds 1–3, batches of 7), the classifier's features of all
// of them at once, Fréchet distances to the first 300 test images; and the same for the
// first 21 training images (the floor) and 21 images of uniform noise.
func frechetByHand(t *testing.T, samplers []string) frechetWant {
	t.Helper()
	p, err := pipeline.Load(fashionModel, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := quality.LoadClassifier(fashionClassifier, "")
	if err != nil {
		t.Fatal(err)
	}
	testSet, err1 := fashionmnist.Load(fashionmnist.Dir(), fashionmnist.Test)
	trainSet, err2 := fashionmnist.Load(fashionmnist.Dir(), fashionmnist.Train)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	ref, err := quality.StatsOf(c, testSet.Float32(seq(300), 0))
	if err != nil {
		t.Fatal(err)
	}
	fd := func(x []float32) float64 {
		t.Helper()
		g, err := quality.StatsOf(c, x)
		if err != nil {
			t.Fatal(err)
		}
		d, err := quality.FrechetDistance(g, ref)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	var w frechetWant
	for _, name := range samplers {
		s, err := p.Sampler(name, belm.SamplerOptions{BDIAGamma: 0.1, EDICTP: 0.97}, true)
		if err != nil {
			t.Fatal(err)
		}
		var x []float64
		for k := range 3 {
			v, err := p.Sample(s, 3, pipeline.Noise(1+uint64(k), p.Size(7)), 7)
			if err != nil {
				t.Fatal(err)
			}
			x = append(x, v...)
		}
		w.rows = append(w.rows, fd(quality.Quantize(x)))
	}
	w.floor = fd(trainSet.Float32(seq(21), 0))
	u := belm.Uniform(1, p.ImageSize(21))
	for i := range u {
		u[i] = 2*u[i] - 1
	}
	w.noise = fd(quality.Quantize(u))
	return w
}

// Interpolation between inverted test images, all pairs in one grid: 2 rows of 3 tiles of
// 84 px (the model's 28×28 images ×3), whose endpoint tiles are the test images 0–3,
// 8-bit level for level: O-BELM's inversion in float32 is exact to ~1e-5 (the
// reconstruction test), far inside half a level (0.004 on the [−1, 1] scale).
func TestInterpolateDataset(t *testing.T) {
	needFashionMNIST(t)
	out := filepath.Join(t.TempDir(), "interp")
	capture(t, func() error {
		return runInterpolate([]string{"--model_id", fashionModel, "--dataset", "fashion-mnist", "--test_num", "2", "--num_inference_steps", "5",
			"--num_weights", "3", "--save_dir", out, "--quiet"})
	})
	img := decodePNG(t, filepath.Join(out, "all_belm_inter_whole_5.png"))
	if b := img.Bounds(); b.Dx() != 2+3*(84+2) || b.Dy() <= 2*(84+2) {
		t.Fatalf("grid of 2 pairs × 3 weights is %v", b)
	}
	ds, err := fashionmnist.Load(fashionmnist.Dir(), fashionmnist.Test)
	if err != nil {
		t.Fatal(err)
	}
	x := ds.Float64(seq(4), 0)
	for k := range 2 {
		for e, col := range []int{0, 2} {
			i := 2*k + e
			if d := maxLevelDiff(gridTile(t, img, 2, 3, 28, k, col), rgbOfLatent(t, x[i*784:(i+1)*784], 1, 28)); d != 0 {
				t.Errorf("pair %d, weight %d: the tile differs from test image %d by %d levels", k, e, i, d)
			}
		}
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

// belm loss on the shipped model: the held-out ε-MSE by timestep (16 test images, go). A
// trained model predicts ε far better than ε = 0 (MSE ≈ 1) once noise dominates, and its
// error falls with t (at t = 1, ε is almost invisible under the image: ~0.5 is expected).
// The numbers themselves are checked by hand in study's TestDenoisingError.
func TestLossCommand(t *testing.T) {
	needFashionMNIST(t)
	js := capture(t, func() error {
		return runLoss([]string{"--model_id", fashionModel, "--dataset", "fashion-mnist", "--test_num", "16", "--batch_size", "8",
			"--timesteps", "1,500,999", "--format", "json", "--quiet"})
	})
	var res lossResult
	if err := json.Unmarshal([]byte(js), &res); err != nil || len(res.Rows) != 3 {
		t.Fatalf("%v\n%s", err, js)
	}
	for _, r := range res.Rows {
		t.Logf("t = %d: ε-MSE %.4g over %d images", r.T, r.MSE, r.Images)
	}
	a, b, c := res.Rows[0].MSE, res.Rows[1].MSE, res.Rows[2].MSE
	if res.Rows[1].Images != 16 || !(a > b && b > c) || !(b < 0.03) || !(a < 1) {
		t.Errorf("ε-MSE at t = 1, 500, 999: %.4g, %.4g, %.4g; want falling, < 0.03 at 500 (ε = 0 scores ~1)", a, b, c)
	}
	err := runLoss([]string{"--model_id", fashionModel, "--dataset", "fashion-mnist", "--test_num", "2", "--timesteps", "1000", "--quiet"})
	if err == nil || !strings.Contains(err.Error(), "timestep 1000 outside [0, 1000)") {
		t.Errorf("timestep 1000: %v", err)
	}
}

// belm edict on the shipped model (4 samples, N = 10, go): the card's EDICT finding, headless.
// Invertible Eq. 9 at p = 0.97 ends far from the data (measured x₀ std 3.14 against DDIM's
// 0.58 here, 3.25 vs 0.66 on 64 samples; chains' final gap 8.03), the reference's ε(x)
// variant samples like DDIM (std 0.52, gap 1.11), and at p = 1 that variant is DDIM: both
// chains take DDIM's update, so x₀ equals DDIM's (measured 0; 1e-6 allows float32 reordering).
func TestEDICTCommand(t *testing.T) {
	needFashionMNIST(t)
	res, err := edictStudy([]string{"--model_id", fashionModel, "--num_inference_steps", "10", "--batch_size", "4",
		"--edict_p_values", "0.97,1", "--quiet"})
	if err != nil || len(res.Runs) != 4 {
		t.Fatalf("%v: %d runs, want 4", err, len(res.Runs))
	}
	for _, r := range res.Runs {
		s := r.Summary
		t.Logf("p %g %s: x0 std %.3g (DDIM %.3g), gap %.3g, from DDIM %.3g", s.P, s.Variant, s.X0Std, s.DDIMX0Std, s.Gap0, s.FromDDIM)
		switch {
		case s.Samples != 4 || s.N != 10 || len(r.Steps) != 10:
			t.Errorf("%+v: want 4 samples, N = 10 and its 10 steps (got %d)", s, len(r.Steps))
		case s.P == 0.97 && s.Variant == "eq9" && !(s.X0Std > 3*s.DDIMX0Std && s.Gap0 > 5):
			t.Errorf("Eq. 9, p 0.97: x0 std %.3g (DDIM %.3g), gap %.3g; want noise: > 3× DDIM's std, gap > 5", s.X0Std, s.DDIMX0Std, s.Gap0)
		case s.P == 0.97 && s.Variant == "eps_x" && !(math.Abs(s.X0Std/s.DDIMX0Std-1) < 0.25 && s.Gap0 < 2):
			t.Errorf("ε(x) variant, p 0.97: x0 std %.3g (DDIM %.3g), gap %.3g; want DDIM's std within 25 %%, gap < 2", s.X0Std, s.DDIMX0Std, s.Gap0)
		case s.P == 1 && s.Variant == "eps_x" && !(s.FromDDIM <= 1e-6):
			t.Errorf("ε(x) variant, p 1: %.3g from DDIM's x0, want 0", s.FromDDIM)
		}
	}
	err = runEDICT([]string{"--model_id", fashionModel, "--edict_p_values", "0.97,1.5", "--quiet"})
	if err == nil || !strings.Contains(err.Error(), `"1.5" is not a mixing p in (0, 1]`) {
		t.Errorf("p 1.5: %v", err)
	}
}
