package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A reconstruction split in 3 shards (batch k in shard k mod 3) and merged equals the whole
// run exactly: the same per-image CSV byte for byte and the same averages. A missing or
// repeated shard, or a shard of another run, is an error naming it.
func TestShardedReconstruction(t *testing.T) {
	model := tinyModel(t)
	imgs := testImages(t, 5)
	args := []string{"--model_id", model, "--directory", imgs, "--sampler_type", "ddim,belm", "--num_inference_steps", "3,4",
		"--batch_size", "1", "--dtype", "float64", "--quiet", "--format", "json"}
	whole := filepath.Join(t.TempDir(), "whole")
	wjs := capture(t, func() error { return runReconstruct(append(args, "--save_dir", whole)) })
	shards := t.TempDir()
	for i := range 3 {
		capture(t, func() error {
			return runReconstruct(append(args, "--save_dir", filepath.Join(shards, fmt.Sprint(i)), "--shard", fmt.Sprintf("%d/3", i)))
		})
	}
	if _, err := os.Stat(filepath.Join(shards, "1", "reconstruction.csv")); err == nil {
		t.Error("a shard wrote the whole run's CSV")
	}
	merged := filepath.Join(t.TempDir(), "merged")
	mjs := capture(t, func() error {
		return runMerge([]string{"--inputs", filepath.Join(shards, "*"), "--save_dir", merged, "--format", "json"})
	})
	a, _ := os.ReadFile(filepath.Join(whole, "reconstruction.csv"))
	b, _ := os.ReadFile(filepath.Join(merged, "reconstruction.csv"))
	if len(a) == 0 || string(a) != string(b) {
		t.Errorf("merged CSV differs from the whole run's:\n%s\n---\n%s", a, b)
	}
	type summary struct {
		Sampler string  `json:"sampler"`
		N       int     `json:"num_inference_steps"`
		Images  int     `json:"images"`
		Latent  float64 `json:"mse_latent"`
		PM1     float64 `json:"mse_pm1"`
		Unit    float64 `json:"mse_01"`
	}
	var w, m struct{ Summary []summary }
	if err := json.Unmarshal([]byte(wjs), &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(mjs), &m); err != nil {
		t.Fatal(err)
	}
	if len(w.Summary) != 4 || !slices.Equal(w.Summary, m.Summary) {
		t.Errorf("averages differ:\nwhole  %+v\nmerged %+v", w.Summary, m.Summary)
	}

	for _, c := range []struct {
		inputs []string
		want   string
	}{
		{[]string{"0", "1"}, "shard 2/3 missing"},
		{[]string{"0", "1", "2", "1/shard-1-of-3.json"}, "shard 1/3 is given twice"},
		{[]string{"nope"}, "no such file or folder"},
	} {
		var in []string
		for _, s := range c.inputs {
			in = append(in, filepath.Join(shards, s))
		}
		err := runMerge([]string{"--inputs", strings.Join(in, ","), "--save_dir", t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("merge %v: %v, want %q", c.inputs, err, c.want)
		}
	}
	// Shard 2 of a run with another N.
	other := filepath.Join(t.TempDir(), "other")
	capture(t, func() error {
		return runReconstruct(append(slices.Clone(args[:len(args)-2]), "--num_inference_steps", "5", "--save_dir", other, "--shard", "2/3", "--format", "json"))
	})
	err := runMerge([]string{"--inputs", strings.Join([]string{filepath.Join(shards, "0"), filepath.Join(shards, "1"), other}, ","), "--save_dir", t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("merging a shard of another run: %v", err)
	}
}

// Sampling in 3 shards into one folder writes the whole run's files, byte for byte.
func TestShardedSample(t *testing.T) {
	model := tinyModel(t)
	args := []string{"--model_id", model, "--num_inference_steps", "3", "--batch_size", "2", "--test_num", "4", "--quiet"}
	whole, parts := t.TempDir(), t.TempDir()
	if err := runSample(append(args, "--save_dir", whole)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := runSample(append(args, "--save_dir", parts, "--shard", fmt.Sprintf("%d/3", i))); err != nil {
			t.Fatal(err)
		}
	}
	list := func(dir string) []string {
		es, _ := os.ReadDir(dir)
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}
	if a, b := list(whole), list(parts); len(a) != 12 || !slices.Equal(a, b) {
		t.Fatalf("files: whole %v, shards %v", a, b)
	}
	for _, name := range list(whole) {
		a, _ := os.ReadFile(filepath.Join(whole, name))
		b, _ := os.ReadFile(filepath.Join(parts, name))
		if string(a) != string(b) {
			t.Errorf("%s differs", name)
		}
	}
}

// A reconstruction stopped by SIGINT keeps what it finished: the rows of N = 3 are in
// reconstruction.csv, the run exits with 130 (128 + SIGINT) and says to rerun; the long
// N = 1000 pass after them is abandoned before its next batch.
func TestReconstructSignal(t *testing.T) {
	bin := belmBinary(t)
	out := filepath.Join(t.TempDir(), "recon")
	cmd := exec.Command(bin, "reconstruct", "--model_id", tinyModel(t), "--directory", testImages(t, 3), "--sampler_type", "belm",
		"--num_inference_steps", "3,1000", "--batch_size", "1", "--dtype", "float64", "--save_dir", out, "--quiet")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(out, "reconstruction.csv")
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(csvPath); err == nil {
			break
		}
		if time.Since(start) > 2*time.Minute {
			cmd.Process.Kill()
			t.Fatalf("no reconstruction.csv after 2 minutes:\n%s", stderr.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "rerun the command") {
		t.Fatalf("after SIGINT: %v\n%s", err, stderr.String())
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != 1+3 {
		t.Fatalf("reconstruction.csv: %v, %d rows, want the header and N = 3's 3 rows", err, len(recs))
	}
	for _, r := range recs[1:] {
		if r[1] != "3" {
			t.Errorf("a row of N = %s was saved: the N = 1000 pass was not finished", r[1])
		}
	}
	noTempFiles(t, out)
}
