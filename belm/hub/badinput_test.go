package hub

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tree lists every path under dir (relative), sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if rel, _ := filepath.Rel(dir, path); err == nil && rel != "." {
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// noDownload points downloads at a closed local port, so an attempt fails at once, with no
// network.
func noDownload(t *testing.T) string {
	t.Helper()
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("HF_TOKEN", "")
	return cache
}

func TestLooksLocal(t *testing.T) {
	t.Chdir(t.TempDir())
	os.MkdirAll(filepath.Join("data", "fashion-mnist"), 0o755)
	for id, want := range map[string]bool{
		"/abs/x": true, "./x": true, "../x": true, "~/x": true, "~": true, ".": true, "x/": true, "org/name/": true,
		"data/fashion-mnst": true, "data/anything": true,
		"google/ddpm-cifar10-32": false, "x": false, "org/name": false,
	} {
		if got := LooksLocal(id); got != want {
			t.Errorf("LooksLocal(%q) = %v, want %v", id, got, want)
		}
	}
}

// A typo of a local folder whose parent exists is a missing folder, not a Hub id: no
// download is tried, nothing is written to the cache, and the error suggests the folder.
func TestResolveLocalTypo(t *testing.T) {
	cache := noDownload(t)
	t.Chdir(t.TempDir())
	os.MkdirAll(filepath.Join("data", "fashion-mnist"), 0o755)
	os.MkdirAll(filepath.Join("data", "results"), 0o755)

	_, err := Resolve("data/fashion-mnst")
	want := "model data/fashion-mnst: no such folder: data has no fashion-mnst; did you mean data/fashion-mnist? (pass a diffusers model folder or a Hub id such as google/ddpm-cifar10-32)"
	if err == nil || err.Error() != want {
		t.Errorf("typo:\n got %v\nwant %s", err, want)
	}
	// Deeper, with a trailing slash and ./: the nearest parent and the suggestion keep the
	// rest of the path.
	_, err = Resolve("./data/fashion-mnst/unet/")
	if err == nil || !strings.Contains(err.Error(), "no such folder: data has no fashion-mnst; did you mean data/fashion-mnist/unet?") {
		t.Errorf("deeper typo: %v", err)
	}
	// A prefix is close too; nothing close gives no suggestion.
	if _, err = Resolve("data/fashion"); err == nil || !strings.Contains(err.Error(), "did you mean data/fashion-mnist?") {
		t.Errorf("prefix: %v", err)
	}
	if _, err = Resolve("data/zzz"); err == nil || !strings.Contains(err.Error(), "no such folder: data has no zzz (") || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("nothing close: %v", err)
	}
	// Missing two levels down from an existing folder; an absolute path.
	abs, _ := filepath.Abs(filepath.Join("data", "nope", "deeper"))
	_, err = Resolve(abs)
	if err == nil || !strings.Contains(err.Error(), "no such folder: "+filepath.Dir(filepath.Dir(abs))+" has no nope (") {
		t.Errorf("absolute: %v", err)
	}
	// A file in the way.
	os.WriteFile(filepath.Join("data", "f.txt"), nil, 0o644)
	if _, err = Resolve("data/f.txt/x"); err == nil || !strings.Contains(err.Error(), "data/f.txt is a file, not a folder") {
		t.Errorf("file parent: %v", err)
	}
	// One component, not an id: the current folder is the parent.
	if _, err = Resolve("dat"); err == nil || !strings.Contains(err.Error(), "no such folder, and not a Hub id (org/name): the current folder has no dat; did you mean data?") {
		t.Errorf("one component: %v", err)
	}
	if got := tree(t, cache); len(got) != 0 {
		t.Errorf("a local typo wrote to the cache: %v", got)
	}
}

// A Hub id whose download fails leaves the cache as it was: the attempt's lock files and
// folders are removed, what was there before stays.
func TestResolveFailedDownloadCleansUp(t *testing.T) {
	cache := noDownload(t)
	// Pre-existing cache content: another model, and an unrelated file in the very repo
	// folder the attempt uses.
	cacheModel(t, cache, "other/model", false)
	keep := filepath.Join(cache, RepoFolder("org/partial"), "blobs", "keep")
	put(t, "../unet/testdata/tiny_cifar10_config.json", keep)
	t.Chdir(t.TempDir()) // no local folder "org/"
	before := tree(t, cache)

	start := time.Now()
	for _, id := range []string{"org/missing", "org/partial"} {
		_, err := Resolve(id)
		if err == nil || !strings.Contains(err.Error(), "model "+id+" is not in the Hugging Face cache "+cache+" and downloading it failed") {
			t.Errorf("%s: %v", id, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failing downloads took %v", d)
	}
	if after := tree(t, cache); !slices.Equal(after, before) {
		t.Errorf("the failed downloads changed the cache:\nbefore %v\nafter  %v", before, after)
	}

	// A cache folder that did not exist is removed again too.
	fresh := filepath.Join(t.TempDir(), "hf", "hub")
	t.Setenv("HF_HUB_CACHE", fresh)
	if _, err := Resolve("org/missing"); err == nil {
		t.Fatal("download succeeded")
	}
	if _, err := os.Stat(filepath.Dir(fresh)); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v %v", filepath.Dir(fresh), err, tree(t, filepath.Dir(fresh)))
	}
}
