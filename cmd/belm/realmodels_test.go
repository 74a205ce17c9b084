package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/safetensors"
)

// tinyModel lays out the tiny fixture UNet (the architecture of google/ddpm-cifar10-32 at
// 8×8) as a diffusers folder with google/ddpm-cifar10-32's scheduler config.
func tinyModel(t *testing.T) string {
	t.Helper()
	td := "../../belm/unet/testdata/"
	dir, err := pipeline.AssembleFolder(filepath.Join(t.TempDir(), "tiny"), td+"tiny_cifar10_config.json",
		td+"tiny_cifar10_unet.safetensors", "../../belm/testdata/ddpm_scheduler_config.json")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// testImages writes k small images (not square, one grey) for reconstruct/interpolate.
func testImages(t *testing.T, k int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "images")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < k; i++ {
		var img image.Image
		if i == 1 {
			g := image.NewGray(image.Rect(0, 0, 10, 12))
			for j := range g.Pix {
				g.Pix[j] = uint8(17 * j)
			}
			img = g
		} else {
			c := image.NewNRGBA(image.Rect(0, 0, 12, 9))
			for y := 0; y < 9; y++ {
				for x := 0; x < 12; x++ {
					c.SetNRGBA(x, y, color.NRGBA{uint8(20*x + 40*i), uint8(25 * y), uint8(60 + 10*(x^y)), 255})
				}
			}
			img = c
		}
		name := filepath.Join(dir, "img"+strconv.Itoa(i)+".png")
		if i == 2 {
			name = filepath.Join(dir, "sub", "img2.png")
		}
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return dir
}

// capture runs fn with os.Stdout redirected and returns what it printed.
func capture(t *testing.T, fn func() error) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	runErr := fn()
	w.Close()
	os.Stdout = old
	out := <-done
	if runErr != nil {
		t.Fatalf("%v\noutput:\n%s", runErr, out)
	}
	return out
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestSampleCommand(t *testing.T) {
	model := tinyModel(t)
	out := filepath.Join(t.TempDir(), "samples")
	args := []string{"--model_id", model, "--num_inference_steps", "3", "--batch_size", "2", "--test_num", "2", "--seed", "7", "--save_dir", out, "--quiet"}
	for _, s := range []string{"ddim", "edict", "bdia", "belm"} {
		capture(t, func() error { return runSample(append([]string{"--sampler_type", s}, args...)) })
		for _, seed := range []string{"7", "8"} {
			for i := 0; i < 2; i++ {
				img := decodePNG(t, filepath.Join(out, s+"_inference3_seed"+seed+"_"+strconv.Itoa(i)+".png"))
				if b := img.Bounds(); b.Dx() != 8 || b.Dy() != 8 {
					t.Errorf("%s: image is %v, want 8×8", s, b)
				}
			}
			decodePNG(t, filepath.Join(out, s+"_inference3_seed"+seed+"_grid.png"))
		}
	}
	// Seeded: the same run gives the same bytes.
	first, _ := os.ReadFile(filepath.Join(out, "belm_inference3_seed7_0.png"))
	out2 := filepath.Join(t.TempDir(), "again")
	capture(t, func() error {
		return runSample([]string{"--model_id", model, "--sampler_type", "belm", "--num_inference_steps", "3", "--batch_size", "2", "--seed", "7", "--save_dir", out2, "--quiet"})
	})
	again, _ := os.ReadFile(filepath.Join(out2, "belm_inference3_seed7_0.png"))
	if string(first) != string(again) {
		t.Errorf("sampling with the same seed gave different images")
	}
	noTempFiles(t, out)
}

// --clip_sample reaches the sampler: DDIM's samples with "false" differ from those with
// "true" (the tiny model's x̂₀ leaves [−1, 1] at the first steps), and "config" is "true" here
// (its scheduler config clips). Until 2026-12-04 the flag set a copy of the config that DDIM
// does not read, and "false" sampled with clipping.
func TestClipSampleFlag(t *testing.T) {
	model := tinyModel(t)
	grid := map[string]string{}
	for _, c := range []string{"config", "true", "false"} {
		out := filepath.Join(t.TempDir(), c)
		capture(t, func() error {
			return runSample([]string{"--model_id", model, "--sampler_type", "ddim", "--num_inference_steps", "3", "--batch_size", "2",
				"--clip_sample", c, "--save_dir", out, "--quiet"})
		})
		b, err := os.ReadFile(filepath.Join(out, "ddim_inference3_seed1_grid.png"))
		if err != nil {
			t.Fatal(err)
		}
		grid[c] = string(b)
	}
	if grid["config"] != grid["true"] || grid["true"] == grid["false"] {
		t.Errorf("--clip_sample: config = true %v (want yes), true = false %v (want no)", grid["config"] == grid["true"], grid["true"] == grid["false"])
	}
}

// gridTile returns the 8-bit RGB pixels (side×side×3, row-major) of the tile at row i,
// column j of an interpolation grid PNG of rows×cols images of side×side pixels, as
// viz.InterpolationGrid lays them out without row labels: 2-pixel padding around tiles of
// side·scale pixels, the column labels above.
func gridTile(t *testing.T, img image.Image, rows, cols, side, i, j int) []uint8 {
	t.Helper()
	b := img.Bounds()
	tile := (b.Dx()-2)/cols - 2
	if tile < side || tile%side != 0 || 2+cols*(tile+2) != b.Dx() {
		t.Fatalf("a grid of %d columns of %d-pixel images cannot be %d pixels wide", cols, side, b.Dx())
	}
	scale := tile / side
	x0, y0 := b.Min.X+2+j*(tile+2), b.Max.Y-(rows-i)*(tile+2)
	out := make([]uint8, 0, 3*side*side)
	for y := range side {
		for x := range side {
			r, g, bl, _ := img.At(x0+x*scale+scale/2, y0+y*scale+scale/2).RGBA()
			out = append(out, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
		}
	}
	return out
}

// rgbOf is an image's 8-bit RGB pixels (row-major), as gridTile returns them.
func rgbOf(img image.Image) []uint8 {
	b := img.Bounds()
	var out []uint8
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			out = append(out, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
		}
	}
	return out
}

// maxLevelDiff is the largest difference of two 8-bit pixel lists (256 for other sizes).
func maxLevelDiff(a, b []uint8) int {
	if len(a) != len(b) {
		return 256
	}
	worst := 0
	for i := range a {
		worst = max(worst, int(max(a[i], b[i])-min(a[i], b[i])))
	}
	return worst
}

// rgbOfLatent is the 8-bit RGB pixels of one C×H×W image in [−1, 1] (pipeline.ToImage).
func rgbOfLatent(t *testing.T, v []float64, c, side int) []uint8 {
	t.Helper()
	img, err := pipeline.ToImage(v, c, side, side)
	if err != nil {
		t.Fatal(err)
	}
	return rgbOf(img)
}

// belm interpolate between noises: 11 tiles of 8×8 in a row, the weight-0 tile the sample of
// pair 0's first noise (what belm sample draws from the same seed; within one 8-bit level:
// a batch of 11 and one of 1 may round a value on a level boundary apart in float64), the
// middle tile neither endpoint. Between inverted images with an exact sampler (EDICT, float64)
// the endpoint tiles are the input images, 8-bit level for level (the inversion is exact to
// ~1e-12, far inside half a level).
func TestInterpolateCommand(t *testing.T) {
	model := tinyModel(t)
	out := filepath.Join(t.TempDir(), "inter")
	common := []string{"--model_id", model, "--num_inference_steps", "3", "--dtype", "float64", "--quiet"}
	capture(t, func() error {
		return runInterpolate(append([]string{"--test_num", "1", "--seed", "3", "--save_dir", out}, common...))
	})
	img := decodePNG(t, filepath.Join(out, "seed3_belm_inter_whole_3.png"))
	if b := img.Bounds(); b.Dx() != 2+11*(64+2) || b.Dy() <= 64+2 || b.Dy() > 64+2+40 {
		t.Errorf("interpolation grid is %v: want 11 tiles of 64 px in a row (8×8 images ×8), labels above", b)
	}
	samples := filepath.Join(t.TempDir(), "samples")
	capture(t, func() error {
		return runSample(append([]string{"--seed", "3", "--batch_size", "1", "--save_dir", samples}, common...))
	})
	first, mid, last := gridTile(t, img, 1, 11, 8, 0, 0), gridTile(t, img, 1, 11, 8, 0, 5), gridTile(t, img, 1, 11, 8, 0, 10)
	if d := maxLevelDiff(first, rgbOf(decodePNG(t, filepath.Join(samples, "belm_inference3_seed3_0.png")))); d > 1 {
		t.Errorf("the weight-0 tile differs from belm sample --seed 3 by %d levels", d)
	}
	if maxLevelDiff(mid, first) == 0 || maxLevelDiff(mid, last) == 0 || maxLevelDiff(first, last) == 0 {
		t.Error("the first, middle and last tiles are not three different images")
	}

	imgs := testImages(t, 4)
	capture(t, func() error {
		return runInterpolate(append([]string{"--test_num", "2", "--directory", imgs, "--slerp", "per_channel", "--sampler_type", "edict", "--save_dir", out}, common...))
	})
	paths, err := pipeline.ListImages(imgs)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 2 {
		grid := decodePNG(t, filepath.Join(out, fmt.Sprintf("pair%d_edict_inter_per_channel_3.png", k)))
		all := decodePNG(t, filepath.Join(out, "all_edict_inter_per_channel_3.png"))
		for e, col := range []int{0, 10} {
			x, err := pipeline.LoadImage(paths[2*k+e], 8, 3)
			if err != nil {
				t.Fatal(err)
			}
			want := rgbOfLatent(t, x, 3, 8)
			if d := maxLevelDiff(gridTile(t, grid, 1, 11, 8, 0, col), want); d != 0 {
				t.Errorf("pair %d, weight %d: the tile differs from %s by %d levels", k, e, paths[2*k+e], d)
			}
			if d := maxLevelDiff(gridTile(t, all, 2, 11, 8, k, col), want); d != 0 {
				t.Errorf("all pairs, row %d, weight %d: the tile differs from %s by %d levels", k, e, paths[2*k+e], d)
			}
		}
	}
	noTempFiles(t, out)
}

func TestReconstructCommand(t *testing.T) {
	model := tinyModel(t)
	imgs := testImages(t, 3)
	out := filepath.Join(t.TempDir(), "recon")
	js := capture(t, func() error {
		return runReconstruct([]string{"--model_id", model, "--directory", imgs, "--sampler_type", "ddim,edict,bdia,belm", "--num_inference_steps", "4,6",
			"--batch_size", "2", "--dtype", "float64", "--save_dir", out, "--format", "json", "--quiet", "--save_images"})
	})
	var res struct {
		Images  int `json:"images"`
		Summary []struct {
			Sampler string  `json:"sampler"`
			N       int     `json:"num_inference_steps"`
			Images  int     `json:"images"`
			Latent  float64 `json:"mse_latent"`
			PM1     float64 `json:"mse_pm1"`
			Unit    float64 `json:"mse_01"`
			Seconds float64 `json:"seconds"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(js), &res); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if res.Images != 3 || len(res.Summary) != 8 {
		t.Fatalf("want 3 images and 4×2 summaries, got %d and %d:\n%s", res.Images, len(res.Summary), js)
	}
	for _, s := range res.Summary {
		t.Logf("%-5s N=%d: mse latent %.2e, [-1,1] %.2e, [0,1] 8-bit %.2e (%.1fs)", s.Sampler, s.N, s.Latent, s.PM1, s.Unit, s.Seconds)
		if s.Images != 3 || math.IsNaN(s.Latent) || s.Latent < 0 || s.Unit < 0 || s.PM1 > s.Latent+1e-15 {
			t.Errorf("%s N=%d: bad summary %+v", s.Sampler, s.N, s)
		}
		if s.Sampler == "ddim" {
			if s.Latent < 1e-6 {
				t.Errorf("DDIM N=%d reconstructs with latent MSE %.2e: it is not exact, expected ≥ 1e-6", s.N, s.Latent)
			}
		} else {
			if s.Latent > 1e-8 {
				t.Errorf("%s N=%d: latent MSE %.2e > 1e-8 (float64, exact inversion)", s.Sampler, s.N, s.Latent)
			}
			// 8-bit output vs 8-bit input: only rounding remains.
			if s.Unit > 1e-6 {
				t.Errorf("%s N=%d: [0,1] MSE %.2e, want ~0", s.Sampler, s.N, s.Unit)
			}
		}
	}
	f, err := os.Open(filepath.Join(out, "reconstruction.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+8*3 || recs[0][0] != "sampler" {
		t.Fatalf("CSV has %d rows, want header + 24", len(recs))
	}
	for _, r := range recs[1:] {
		for _, c := range r[3:] {
			if v, err := strconv.ParseFloat(c, 64); err != nil || v < 0 || math.IsNaN(v) {
				t.Errorf("bad CSV value %q in %v", c, r)
			}
		}
	}
	img := decodePNG(t, filepath.Join(out, "belm_N4_0001_img1.png"))
	if b := img.Bounds(); b.Dx() != 8 || b.Dy() != 8 {
		t.Errorf("reconstruction is %v, want 8×8", b)
	}
	noTempFiles(t, out)
	// The table format prints the summary.
	tab := capture(t, func() error {
		return runReconstruct([]string{"--model_id", model, "--directory", imgs, "--sampler_type", "belm", "--num_inference_steps", "3",
			"--test_num", "1", "--save_dir", out, "--quiet"})
	})
	if !strings.Contains(tab, "belm") || !strings.Contains(tab, "mse [-1,1]") {
		t.Errorf("table output:\n%s", tab)
	}
}

func TestEpsCommand(t *testing.T) {
	model := tinyModel(t)
	out := filepath.Join(t.TempDir(), "eps.safetensors")
	const io = "../../belm/unet/testdata/tiny_cifar10_io.safetensors"
	capture(t, func() error {
		return runEps([]string{"--model_id", model, "--input", io, "--output", out, "--quiet"})
	})
	worst := tensorDiff(t, out, "eps", io, "eps")
	t.Logf("belm eps vs diffusers (float32): max |Δ| = %.2e", worst)
	if worst > 1e-5 {
		t.Errorf("eps differs from the fixture by %.2e > 1e-5", worst)
	}
}

// tensorDiff is the largest difference between tensor a of file fa and tensor b of file
// fb, which must have the same shape; a must be F32 (what belm eps writes in float32).
func tensorDiff(t *testing.T, fa, a, fb, b string) float64 {
	t.Helper()
	var vals [2][]float64
	var shapes [2][]int
	for k, f := range [2][2]string{{fa, a}, {fb, b}} {
		st, err := safetensors.Open(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if info, _ := st.Info(f[1]); k == 0 && info.DType != safetensors.F32 {
			t.Errorf("%s in %s is %s, want F32", f[1], f[0], info.DType)
		}
		vals[k], shapes[k], err = st.Float64(f[1])
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(shapes[0], shapes[1]) {
		t.Fatalf("%s has shape %v, %s %v", a, shapes[0], b, shapes[1])
	}
	worst := 0.0
	for i := range vals[1] {
		worst = math.Max(worst, math.Abs(vals[0][i]-vals[1][i]))
	}
	return worst
}

func TestRealModelErrors(t *testing.T) {
	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Setenv("HF_HUB_CACHE", t.TempDir())
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model_id", "google/not-cached", "--quiet"}, "HF_HUB_OFFLINE"},
		{[]string{"--model_id", t.TempDir(), "--quiet"}, "not a diffusers model folder"},
		{[]string{"--model_id", tinyModel(t), "--quiet", "--dtype", "float64", "--backend", "onnx"}, "float64"},
		{[]string{"--model_id", tinyModel(t), "--quiet", "--sampler_type", "nope"}, "nope"},
	} {
		err := runSample(append(c.args, "--save_dir", t.TempDir()))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q", c.args, err, c.want)
		}
	}
	if err := runReconstruct([]string{"--model_id", tinyModel(t)}); err == nil || !strings.Contains(err.Error(), "--directory") {
		t.Errorf("reconstruct without --directory: %v", err)
	}
}
