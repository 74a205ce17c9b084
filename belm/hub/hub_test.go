package hub

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyFiles are the tiny fixture model's files (belm/unet/testdata) and google/ddpm-cifar10-32's
// scheduler config (belm/testdata).
var tinyFiles = map[string]string{
	"../unet/testdata/tiny_cifar10_config.json":      ConfigFile,
	"../unet/testdata/tiny_cifar10_unet.safetensors": SafetensorsFile,
	"../testdata/ddpm_scheduler_config.json":         SchedulerConfigFile,
}

func put(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cacheModel lays out the tiny model as the Hugging Face cache holds a Hub id.
func cacheModel(t *testing.T, cache, id string, pipelineLayout bool) string {
	t.Helper()
	repo := filepath.Join(cache, RepoFolder(id))
	snap := filepath.Join(repo, "snapshots", "0123abcd")
	for from, to := range tinyFiles {
		switch {
		case pipelineLayout && to == SchedulerConfigFile:
			to = filepath.Join("scheduler", to)
		case pipelineLayout:
			to = filepath.Join("unet", to)
		}
		put(t, from, filepath.Join(snap, to))
	}
	put(t, "../unet/testdata/tiny_cifar10_config.json", filepath.Join(repo, "blobs", "deadbeef")) // unrelated
	if err := os.MkdirAll(filepath.Join(repo, "refs"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte("0123abcd\n"), 0o644)
	return snap
}

func TestCacheDir(t *testing.T) {
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_HOME", "")
	t.Setenv("XDG_CACHE_HOME", "/x")
	if got := CacheDir(); got != "/x/huggingface/hub" {
		t.Errorf("XDG: %s", got)
	}
	t.Setenv("HF_HOME", "/h")
	if got := CacheDir(); got != "/h/hub" {
		t.Errorf("HF_HOME: %s", got)
	}
	t.Setenv("HF_HUB_CACHE", "/c")
	if got := CacheDir(); got != "/c" {
		t.Errorf("HF_HUB_CACHE: %s", got)
	}
	if RepoFolder("google/ddpm-cifar10-32") != "models--google--ddpm-cifar10-32" {
		t.Error(RepoFolder("google/ddpm-cifar10-32"))
	}
	for id, ok := range map[string]bool{"google/ddpm-cifar10-32": true, "a/b": true, "./x": false, "/abs/path": false, "a/b/c": false, "a/..": false, "x": false} {
		if IsHubID(id) != ok {
			t.Errorf("IsHubID(%q) = %v", id, !ok)
		}
	}
}

func TestResolve(t *testing.T) {
	t.Setenv("HF_HUB_OFFLINE", "1")
	home := t.TempDir()
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_HOME", home)
	snap := cacheModel(t, filepath.Join(home, "hub"), "google/tiny-cifar10", false)
	m, err := Resolve("google/tiny-cifar10")
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != "cache" || m.UNetDir != snap || m.SchedulerConfig != filepath.Join(snap, SchedulerConfigFile) {
		t.Errorf("flat layout: %+v", m)
	}
	// HF_HUB_CACHE wins over HF_HOME; the pipeline layout (unet/, scheduler/).
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	snap = cacheModel(t, cache, "org/pipe", true)
	m, err = Resolve("org/pipe")
	if err != nil {
		t.Fatal(err)
	}
	if m.UNetDir != filepath.Join(snap, "unet") || m.SchedulerConfig != filepath.Join(snap, "scheduler", SchedulerConfigFile) {
		t.Errorf("pipeline layout: %+v", m)
	}
	// Without refs/main the only snapshot is used.
	os.Remove(filepath.Join(cache, RepoFolder("org/pipe"), "refs", "main"))
	if _, err := Resolve("org/pipe"); err != nil {
		t.Errorf("no refs/main: %v", err)
	}
	// A local folder.
	m, err = Resolve(snap)
	if err != nil || m.Source != "folder" {
		t.Errorf("folder: %+v %v", m, err)
	}
	// Offline and not cached: the error says where the files go.
	_, err = Resolve("google/ddpm-cifar10-32")
	want := filepath.Join(cache, "models--google--ddpm-cifar10-32", "snapshots")
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("offline error %v should name %s", err, want)
	}
	// Not a model folder, no weights, not an id.
	empty := t.TempDir()
	if _, err := Resolve(empty); err == nil || !strings.Contains(err.Error(), "not a diffusers model folder") {
		t.Errorf("empty folder: %v", err)
	}
	put(t, "../unet/testdata/tiny_cifar10_config.json", filepath.Join(empty, ConfigFile))
	if _, err := Resolve(empty); err == nil || !strings.Contains(err.Error(), "no weights") {
		t.Errorf("no weights: %v", err)
	}
	if _, err := Resolve("no such thing"); err == nil || !strings.Contains(err.Error(), "Hub id") {
		t.Errorf("bad id: %v", err)
	}
}

func TestFiles(t *testing.T) {
	got := Files([]string{"README.md", "config.json", "diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors", "scheduler_config.json", "model_index.json"})
	if strings.Join(got, ",") != "config.json,diffusion_pytorch_model.safetensors,scheduler_config.json,model_index.json" {
		t.Errorf("flat: %v", got)
	}
	got = Files([]string{"unet/config.json", "unet/diffusion_pytorch_model.bin", "scheduler/scheduler_config.json"})
	if strings.Join(got, ",") != "unet/config.json,unet/diffusion_pytorch_model.bin,scheduler/scheduler_config.json" {
		t.Errorf("pipeline: %v", got)
	}
	// Stable Diffusion 1.5's repository (its file list, abridged): full-precision safetensors
	// of every part, no EMA-only or ONNX/Flax files, the tokenizer.
	sd := []string{"model_index.json", "README.md", "v1-5-pruned.ckpt", "feature_extractor/preprocessor_config.json",
		"safety_checker/config.json", "safety_checker/model.safetensors", "scheduler/scheduler_config.json",
		"text_encoder/config.json", "text_encoder/model.fp16.safetensors", "text_encoder/model.safetensors", "text_encoder/pytorch_model.bin",
		"tokenizer/merges.txt", "tokenizer/special_tokens_map.json", "tokenizer/tokenizer_config.json", "tokenizer/vocab.json",
		"unet/config.json", "unet/diffusion_pytorch_model.bin", "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.safetensors",
		"unet/diffusion_pytorch_model.non_ema.safetensors", "vae/config.json", "vae/diffusion_pytorch_model.fp16.safetensors"}
	want := "unet/config.json,unet/diffusion_pytorch_model.safetensors,scheduler/scheduler_config.json,model_index.json," +
		"vae/config.json,vae/diffusion_pytorch_model.fp16.safetensors,text_encoder/config.json,text_encoder/model.safetensors," +
		"tokenizer/vocab.json,tokenizer/merges.txt,tokenizer/tokenizer_config.json,tokenizer/special_tokens_map.json"
	if got := strings.Join(Files(sd), ","); got != want {
		t.Errorf("stable diffusion:\n got %s\nwant %s", got, want)
	}
}
