package figures

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/viz"
)

func TestReadStudy(t *testing.T) {
	dir := t.TempDir()
	recon := filepath.Join(dir, "reconstruction.json")
	fd := filepath.Join(dir, "frechet.json")
	os.WriteFile(recon, []byte(`{"backend": "onnxruntime", "summary": [
		{"sampler": "ddim", "num_inference_steps": 10, "mse_pm1": 0.05},
		{"sampler": "ddim", "num_inference_steps": 20, "mse_pm1": 0.02},
		{"sampler": "belm", "num_inference_steps": 10, "mse_pm1": 1e-12},
		{"sampler": "belm", "num_inference_steps": 20, "mse_pm1": 0}]}`), 0o644)
	os.WriteFile(fd, []byte(`{"bdia_gamma": 0.1, "num_samples": 5000, "data_floor": {"frechet_distance": 0.91, "what": "train vs test"}, "results": [
		{"sampler": "bdia", "num_inference_steps": 10, "frechet_distance": 12.5}]}`), 0o644)
	pts, meta, err := ReadStudy(recon)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 4 || pts[1] != (StudyPoint{"ddim", 20, 0.02}) || meta.Backend != "onnxruntime" || meta.DataFloor != nil {
		t.Errorf("points %v, meta %v", pts, meta)
	}
	p, err := StudyVsSteps(pts, true, viz.Options{Title: "reconstruction"})
	if err != nil {
		t.Fatal(err)
	}
	svg, err := viz.SVG(p, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// DDIM's fitted slope is log(0.02/0.05)/log 2 = −1.32; O-BELM stays below 1e-4 (exact
	// inversion), so its legend shows no slope; with slopes off, DDIM shows none either.
	for _, want := range []string{">DDIM  (slope −1.32)<", ">O-BELM<"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("reconstruction figure: no legend text %q", want)
		}
	}
	p, _ = StudyVsSteps(pts, false, viz.Options{})
	if svg, _ := viz.SVG(p, 0, 0); !strings.Contains(string(svg), ">DDIM<") {
		t.Error("slopes off: DDIM's legend should show no slope")
	}
	pts, meta, err = ReadStudy(fd)
	if err != nil || len(pts) != 1 || pts[0].Value != 12.5 || meta.BDIAGamma != 0.1 || meta.Samples != 5000 || meta.DataFloor == nil || meta.DataFloor.FrechetDistance != 0.91 {
		t.Errorf("frechet: %v %v %v", pts, meta, err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"rows": []}`), 0o644)
	if _, _, err := ReadStudy(bad); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Errorf("no rows: %v", err)
	}
}

// The shipped results — the 1,503-step model's, kept for comparison, and the 9,400-step
// model's — read back with their recorded settings.
func TestReadShippedStudies(t *testing.T) {
	dir := filepath.Join("..", "..", "data", "fashion-mnist", "results", "1503-steps")
	pts, meta, err := ReadStudy(filepath.Join(dir, "reconstruction.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) == 0 || meta.Images != 1000 || meta.Backend != "onnxruntime" || meta.BDIAGamma != 0.96 || meta.DataFloor != nil {
		t.Errorf("reconstruction.json: %d points, %+v", len(pts), meta)
	}
	pts, meta, err = ReadStudy(filepath.Join(dir, "frechet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) == 0 || meta.Samples != 5000 || meta.EDICTP != 0.97 || meta.DataFloor == nil || meta.DataFloor.FrechetDistance != 0.9119900938919727 {
		t.Errorf("frechet.json: %d points, %+v", len(pts), meta)
	}
	// The 9,400-step model's reconstruction grid, merged from regenerate.sh's 20 shards.
	pts, meta, err = ReadStudy(filepath.Join(dir, "..", "reconstruction.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 16 || meta.Images != 1000 || meta.Backend != "onnxruntime" || meta.BDIAGamma != 0.96 {
		t.Errorf("reconstruction.json: %d points (want 4 samplers × N = 10, 20, 50, 100), %+v", len(pts), meta)
	}
	// Its Fréchet grid, merged from 20 shards, draws O-BELM's N = 20 samples from the same
	// noises as the acceptance run in belm-N20, so it must repeat that distance. Not bit for
	// bit: ONNX Runtime's threaded float32 sums may differ between runs, and a sample's 8-bit
	// quantisation turns such a difference into a whole grey level now and then. Measured:
	// 5.326156216 against 5.326154791 (2.7e-7 relative); 1e-5 leaves room for other thread counts.
	pts, meta, err = ReadStudy(filepath.Join(dir, "..", "frechet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 16 || meta.Samples != 5000 || meta.EDICTP != 0.97 || meta.BDIAGamma != 0.1 || meta.DataFloor == nil {
		t.Errorf("frechet.json: %d points (want 4 samplers × N = 10, 20, 50, 100), %+v", len(pts), meta)
	}
	grid := studyValues(pts)
	acceptance, _, err := ReadStudy(filepath.Join(dir, "..", "belm-N20", "frechet.json"))
	if err != nil {
		t.Fatal(err)
	}
	if v, a := grid["belm 20"], acceptance[0].Value; math.Abs(v-a) > 1e-5*a {
		t.Errorf("O-BELM N = 20: the grid has %.6g, the acceptance run %.6g (same noises)", v, a)
	}
	checkUnclippedDDIM(t, grid, filepath.Join(dir, "..", "ddim-noclip", "frechet.json"))
	checkSamplingError(t, grid, filepath.Join(dir, "..", "frechet-disjoint", "frechet.json"))
}

// studyValues keys a study's values by "sampler N".
func studyValues(pts []StudyPoint) map[string]float64 {
	out := map[string]float64{}
	for _, pt := range pts {
		out[fmt.Sprint(pt.Sampler, " ", pt.N)] = pt.Value
	}
	return out
}

// checkUnclippedDDIM checks DDIM without x̂₀ clipping on the grid's noises. While
// --clip_sample had no effect, this run repeated the clipped column digit for digit;
// clipping changes every sample, so the two must differ at every N (measured: by 1.0–4.7),
// and the card's finding is that clipping makes DDIM worse at N = 100 (10.55 clipped
// against 5.89).
func checkUnclippedDDIM(t *testing.T, grid map[string]float64, path string) {
	unclipped, _, err := ReadStudy(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(unclipped) != 4 {
		t.Errorf("%s: %d points, want N = 10, 20, 50, 100", path, len(unclipped))
	}
	for _, pt := range unclipped {
		if c := grid[fmt.Sprint("ddim ", pt.N)]; pt.Sampler != "ddim" || math.Abs(pt.Value-c) < 0.01*c || (pt.N == 100 && pt.Value > c) {
			t.Errorf("%s N = %d unclipped %.4g, clipped %.4g: want different, and unclipped better at N = 100", pt.Sampler, pt.N, pt.Value, c)
		}
	}
}

// checkSamplingError checks the grid at N = 10, 20 on disjoint noises: the card's sampling
// error at 5,000 samples. Measured: each distance moves by 0.33–0.56 (EDICT's, ~520–550, by
// 1.3–1.6); differences between samplers on the same noises repeat within 0.15, and the
// ordering O-BELM < BDIA < DDIM holds on both sets. 0.6 and 0.2 bound those with the margin
// the card quotes.
func checkSamplingError(t *testing.T, grid map[string]float64, path string) {
	disjoint, meta, err := ReadStudy(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(disjoint) != 8 || meta.Seed != 100000 || meta.Samples != 5000 {
		t.Errorf("%s: %d points (want 4 samplers × N = 10, 20), %+v", path, len(disjoint), meta)
	}
	other := studyValues(disjoint)
	for k, v := range other {
		tol := 0.6
		if strings.HasPrefix(k, "edict") { // far from the data: its spread is relative, 0.3 %
			tol = 0.005 * grid[k]
		}
		if math.Abs(v-grid[k]) > tol {
			t.Errorf("%s: %.4g on the grid's noises, %.4g on disjoint ones", k, grid[k], v)
		}
	}
	for _, n := range []int{10, 20} {
		for _, pair := range [][2]string{{"ddim", "belm"}, {"bdia", "belm"}, {"ddim", "bdia"}} {
			a, b := fmt.Sprint(pair[0], " ", n), fmt.Sprint(pair[1], " ", n)
			if d0, d1 := grid[a]-grid[b], other[a]-other[b]; d0 < 1 || d1 < 1 || math.Abs(d0-d1) > 0.2 {
				t.Errorf("%s − %s: %.4g on the grid's noises, %.4g on disjoint ones", a, b, d0, d1)
			}
		}
	}
}

// The latent reconstruction figure draws the summaries' latent MSE per sampler and N and
// records exactly them.
func TestDrawLatentReconstruction(t *testing.T) {
	var r study.ReconstructionResult
	for _, n := range []int{5, 10, 20} {
		for s, v := range map[string]float64{"ddim": 0.4 / float64(n), "belm": 1e-12} {
			r.Rows = append(r.Rows, study.ReconstructionRow{Sampler: s, N: n, Errors: pipeline.Errors{Latent: v}})
		}
	}
	f, err := DrawLatentReconstruction(r)
	if err != nil {
		t.Fatal(err)
	}
	var got []study.ReconstructionSummary
	if err := json.Unmarshal(f.JSON, &got); err != nil {
		t.Fatal(err)
	}
	if f.Plot == nil || f.Name != "reconstruction_latent" || len(got) != 6 {
		t.Fatalf("figure %s with %d rows", f.Name, len(got))
	}
	for _, s := range got {
		if want := map[string]float64{"ddim": 0.4 / float64(s.N), "belm": 1e-12}[s.Sampler]; s.Latent != want {
			t.Errorf("%s N=%d: %g, want %g", s.Sampler, s.N, s.Latent, want)
		}
	}
}
