package sd

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/belmlab/workbench/belm/clip"
)

var update = flag.Bool("update", false, "rewrite data/tiny-sd from the SD fixtures")

// fixtures is the SD component fixtures' folder (../shared/fixtures/sd beside the repo,
// $BELM_SD_FIXTURES to override). Missing, the tests that need it fail.
func fixtures(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("BELM_SD_FIXTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "fixtures", "sd")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("the SD fixtures are missing (%v): they are in ../shared/fixtures/sd beside the repository; set BELM_SD_FIXTURES to their folder", err)
	}
	return dir
}

// tinyDir is the tiny SD folder the project ships (data/tiny-sd).
const tinyDir = "../../data/tiny-sd"

// The shipped tiny SD folder is exactly what AssembleTiny makes from the fixtures, file for
// file and byte for byte (go test ./belm/sd -run TestTinyFolder -update rewrites it).
func TestTinyFolderIsCurrent(t *testing.T) {
	if *update {
		if err := os.RemoveAll(tinyDir); err != nil {
			t.Fatal(err)
		}
		if err := AssembleTiny(fixtures(t), tinyDir); err != nil {
			t.Fatal(err)
		}
	}
	fresh := t.TempDir()
	if err := AssembleTiny(fixtures(t), fresh); err != nil {
		t.Fatal(err)
	}
	want := files(t, fresh)
	got := files(t, tinyDir)
	for name, b := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("data/tiny-sd lacks %s", name)
		} else if !bytes.Equal(g, b) {
			t.Errorf("data/tiny-sd/%s differs from what AssembleTiny makes: run go test ./belm/sd -run TestTinyFolder -update", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok && name != "README.md" {
			t.Errorf("data/tiny-sd has %s, which AssembleTiny does not make", name)
		}
	}
}

func files(t *testing.T, root string) map[string][]byte {
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func loadOpenAI(t testing.TB) *clip.Tokenizer {
	t.Helper()
	tok, err := clip.LoadOpenAIVocab(filepath.Join(fixtures(t), clip.OpenAIVocabFile))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
