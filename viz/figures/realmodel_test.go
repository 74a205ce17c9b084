package figures

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	os.WriteFile(fd, []byte(`{"bdia_gamma": 0.1, "results": [
		{"sampler": "bdia", "num_inference_steps": 10, "frechet_distance": 12.5}]}`), 0o644)
	pts, meta, err := ReadStudy(recon)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 4 || pts[1] != (StudyPoint{"ddim", 20, 0.02}) || meta["backend"] != "onnxruntime" || meta["summary"] != nil {
		t.Errorf("points %v, meta %v", pts, meta)
	}
	p, err := StudyVsSteps(pts, true, viz.Options{Title: "reconstruction"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := viz.SVG(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	pts, meta, err = ReadStudy(fd)
	if err != nil || len(pts) != 1 || pts[0].Value != 12.5 || meta["bdia_gamma"] != 0.1 {
		t.Errorf("frechet: %v %v %v", pts, meta, err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"rows": []}`), 0o644)
	if _, _, err := ReadStudy(bad); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Errorf("no rows: %v", err)
	}
}
