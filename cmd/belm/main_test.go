package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// belmBinary builds the command once for the end-to-end tests.
func belmBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "belm")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func run(t *testing.T, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func TestCommands(t *testing.T) {
	bin := belmBinary(t)

	t.Run("coeffs", func(t *testing.T) {
		out, _, err := run(t, bin, "coeffs", "--beta_schedule", "scaled_linear", "--timestep_spacing", "linspace",
			"--num_inference_steps", "10", "--sampler_type", "belm", "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Timesteps []float64 `json:"timesteps"`
			Steps     []struct {
				Direction string             `json:"direction"`
				Step      int                `json:"step"`
				Coef      map[string]float64 `json:"coefficients"`
			} `json:"steps"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Timesteps) != 10 || doc.Timesteps[0] != 999 || len(doc.Steps) != 20 {
			t.Fatalf("timesteps %v, %d rows", doc.Timesteps, len(doc.Steps))
		}
		// Spec §1.2 test vector: the step t=888→777 has A = 0.706316344 (coefficient of x_{i+1}).
		if a := doc.Steps[1].Coef["x_{i+1}"]; doc.Steps[1].Direction != "sampling" || a < 0.7063163435 || a > 0.7063163445 {
			t.Errorf("step 1: %+v", doc.Steps[1])
		}
		table, _, err := run(t, bin, "coeffs", "--num_inference_steps", "3", "--sampler_type", "edict")
		if err != nil || !strings.Contains(table, "inversion") || !strings.Contains(table, "0.93") {
			t.Errorf("table: %v\n%s", err, table)
		}
	})

	t.Run("roundtrip", func(t *testing.T) {
		out, _, err := run(t, bin, "roundtrip", "--model", "gmm", "--sampler_type", "ddim,belm", "--num_inference_steps", "10,20",
			"--batch_size", "8", "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Results []struct {
				Sampler string  `json:"sampler"`
				N       int     `json:"num_inference_steps"`
				MaxAbs  float64 `json:"max_abs"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Results) != 4 {
			t.Fatalf("%d results", len(doc.Results))
		}
		for _, r := range doc.Results {
			if exact := r.Sampler == "belm"; exact && r.MaxAbs > 1e-10 || !exact && r.MaxAbs < 1e-4 {
				t.Errorf("%s N=%d: %g", r.Sampler, r.N, r.MaxAbs)
			}
		}
	})

	t.Run("order", func(t *testing.T) {
		out, _, err := run(t, bin, "order", "--sampler_type", "ddim,belm", "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Results []struct {
				Sampler     string  `json:"sampler"`
				LTESlope    float64 `json:"lte_slope"`
				GlobalOrder float64 `json:"global_order"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		want := map[string][2]float64{"ddim": {2, 1}, "belm": {3, 2}}
		if len(doc.Results) != 2 || doc.Results[0].Sampler != "ddim" || doc.Results[1].Sampler != "belm" {
			t.Fatalf("want a result for ddim and one for belm, in that order:\n%s", out)
		}
		for _, r := range doc.Results {
			w := want[r.Sampler]
			if d1, d2 := r.LTESlope-w[0], r.GlobalOrder-w[1]; d1*d1 > 0.0625 || d2*d2 > 0.0625 {
				t.Errorf("%s: LTE slope %.3f, global order %.3f, want %v ± 0.25", r.Sampler, r.LTESlope, r.GlobalOrder, w)
			}
		}
	})

	t.Run("figures", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "figs")
		if _, stderr, err := run(t, bin, "figures", "--out", dir, "--num_inference_steps", "10,20"); err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		for _, name := range []string{"roundtrip_error", "precision", "inverted_noise", "lte_order", "global_error", "coefficients", "trajectories"} {
			for _, ext := range []string{".png", ".svg", ".json"} {
				if _, err := os.Stat(filepath.Join(dir, name+ext)); err != nil {
					t.Errorf("missing %s%s", name, ext)
				}
			}
		}
		for _, name := range []string{"samples", "interpolation_belm", "interpolation_ddim"} {
			f, err := os.Open(filepath.Join(dir, name+".png"))
			if err != nil {
				t.Errorf("missing %s.png", name)
				continue
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil || img.Bounds().Dx() < 200 {
				t.Errorf("%s.png: %v %v", name, err, img.Bounds())
			}
		}
		for _, name := range []string{"roundtrip_error.csv", "lte_order.csv", "coefficients.csv"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || bytes.Count(b, []byte("\n")) < 3 {
				t.Errorf("%s: %v, %d bytes", name, err, len(b))
			}
		}
		// No temporary files left behind.
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("leftover %s", e.Name())
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"coeffs", "--num_inference_steps", "0"},
			{"coeffs", "--num_inference_steps", "1001"},
			{"coeffs", "--timestep_spacing", "karras"},
			{"coeffs", "--beta_schedule", "cosine"},
			{"coeffs", "--sampler_type", "dpm"},
			{"roundtrip", "--dtype", "float16"},
			{"roundtrip", "--model", "mnist"},
			{"roundtrip", "--backend", "onnx", "--dtype", "float64"},
			{"roundtrip", "--num_inference_steps", "ten"},
			{"nosuchcommand"},
		} {
			_, stderr, err := run(t, bin, args...)
			if err == nil {
				t.Errorf("%v: no error", args)
				continue
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
				t.Errorf("%v panicked:\n%s", args, stderr)
			}
			if len(strings.TrimSpace(stderr)) == 0 {
				t.Errorf("%v: no message", args)
			}
		}
	})
}
