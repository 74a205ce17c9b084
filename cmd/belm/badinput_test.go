package main

import (
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/belmlab/workbench/belm/clip"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/belmlab/workbench/internal/fixtures"
)

// badInputFixtures are the files the bad-input cases point at, outside the folder the
// commands run in.
type badInputFixtures struct {
	model, images, threeImages, bigPNG, file, empty string
	nanModel, hugeModel                             string
	nanX, badT, negT, io                            string
	zeroSteps, negClip                              string
	sd, sdNoVAE, sdOtherTokenizer, sdIO             string // tiny Stable Diffusion folders, the SD UNet's fixture io
}

// sdFixtures adds the tiny SD folder and two broken copies: one without vae/, one whose
// tokenizer is the real 49,408-token CLIP vocabulary beside the 1,000-token text encoder.
func (f *badInputFixtures) sdFixtures(t *testing.T) {
	var err error
	if f.sd, err = filepath.Abs(tinySD); err != nil {
		t.Fatal(err)
	}
	if f.sdIO, err = filepath.Abs(fixtures.File(t, "sd", "sd_unet_io.safetensors")); err != nil {
		t.Fatal(err)
	}
	f.sdNoVAE, f.sdOtherTokenizer = filepath.Join(t.TempDir(), "sd"), filepath.Join(t.TempDir(), "sd")
	for _, dir := range []string{f.sdNoVAE, f.sdOtherTokenizer} {
		if err := os.CopyFS(dir, os.DirFS(f.sd)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.RemoveAll(filepath.Join(f.sdNoVAE, "vae")); err != nil {
		t.Fatal(err)
	}
	tok, err := clip.LoadOpenAIVocab(fixtures.File(t, "sd", clip.OpenAIVocabFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.WriteFolder(filepath.Join(f.sdOtherTokenizer, "tokenizer"), 0, clip.EndOfText); err != nil {
		t.Fatal(err)
	}
}

func makeBadInputFixtures(t *testing.T) badInputFixtures {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f := badInputFixtures{model: tinyModel(t), images: testImages(t, 2), threeImages: testImages(t, 3), empty: t.TempDir(),
		file: write("afile", "not a folder")}
	var err error
	if f.io, err = filepath.Abs("../../belm/unet/testdata/tiny_cifar10_io.safetensors"); err != nil {
		t.Fatal(err)
	}
	f.zeroSteps = write("zero_steps.json", `{"num_train_timesteps": 0}`)
	f.negClip = write("neg_clip.json", `{"clip_sample": true, "clip_sample_range": -1}`)

	// A PNG whose header claims 60000×60000 (decoding it would need 14 GB).
	f.bigPNG = filepath.Join(t.TempDir(), "big")
	os.MkdirAll(f.bigPNG, 0o755)
	os.WriteFile(filepath.Join(f.bigPNG, "huge.png"), pngHeader(60000, 60000), 0o644)

	// The tiny model with NaN weights, and with sample_size 100000.
	f.nanModel = copyModel(t, f.model)
	src, err := safetensors.Open(filepath.Join(f.model, "diffusion_pytorch_model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, name := range src.Names() {
		v, shape, err := src.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range v {
			v[i] = float32(math.NaN())
		}
		ts = append(ts, safetensors.FromFloat32(name, shape, v))
	}
	src.Close()
	if err := safetensors.Write(filepath.Join(f.nanModel, "diffusion_pytorch_model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	f.hugeModel = copyModel(t, f.model)
	cfgPath := filepath.Join(f.hugeModel, "config.json")
	var cfg map[string]any
	b, _ := os.ReadFile(cfgPath)
	json.Unmarshal(b, &cfg)
	cfg["sample_size"] = 100000
	b, _ = json.Marshal(cfg)
	os.WriteFile(cfgPath, b, 0o644)

	// eps inputs: x with a NaN; timesteps outside [0, 999].
	in, err := safetensors.Open(f.io)
	if err != nil {
		t.Fatal(err)
	}
	x, xs, err := in.Float32("x")
	in.Close()
	if err != nil {
		t.Fatal(err)
	}
	withT := func(name string, x []float32, t0 float32) string {
		p := filepath.Join(dir, name)
		tv := make([]float32, xs[0])
		for i := range tv {
			tv[i] = t0
		}
		if err := safetensors.Write(p, []safetensors.Tensor{safetensors.FromFloat32("x", xs, x), safetensors.FromFloat32("t", []int{xs[0]}, tv)}, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.badT, f.negT = withT("t_big.safetensors", x, 1e9), withT("t_neg.safetensors", x, -5)
	xn := slices.Clone(x)
	xn[3] = float32(math.NaN())
	f.nanX = withT("x_nan.safetensors", xn, 10)
	f.sdFixtures(t)
	return f
}

func copyModel(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "model")
	os.MkdirAll(to, 0o755)
	entries, _ := os.ReadDir(from)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o644)
	}
	return to
}

// pngHeader is the signature and IHDR chunk of an 8-bit RGB PNG of w×h (no image data).
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk := append([]byte("IHDR"), ihdr...)
	out := []byte("\x89PNG\r\n\x1a\n")
	out = binary.BigEndian.AppendUint32(out, 13)
	out = append(out, chunk...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(chunk))
}

// TestBadInput is the regression suite of bad command lines and bad files: each case
// asserts the exit status (2: a mistake in the command line, refused before any work; 1:
// a bad file or a failure found while working), the first line of the error, and that the
// folder the command ran in (where every default output folder lies, and the --save_dir
// of the cases) holds nothing new afterwards. Add a case for every bug found.
func TestBadInput(t *testing.T) {
	bin := belmBinary(t)
	f := makeBadInputFixtures(t)
	type tc struct {
		args  []string
		code  int
		first string // a substring of the first line of stderr
	}
	// OUT is a folder inside the command's working folder; the working folder holds
	// "data/" (so that data/fashion-mnst looks like a local path) and nothing else.
	cases := []tc{
		// 1. a stray word ends flag parsing
		{[]string{"reconstruct", "--model_id", f.model, "--directory", f.images, "--sampler_type", "ddim,", "belm", "--num_inference_steps", "2", "--save_dir", "OUT"}, 2, `unexpected argument "belm"`},
		{[]string{"sample", "--model_id", f.model, "oops", "--save_dir", "OUT"}, 2, `unexpected argument "oops"`},
		{[]string{"coeffs", "--num_inference_steps", "10", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"classifier", "--quiet", "stray"}, 2, `unexpected argument "stray"`},
		// 2. output folders checked before the work
		{[]string{"train", "--output_dir", filepath.Join(f.file, "sub"), "--quiet"}, 2, "is a file, not a folder"},
		{[]string{"sample", "--model_id", f.model, "--save_dir", f.file, "--quiet"}, 2, "is a file, not a folder"},
		{[]string{"classifier", "--output", f.empty, "--quiet"}, 2, "is a folder"},
		// 4. nothing to train
		{[]string{"train", "--max_train_steps", "0", "--output_dir", "OUT"}, 2, "--max_train_steps 0: must be ≥ 1"},
		{[]string{"train", "--max_train_steps", "-1", "--output_dir", "OUT"}, 2, "--max_train_steps -1: must be ≥ 1"},
		// 5. NaN from the inputs or the weights
		{[]string{"eps", "--model_id", f.model, "--input", f.nanX, "--output", "OUT/eps.safetensors", "--quiet"}, 1, "holds 1 NaN or Inf values"},
		{[]string{"eps", "--model_id", f.nanModel, "--input", f.io, "--output", "OUT/eps.safetensors", "--quiet"}, 1, "the model's output holds"},
		{[]string{"sample", "--model_id", f.nanModel, "--sampler_type", "ddim", "--num_inference_steps", "3", "--batch_size", "1", "--save_dir", "OUT", "--quiet"}, 1, "the model returned NaN or Inf"},
		{[]string{"sample", "--model_id", f.nanModel, "--sampler_type", "edict", "--num_inference_steps", "3", "--batch_size", "1", "--save_dir", "OUT", "--quiet"}, 1, "the model returned NaN or Inf"},
		{[]string{"figures", "--sampler_type", "ddim,nosuch", "--num_inference_steps", "10", "--out", "OUT/figs", "--quiet"}, 1, `unknown sampler "nosuch"`},
		// 6. sizes beyond memory, and images whose header is too large
		{[]string{"sample", "--model_id", f.hugeModel, "--save_dir", "OUT", "--quiet"}, 1, "sample_size"},
		{[]string{"interpolate", "--model_id", f.model, "--num_weights", "100000000", "--save_dir", "OUT", "--quiet"}, 2, "--num_weights 100000000: must be in [2, 1000]"},
		{[]string{"sample", "--model_id", f.model, "--batch_size", "1e9", "--save_dir", "OUT", "--quiet"}, 2, `invalid value "1e9" for flag -batch_size`},
		{[]string{"sample", "--model_id", f.model, "--batch_size", "1000000", "--save_dir", "OUT", "--quiet"}, 2, "would need about"},
		{[]string{"roundtrip", "--dim", "1000000000"}, 2, "--dim 1000000000: must be in"},
		{[]string{"roundtrip", "--dim", "10000000", "--batch_size", "10000000"}, 2, "would need about"},
		{[]string{"reconstruct", "--model_id", f.model, "--directory", f.bigPNG, "--save_dir", "OUT", "--quiet"}, 1, "60000×60000"},
		// 7. a mistyped local folder is not a Hub id
		{[]string{"sample", "--model_id", "data/fashion-mnst", "--save_dir", "OUT", "--quiet"}, 1, "no such folder"},
		// 8. no images is no score
		{[]string{"reconstruct", "--model_id", f.model, "--dataset", "fashion-mnist", "--data_dir", f.empty, "--save_dir", "OUT", "--quiet"}, 1, f.empty},
		{[]string{"reconstruct", "--model_id", f.model, "--directory", f.empty, "--save_dir", "OUT", "--quiet"}, 1, "no images"},
		// 9. 0 or "" never silently means the default
		{[]string{"coeffs", "--num_train_timesteps", "0"}, 2, "--num_train_timesteps 0: must be in [2, 100000]"},
		{[]string{"order", "--lte_h_min", "0"}, 2, "--lte_h_min 0: must be > 0"},
		{[]string{"order", "--rho", "0"}, 2, "--rho 0: must be > 0"},
		{[]string{"order", "--sigma_bar_max", "0"}, 2, "--sigma_bar_max 0: must be > 0"},
		{[]string{"order", "--lte_h_min", "0.1", "--lte_h_max", "0.05"}, 2, "--lte_h_max 0.05 must exceed --lte_h_min 0.1"},
		{[]string{"bench", "--duration", "0"}, 2, "--duration 0s: must be > 0"},
		{[]string{"bench", "--images", "0"}, 2, "--images 0: must be in [1, 4096]"},
		{[]string{"bench", "--num_inference_steps", "0"}, 2, "--num_inference_steps 0: must be in [1, 1000]"},
		{[]string{"bench", "--sections", ""}, 2, "--sections is empty"},
		{[]string{"bench", "--sections", "forwrad"}, 2, `unknown section "forwrad"`},
		{[]string{"coeffs", "--scheduler_config", f.zeroSteps}, 1, "num_train_timesteps"},
		{[]string{"coeffs", "--scheduler_config", f.negClip}, 1, "clip_sample_range"},
		{[]string{"coeffs", "--scheduler_config", f.negClip, "--beta_schedule", "linear"}, 2, "--beta_schedule has no effect with --scheduler_config"},
		{[]string{"coeffs", "--beta_start", "0"}, 2, "--beta_start 0: must be in (0, 1)"},
		{[]string{"sample", "--model_id", f.model, "--save_dir", "", "--quiet"}, 2, "--save_dir is empty"},
		{[]string{"sample", "--model_id", f.model, "--num_inference_steps", "0", "--save_dir", "OUT"}, 2, "--num_inference_steps 0: must be in [1, 1000]"},
		{[]string{"roundtrip", "--num_inference_steps", "10,0"}, 2, "each value must be in [1, 1000]"},
		{[]string{"roundtrip", "--sampler_type", ""}, 2, "--sampler_type is empty"},
		// 11. smaller ones
		{[]string{"coeffs", "--format", "bogus"}, 2, `--format "bogus": must be one of table, json`},
		{[]string{"interpolate", "--model_id", f.model, "--directory", f.threeImages, "--test_num", "2", "--save_dir", "OUT", "--quiet"}, 1, "3 images: interpolation takes pairs"},
		{[]string{"reconstruct", "--model_id", f.model, "--directory", f.images, "--save_dir", f.images, "--quiet"}, 2, "is (inside) the input folder"},
		{[]string{"reconstruct", "--model_id", f.model, "--directory", f.images, "--save_dir", filepath.Join(f.images, "out"), "--quiet"}, 2, "is (inside) the input folder"},
		{[]string{"eps", "--model_id", f.model, "--input", f.io, "--output", f.io, "--quiet"}, 2, "is also the input"},
		{[]string{"eps", "--model_id", f.model, "--input", f.negT, "--output", "OUT/eps.safetensors", "--quiet"}, 1, "t[0] = -5 is not a timestep"},
		{[]string{"eps", "--model_id", f.model, "--input", f.badT, "--output", "OUT/eps.safetensors", "--quiet"}, 1, "t[0] = 1e+09 is not a timestep"},
		{[]string{"order", "--num_inference_steps", "20"}, 2, "give at least 2 values"},
		{[]string{"sample", "--model_id", f.model, "--start_index", "-5", "--save_dir", "OUT"}, 2, "--start_index -5: must be ≥ 0"},
		{[]string{"figures", "--bdia_gamma", "2", "--out", "OUT/figs"}, 2, "--bdia_gamma 2: must be in [0, 1]"},
		{[]string{"sample", "--model_id", f.model, "--edict_p", "0", "--save_dir", "OUT"}, 2, "--edict_p 0: must be in (0, 1]"},
		{[]string{"sample", "--model_id", f.model, "--dtype", "float16", "--save_dir", "OUT"}, 2, "--dtype must be float64 or float32"},
		{[]string{"nosuch"}, 2, `unknown command "nosuch"`},
		// 12. Stable Diffusion
		{[]string{"edit", "--model_id", f.sd, "--save_dir", "OUT", "--quiet"}, 2, "--ori_im_path is required"},
		{[]string{"edit", "--model_id", f.sd, "--ori_im_path", f.images + "/img0.png", "--num_inference_steps", "10", "--freeze_step", "10", "--save_dir", "OUT"}, 2, "--freeze_step 10 must be below --num_inference_steps 10"},
		{[]string{"edit", "--model_id", f.sd, "--ori_im_path", f.images + "/img0.png", "--num_inference_steps", "4", "--freeze_step", "1", "--resolution", "64",
			"--res_prompt", strings.Repeat("a very long prompt ", 30), "--save_dir", "OUT", "--quiet"}, 1, "tokens: the text encoder reads at most 75"},
		{[]string{"edit", "--model_id", f.sd, "--ori_im_path", f.file, "--num_inference_steps", "4", "--freeze_step", "1", "--save_dir", "OUT", "--quiet"}, 1, "afile"},
		{[]string{"edit", "--model_id", f.sd, "--ori_im_path", f.images + "/img0.png", "--resolution", "60", "--save_dir", "OUT", "--quiet"}, 1, "must be a positive multiple of 64"},
		{[]string{"edit", "--model_id", f.sd, "--ori_im_path", f.images + "/img0.png", "--resolution", "72", "--save_dir", "OUT", "--quiet"}, 1, "--resolution 72: the image side must be a positive multiple of 64"},
		{[]string{"edit", "--model_id", f.sd, "--ori_im_path", f.images + "/img0.png", "--resolution", "4096", "--num_inference_steps", "4", "--freeze_step", "1", "--backend", "go", "--save_dir", "OUT", "--quiet"}, 2, "would need about"},
		{[]string{"eps", "--model_id", f.model, "--input", f.sdIO, "--output", "OUT/eps.safetensors", "--quiet"}, 1, "takes no text embeddings"},
		{[]string{"edit", "--model_id", f.sdNoVAE, "--ori_im_path", f.images + "/img0.png", "--save_dir", "OUT", "--quiet"}, 1, "not a Stable Diffusion pipeline folder"},
		{[]string{"txt2img", "--model_id", f.sdOtherTokenizer, "--save_dir", "OUT", "--quiet"}, 1, "does not match the text encoder"},
		{[]string{"txt2img", "--model_id", f.model, "--save_dir", "OUT", "--quiet"}, 1, "is not a Stable Diffusion folder"},
		{[]string{"txt2img", "--model_id", f.sd, "--guidance", "-1", "--save_dir", "OUT", "--quiet"}, 2, "--guidance -1: must be ≥ 0"},
		{[]string{"eps", "--model_id", f.sd, "--input", f.io, "--output", "OUT/eps.safetensors", "--quiet"}, 1, "needs its text embeddings"},
	}
	for _, c := range cases {
		name := strings.Join(c.args, " ")
		t.Run(name, func(t *testing.T) {
			work := t.TempDir()
			os.MkdirAll(filepath.Join(work, "data"), 0o755)
			args := slices.Clone(c.args)
			for i, a := range args {
				args[i] = strings.Replace(a, "OUT", filepath.Join(work, "out-dir"), 1)
			}
			cmd := exec.Command(bin, args...)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), "HF_HUB_CACHE="+filepath.Join(work, "hf-cache"), "HF_HUB_OFFLINE=1", "GOMLX_BACKEND=go")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if code != c.code || !strings.Contains(first, c.first) {
				t.Errorf("exit %d, first line %q; want exit %d and %q\nstderr:\n%s", code, first, c.code, c.first, stderr.String())
			}
			if strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("a Go panic:\n%s", stderr.String())
			}
			var left []string
			filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error {
				if rel, _ := filepath.Rel(work, p); rel != "." && rel != "data" {
					left = append(left, rel)
				}
				return nil
			})
			if len(left) > 0 {
				t.Errorf("the failed command left %v in its folder", left)
			}
		})
	}
}

// A failed pass of a study: the whole result is still printed (valid JSON, with null for
// the measures JSON cannot hold), and the exit status says that a pass failed.
func TestFailedPassOutput(t *testing.T) {
	bin := belmBinary(t)
	for _, format := range []string{"json", "table"} {
		cmd := exec.Command(bin, "roundtrip", "--sampler_type", "bdia,belm", "--bdia_gamma", "0", "--num_inference_steps", "10",
			"--format", format, "--backend", "go:parallelism=2")
		out, err := cmd.Output()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 || !strings.Contains(string(ee.Stderr), "1 of 2 passes failed") {
			t.Fatalf("%s: %v, stderr %s", format, err, ee.Stderr)
		}
		if format == "table" {
			if !strings.Contains(string(out), "failed") {
				t.Errorf("table:\n%s", out)
			}
			continue
		}
		var doc struct {
			Results []struct {
				Sampler string   `json:"sampler"`
				MaxAbs  *float64 `json:"max_abs"`
				Err     string   `json:"error"`
			} `json:"results"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("stdout is not JSON (%v):\n%s", err, out)
		}
		if len(doc.Results) != 2 || doc.Results[0].MaxAbs != nil || doc.Results[0].Err == "" || doc.Results[1].MaxAbs == nil {
			t.Errorf("results: %+v", doc.Results)
		}
	}
}

// Defaults are what the help says and what the run uses.
func TestFlagDefaults(t *testing.T) {
	bin := belmBinary(t)
	_, help, err := run(t, bin, "frechet", "-h")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(default 0.1)", "(default 0.97)", `(default "data/fashion-mnist")`} {
		if !strings.Contains(help, want) {
			t.Errorf("frechet -h lacks %s:\n%s", want, help)
		}
	}
	// --beta_end alone keeps the schedule's own beta_start (it was 0, an error).
	out, _, err := run(t, bin, "coeffs", "--beta_schedule", "linear", "--beta_end", "0.02", "--num_inference_steps", "4", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Scheduler struct {
			BetaStart float64 `json:"beta_start"`
			BetaEnd   float64 `json:"beta_end"`
		} `json:"scheduler"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Scheduler.BetaStart != 0.0001 || doc.Scheduler.BetaEnd != 0.02 {
		t.Errorf("linear with --beta_end 0.02: %+v, %v", doc.Scheduler, err)
	}
}

// Outputs may hold the input folder (they are written at its top, outside the inputs), but
// not lie in it.
func TestOutputAroundInput(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "imgs")
	os.MkdirAll(in, 0o755)
	if err := checkOutputDir("save_dir", root, in); err != nil {
		t.Errorf("save_dir above the input folder: %v", err)
	}
	for _, out := range []string{in, filepath.Join(in, "out"), filepath.Join(root, ".", "imgs", "x", "..")} {
		if err := checkOutputDir("save_dir", out, in); err == nil {
			t.Errorf("save_dir %s in the input folder: no error", out)
		}
	}
}
