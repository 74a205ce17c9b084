// Package hub finds a diffusers model given a --model_id: a local folder, a Hub id already
// in the Hugging Face cache, or a Hub id downloaded into that cache
// (github.com/gomlx/go-huggingface) when the network allows.
//
// A model folder is either a UNet folder (config.json and diffusion_pytorch_model.safetensors
// or .bin, usually with scheduler_config.json beside them, as google/ddpm-cifar10-32 ships)
// or a pipeline folder (model_index.json, unet/, scheduler/scheduler_config.json).
//
// The cache is huggingface_hub's: $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub; a model id "org/name" lives
// in models--org--name/snapshots/<revision>/, the revision named by refs/main. With
// HF_HUB_OFFLINE=1 nothing is downloaded.
package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	hfhub "github.com/gomlx/go-huggingface/hub"

	"github.com/belmlab/workbench/belm"
)

// File names of a diffusers model folder.
const (
	ConfigFile          = "config.json"
	SafetensorsFile     = "diffusion_pytorch_model.safetensors"
	PyTorchFile         = "diffusion_pytorch_model.bin"
	SchedulerConfigFile = "scheduler_config.json"
	ModelIndexFile      = "model_index.json"
)

// Model is a resolved model: where its UNet and scheduler config are on disk.
type Model struct {
	ID string // as given
	// Dir is the root folder (a local folder or the cache snapshot).
	Dir string
	// UNetDir holds config.json and the weights (Dir or Dir/unet).
	UNetDir string
	// SchedulerConfig is the scheduler_config.json found (Dir/scheduler_config.json or
	// Dir/scheduler/scheduler_config.json), "" when there is none.
	SchedulerConfig string
	// Source says how the model was found: "folder", "cache" or "download".
	Source string
}

// CacheDir returns the Hugging Face hub cache folder, as huggingface_hub computes it:
// $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub.
func CacheDir() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "hub")
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "huggingface", "hub")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "~"
	}
	return filepath.Join(home, ".cache", "huggingface", "hub")
}

// Offline reports whether downloads are off (HF_HUB_OFFLINE set to 1/true/yes/on).
func Offline() bool {
	switch strings.ToLower(os.Getenv("HF_HUB_OFFLINE")) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

var hubID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// IsHubID reports whether s looks like a Hub model id ("org/name").
func IsHubID(s string) bool { return hubID.MatchString(s) && !strings.Contains(s, "..") }

// RepoFolder is the cache folder of a Hub model id: models--org--name.
func RepoFolder(id string) string { return "models--" + strings.ReplaceAll(id, "/", "--") }

// Resolve finds the model of a --model_id: an existing local folder first; otherwise a Hub
// id ("google/ddpm-cifar10-32") in the cache; otherwise, unless HF_HUB_OFFLINE is set, a
// download of the files a UNet pipeline needs into the cache. Offline, the error names
// the folder to put the files in.
func Resolve(id string) (*Model, error) {
	if id == "" {
		return nil, errors.New("no model given: pass --model_id with a diffusers model folder or a Hub id such as google/ddpm-cifar10-32")
	}
	if st, err := os.Stat(id); err == nil {
		if !st.IsDir() {
			return nil, fmt.Errorf("model %s is a file, not a folder: pass the diffusers folder holding %s and the weights", id, ConfigFile)
		}
		m, err := inspect(id)
		if err != nil {
			return nil, err
		}
		m.ID, m.Source = id, "folder"
		return m, nil
	}
	if !IsHubID(id) {
		return nil, fmt.Errorf("model %q: no such folder, and not a Hub id (org/name): pass a diffusers model folder or a Hub id such as google/ddpm-cifar10-32", id)
	}
	cache := CacheDir()
	if dir, err := cachedSnapshot(cache, id); err == nil {
		m, err := inspect(dir)
		if err == nil {
			m.ID, m.Source = id, "cache"
			return m, nil
		}
		if Offline() {
			return nil, fmt.Errorf("model %s in the cache is incomplete: %w", id, err)
		}
	}
	where := filepath.Join(cache, RepoFolder(id), "snapshots", "main")
	fix := fmt.Sprintf("put its files (%s, %s or %s, %s) into %s (or fetch them there with `huggingface-cli download %s`, set HF_HUB_CACHE / HF_HOME to the cache that has them, or pass a local folder as --model_id)",
		ConfigFile, SafetensorsFile, PyTorchFile, SchedulerConfigFile, where, id)
	if Offline() {
		return nil, fmt.Errorf("model %s is not in the Hugging Face cache %s and HF_HUB_OFFLINE is set: %s", id, cache, fix)
	}
	dir, err := Download(id, cache)
	if err != nil {
		return nil, fmt.Errorf("model %s is not in the Hugging Face cache %s and downloading it failed (%v): %s", id, cache, err, fix)
	}
	m, err := inspect(dir)
	if err != nil {
		return nil, err
	}
	m.ID, m.Source = id, "download"
	return m, nil
}

// cachedSnapshot returns the snapshot folder of id in the cache: the revision of refs/main,
// or else the only (or newest) snapshot.
func cachedSnapshot(cache, id string) (string, error) {
	repo := filepath.Join(cache, RepoFolder(id))
	snaps := filepath.Join(repo, "snapshots")
	if ref, err := os.ReadFile(filepath.Join(repo, "refs", "main")); err == nil {
		dir := filepath.Join(snaps, strings.TrimSpace(string(ref)))
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir, nil
		}
	}
	entries, err := os.ReadDir(snaps)
	if err != nil {
		return "", err
	}
	var best string
	var bestTime int64
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if t := info.ModTime().UnixNano(); best == "" || t > bestTime {
			best, bestTime = e.Name(), t
		}
	}
	if best == "" {
		return "", fmt.Errorf("no snapshot in %s", snaps)
	}
	return filepath.Join(snaps, best), nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// inspect checks a folder's layout.
func inspect(dir string) (*Model, error) {
	m := &Model{Dir: dir}
	switch {
	case exists(filepath.Join(dir, ConfigFile)):
		m.UNetDir = dir
	case exists(filepath.Join(dir, "unet", ConfigFile)):
		m.UNetDir = filepath.Join(dir, "unet")
	default:
		return nil, fmt.Errorf("%s is not a diffusers model folder: it has neither %s nor unet/%s (download the model's files there, e.g. from https://huggingface.co/google/ddpm-cifar10-32)",
			dir, ConfigFile, ConfigFile)
	}
	if !exists(filepath.Join(m.UNetDir, SafetensorsFile)) && !exists(filepath.Join(m.UNetDir, PyTorchFile)) {
		return nil, fmt.Errorf("%s has %s but no weights: put %s (or %s) beside it", m.UNetDir, ConfigFile, SafetensorsFile, PyTorchFile)
	}
	for _, p := range []string{filepath.Join(dir, SchedulerConfigFile), filepath.Join(dir, "scheduler", SchedulerConfigFile), filepath.Join(m.UNetDir, SchedulerConfigFile)} {
		if exists(p) {
			m.SchedulerConfig = p
			break
		}
	}
	return m, nil
}

// Files is the list of repository files a UNet pipeline needs, among those of a repo: the
// configs, and the safetensors weights (or the .bin when there is no safetensors).
func Files(repoFiles []string) []string {
	var out []string
	for _, prefix := range []string{"", "unet/"} {
		if !slices.Contains(repoFiles, prefix+ConfigFile) {
			continue
		}
		out = append(out, prefix+ConfigFile)
		switch {
		case slices.Contains(repoFiles, prefix+SafetensorsFile):
			out = append(out, prefix+SafetensorsFile)
		case slices.Contains(repoFiles, prefix+PyTorchFile):
			out = append(out, prefix+PyTorchFile)
		}
		break
	}
	for _, f := range []string{SchedulerConfigFile, "scheduler/" + SchedulerConfigFile, ModelIndexFile} {
		if slices.Contains(repoFiles, f) {
			out = append(out, f)
		}
	}
	return out
}

// Download fetches the files of id that a UNet pipeline needs (see Files) into the cache
// folder (the huggingface_hub layout) and returns the snapshot folder. HF_TOKEN, if set,
// authenticates.
func Download(id, cache string) (string, error) {
	repo := hfhub.New(id).WithCacheDir(cache)
	if tok := os.Getenv("HF_TOKEN"); tok != "" {
		repo = repo.WithAuth(tok)
	}
	if err := repo.DownloadInfo(false); err != nil {
		return "", err
	}
	var all []string
	for name, err := range repo.IterFileNames() {
		if err != nil {
			return "", err
		}
		all = append(all, name)
	}
	files := Files(all)
	if len(files) == 0 {
		return "", fmt.Errorf("repository %s has no %s nor unet/%s: it is not a diffusers UNet model", id, ConfigFile, ConfigFile)
	}
	paths, err := repo.DownloadFiles(files...)
	if err != nil {
		return "", err
	}
	// paths[0] is <snapshot>/config.json or <snapshot>/unet/config.json.
	dir := filepath.Dir(paths[0])
	if strings.HasPrefix(files[0], "unet/") {
		dir = filepath.Dir(dir)
	}
	return dir, nil
}

// LoadSchedulerConfig reads a diffusers scheduler_config.json (a DDPMScheduler's, as the
// Hub's DDPM checkpoints ship, or a DDIMScheduler's) into the DDIMScheduler configuration
// that diffusers' DDIMPipeline builds from it (DDIMScheduler.from_config): the fields of
// the file, DDIMScheduler's defaults for the others — clip_sample true, set_alpha_to_one
// true, timestep_spacing leading, steps_offset 0 (spec §1.2).
func LoadSchedulerConfig(path string) (belm.SchedulerConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return belm.SchedulerConfig{}, fmt.Errorf("reading the scheduler config: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return belm.SchedulerConfig{}, fmt.Errorf("%s is not a JSON object: %w", path, err)
	}
	c, err := belm.LoadSchedulerConfig(path)
	if err != nil {
		return c, err
	}
	if _, ok := raw["clip_sample"]; !ok {
		c.ClipSample = true
	}
	if c.SetAlphaToOne == nil {
		t := true
		c.SetAlphaToOne = &t
	}
	if v, ok := raw["thresholding"]; ok && string(v) == "true" {
		return c, fmt.Errorf("%s: thresholding (dynamic thresholding) is not supported: set it to false", path)
	}
	if err := belm.ValidatePrediction(c.PredictionType); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Scheduler returns the model's scheduler configuration: its scheduler_config.json, or,
// when it has none, the DDPM configuration of google/ddpm-cifar10-32 (linear betas
// 1e-4…0.02, leading spacing, clip_sample true); defaulted reports the latter.
func (m *Model) Scheduler() (c belm.SchedulerConfig, defaulted bool, err error) {
	if m.SchedulerConfig == "" {
		c = belm.DDPMConfig
		c.ClipSample = true
		return c.Defaults(), true, nil
	}
	c, err = LoadSchedulerConfig(m.SchedulerConfig)
	return c, false, err
}
