// Package hub finds a diffusers model given a --model_id: a local folder, a Hub id already
// in the Hugging Face cache, or a Hub id downloaded into that cache
// (github.com/gomlx/go-huggingface) when the network allows.
//
// A model folder is either a UNet folder (config.json and diffusion_pytorch_model.safetensors
// or .bin, usually with scheduler_config.json beside them, as google/ddpm-cifar10-32 ships)
// or a pipeline folder (model_index.json, unet/, scheduler/scheduler_config.json); a Stable
// Diffusion pipeline folder also has vae/, text_encoder/ and tokenizer/, which Resolve
// finds and Download fetches.
//
// The cache is huggingface_hub's: $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub; a model id "org/name" lives
// in models--org--name/snapshots/<revision>/, the revision named by refs/main. With
// HF_HUB_OFFLINE=1 nothing is downloaded.
package hub

import (
	"errors"
	"fmt"
	"io/fs"
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
	// ModelIndex is Dir/model_index.json, "" when there is none.
	ModelIndex string
	// VAEDir, TextEncoderDir and TokenizerDir are a pipeline folder's vae/, text_encoder/
	// and tokenizer/ (each "" when the folder has none): a latent text-to-image model's.
	VAEDir, TextEncoderDir, TokenizerDir string
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
//
// An id that looks like a local path (see LooksLocal: it starts with /, ./, ../ or ~, ends
// in a path separator, or its first component is an existing local folder, as data/ is for
// data/fashion-mnist) is never looked up on the Hub: when it does not exist the error says
// "no such folder", names the nearest existing parent and suggests a close sibling ("did
// you mean data/fashion-mnist?"). A leading ~/ is the home folder.
//
// A download that fails leaves the cache as it found it: what the attempt created there
// (lock files, the models--org--name folders) is removed again; nothing that was there
// before is touched.
func Resolve(id string) (*Model, error) {
	if id == "" {
		return nil, errors.New("no model given: pass --model_id with a diffusers model folder or a Hub id such as google/ddpm-cifar10-32")
	}
	path := expandHome(id)
	if st, err := os.Stat(path); err == nil {
		if !st.IsDir() {
			return nil, fmt.Errorf("model %s is a file, not a folder: pass the diffusers folder holding %s and the weights", id, ConfigFile)
		}
		m, err := inspect(path)
		if err != nil {
			return nil, err
		}
		m.ID, m.Source = id, "folder"
		return m, nil
	}
	if LooksLocal(id) || !IsHubID(id) {
		return nil, missingFolder(id, path, !LooksLocal(id))
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
	track := trackCache(cache, id)
	dir, err := Download(id, cache)
	if err != nil {
		track.undo()
		return nil, fmt.Errorf("model %s is not in the Hugging Face cache %s and downloading it failed (%v): %s", id, cache, err, fix)
	}
	m, err := inspect(dir)
	if err != nil {
		return nil, err
	}
	m.ID, m.Source = id, "download"
	return m, nil
}

// LooksLocal reports whether a --model_id names a local path rather than a Hub id: it
// starts with /, ./, ../ or ~ (or is . or ..), is an absolute path, ends in a path
// separator, or its first path component is an existing local folder (data/fashion-mnst
// when data/ exists). Such an id is never looked up on the Hub.
func LooksLocal(id string) bool {
	if id == "." || id == ".." || filepath.IsAbs(id) {
		return true
	}
	slashed := filepath.ToSlash(id)
	for _, p := range []string{"/", "./", "../", "~"} {
		if strings.HasPrefix(slashed, p) {
			return true
		}
	}
	if strings.HasSuffix(slashed, "/") {
		return true
	}
	if first, _, ok := strings.Cut(slashed, "/"); ok && first != "" {
		if st, err := os.Stat(first); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

// expandHome replaces a leading ~ (alone or followed by a separator) by the home folder.
func expandHome(id string) string {
	if id != "~" && !strings.HasPrefix(id, "~/") && !strings.HasPrefix(id, "~"+string(filepath.Separator)) {
		return id
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return id
	}
	return filepath.Join(home, id[1:])
}

// missingFolder is the error for a local path that does not exist: it names the nearest
// existing parent and, when the parent holds a folder whose name is close to the missing
// one, suggests it. notHub adds that the id is not a Hub id either.
func missingFolder(id, path string, notHub bool) error {
	parent := filepath.Clean(path)
	var missing []string // the components below parent, top down
	for {
		missing = append([]string{filepath.Base(parent)}, missing...)
		up := filepath.Dir(parent)
		if up == parent {
			break
		}
		parent = up
		if _, err := os.Stat(parent); err == nil {
			break
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "model %s: no such folder", id)
	if notHub {
		b.WriteString(", and not a Hub id (org/name)")
	}
	where := parent
	if parent == "." {
		where = "the current folder"
	}
	if st, err := os.Stat(parent); err != nil {
		// Nothing exists up to the root (not expected): say no more.
	} else if !st.IsDir() {
		fmt.Fprintf(&b, ": %s is a file, not a folder", where)
	} else {
		fmt.Fprintf(&b, ": %s has no %s", where, missing[0])
		if near := nearestName(parent, missing[0]); near != "" {
			fmt.Fprintf(&b, "; did you mean %s?", filepath.Join(append([]string{parent, near}, missing[1:]...)...))
		}
	}
	b.WriteString(" (pass a diffusers model folder or a Hub id such as google/ddpm-cifar10-32)")
	return errors.New(b.String())
}

// nearestName returns the folder in dir whose name is closest to name (case-insensitively:
// a Levenshtein distance of at most 2, or one name a prefix of the other, with at least 3
// characters in common), "" when none is close.
func nearestName(dir, name string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	want := strings.ToLower(name)
	best, bestD := "", 0
	for _, e := range entries {
		if st, err := os.Stat(filepath.Join(dir, e.Name())); err != nil || !st.IsDir() {
			continue
		}
		got := strings.ToLower(e.Name())
		d := levenshtein(want, got)
		short := min(len(want), len(got))
		close := d <= 2 || (short >= 3 && (strings.HasPrefix(got, want) || strings.HasPrefix(want, got)))
		if close && (best == "" || d < bestD) {
			best, bestD = e.Name(), d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b (in runes).
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// cacheTrack records what exists of a repository's cache folder before a download, so that
// a failed download's leftovers (lock files, partial files, empty folders, and the cache
// folder itself when the attempt created it) can be removed without touching anything that
// was there before.
type cacheTrack struct {
	repo    string
	before  map[string]bool // paths under repo (repo included) that existed
	created []string        // repo and its ancestors that did not exist, deepest first
}

func trackCache(cache, id string) *cacheTrack {
	t := &cacheTrack{repo: filepath.Join(cache, RepoFolder(id)), before: map[string]bool{}}
	for p := t.repo; !exists(p); p = filepath.Dir(p) {
		t.created = append(t.created, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	filepath.WalkDir(t.repo, func(path string, d fs.DirEntry, err error) error {
		if err == nil {
			t.before[path] = true
		}
		return nil
	})
	return t
}

// undo removes the lock files and partial downloads that appeared under the repository
// folder since trackCache, then the folders that are left empty, deepest first, then the
// folders above it that the attempt created, when empty.
func (t *cacheTrack) undo() {
	var files, dirs []string
	filepath.WalkDir(t.repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil || t.before[path] {
			return nil
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		} else {
			files = append(files, path)
		}
		return nil
	})
	for _, f := range files {
		// Only the attempt's own leftovers: lock files and partial downloads. A finished
		// file may be another process's download of the same model into a shared cache.
		if b := filepath.Base(f); strings.HasSuffix(b, ".lock") || strings.HasSuffix(b, ".incomplete") || strings.HasSuffix(b, ".tmp") {
			os.Remove(f)
		}
	}
	// WalkDir lists a folder before its contents: remove in reverse, deepest first.
	for _, d := range slices.Backward(dirs) {
		os.Remove(d) // only when empty
	}
	for _, d := range t.created {
		os.Remove(d) // only when empty
	}
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
	if FindWeights(m.UNetDir, DiffusersWeights) == "" {
		return nil, fmt.Errorf("%s has %s but no weights: put %s (or %s) beside it", m.UNetDir, ConfigFile, SafetensorsFile, PyTorchFile)
	}
	for _, p := range []string{filepath.Join(dir, SchedulerConfigFile), filepath.Join(dir, "scheduler", SchedulerConfigFile), filepath.Join(m.UNetDir, SchedulerConfigFile)} {
		if exists(p) {
			m.SchedulerConfig = p
			break
		}
	}
	if p := filepath.Join(dir, ModelIndexFile); exists(p) {
		m.ModelIndex = p
	}
	for sub, field := range map[string]*string{"vae": &m.VAEDir, "text_encoder": &m.TextEncoderDir, "tokenizer": &m.TokenizerDir} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err == nil && st.IsDir() {
			*field = filepath.Join(dir, sub)
		}
	}
	return m, nil
}

// Files is the list of repository files a pipeline needs, among those of a repo: the UNet's
// config and weights (see WeightFile), the scheduler config and model_index.json, and,
// for a Stable Diffusion repo, the VAE's config and weights, the text encoder's config and
// weights and the tokenizer's files. Weights: safetensors before .bin, full precision
// before the fp16 variant.
func Files(repoFiles []string) []string {
	var out []string
	for _, prefix := range []string{"", "unet/"} {
		if !slices.Contains(repoFiles, prefix+ConfigFile) {
			continue
		}
		out = append(out, prefix+ConfigFile)
		if w := WeightFile(repoFiles, prefix, DiffusersWeights); w != "" {
			out = append(out, w)
		}
		break
	}
	for _, f := range []string{SchedulerConfigFile, "scheduler/" + SchedulerConfigFile, ModelIndexFile} {
		if slices.Contains(repoFiles, f) {
			out = append(out, f)
		}
	}
	if len(out) == 0 || !strings.HasPrefix(out[0], "unet/") {
		return out
	}
	for _, sub := range []struct {
		prefix  string
		weights []string
	}{{"vae/", DiffusersWeights}, {"text_encoder/", TransformersWeights}} {
		if slices.Contains(repoFiles, sub.prefix+ConfigFile) {
			out = append(out, sub.prefix+ConfigFile)
			if w := WeightFile(repoFiles, sub.prefix, sub.weights); w != "" {
				out = append(out, w)
			}
		}
	}
	for _, f := range TokenizerFiles {
		if slices.Contains(repoFiles, "tokenizer/"+f) {
			out = append(out, "tokenizer/"+f)
		}
	}
	return out
}

// Weight file names in the order they are preferred: safetensors before PyTorch pickles,
// full precision before the fp16 variant (whose values are upcast on load).
var (
	DiffusersWeights    = []string{SafetensorsFile, "diffusion_pytorch_model.fp16.safetensors", PyTorchFile, "diffusion_pytorch_model.fp16.bin"}
	TransformersWeights = []string{"model.safetensors", "model.fp16.safetensors", "pytorch_model.bin", "pytorch_model.fp16.bin"}
	// TokenizerFiles are the CLIP tokenizer's files in a pipeline's tokenizer/.
	TokenizerFiles = []string{"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}
)

// WeightFile is the first of names (prefixed) among files, "" when none is there.
func WeightFile(files []string, prefix string, names []string) string {
	for _, n := range names {
		if slices.Contains(files, prefix+n) {
			return prefix + n
		}
	}
	return ""
}

// FindWeights is the preferred weight file of names in dir (WeightFile over its files),
// "" when it has none.
func FindWeights(dir string, names []string) string {
	for _, n := range names {
		if p := filepath.Join(dir, n); exists(p) {
			return p
		}
	}
	return ""
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

// Scheduler returns the model's scheduler configuration: its scheduler_config.json, or,
// when it has none, the DDPM configuration of google/ddpm-cifar10-32 (linear betas
// 1e-4…0.02, leading spacing, clip_sample true); defaulted reports the latter.
func (m *Model) Scheduler() (c belm.SchedulerConfig, defaulted bool, err error) {
	if m.SchedulerConfig == "" {
		c = belm.DDPMConfig
		c.ClipSample = true
		return c.Defaults(), true, nil
	}
	c, err = belm.LoadSchedulerConfig(m.SchedulerConfig)
	return c, false, err
}
