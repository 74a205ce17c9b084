package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "a.txt")
	if err := WriteFile(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("content %q", b)
	}
	// Writing over a directory fails, leaves the directory and no temporary file.
	if err := WriteFile(filepath.Join(dir, "sub"), []byte("x")); err == nil {
		t.Error("writing over a directory: no error")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "sub"))
	if len(entries) != 1 {
		t.Errorf("leftovers: %v", entries)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
}

func TestStaged(t *testing.T) {
	root := t.TempDir()
	final := filepath.Join(root, "a", "b", "figs")
	s, err := Stage(final)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(s.Path(), "x.png"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.Abort()
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Fatalf("Abort left %v in %s", entries, root)
	}

	if err := os.MkdirAll(final, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(final, "old.txt"), []byte("old"), 0o644)
	os.WriteFile(filepath.Join(final, "x.png"), []byte("stale"), 0o644)
	if s, err = Stage(final); err != nil {
		t.Fatal(err)
	}
	WriteFile(filepath.Join(s.Path(), "x.png"), []byte("new"))
	WriteFile(filepath.Join(s.Path(), "sub", "y.csv"), []byte("y"))
	if b, _ := os.ReadFile(filepath.Join(final, "x.png")); string(b) != "stale" {
		t.Fatalf("the target changed before Commit: %q", b)
	}
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"x.png": "new", "old.txt": "old", "sub/y.csv": "y"} {
		if b, err := os.ReadFile(filepath.Join(final, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(final)); len(entries) != 1 {
		t.Errorf("staging folder left behind: %v", entries)
	}
}
