package fashionmnist

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const wantFix = "install Debian's package with `apt-get install -y --no-install-recommends dataset-fashion-mnist`, or set $FASHION_MNIST_DIR (or --data_dir) to the folder holding "

// An empty folder, a missing folder, a file, and files of 0 images are errors naming the
// folder and the install hint, never an empty dataset.
func TestLoadEmpty(t *testing.T) {
	in, ln := Files(Test)
	files := in + " and " + ln
	empty := t.TempDir()
	_, err := Load(empty, Test)
	if want := "fashionmnist: the folder " + empty + " has no " + in + " (no such file or directory): " + wantFix + files; err == nil || err.Error() != want {
		t.Errorf("empty folder:\n got %v\nwant %s", err, want)
	}
	missing := filepath.Join(empty, "nope")
	_, err = Load(missing, Test)
	if want := "fashionmnist: folder " + missing + " not found (no such file or directory): " + wantFix + files; err == nil || err.Error() != want {
		t.Errorf("missing folder:\n got %v\nwant %s", err, want)
	}
	file := filepath.Join(empty, "f")
	os.WriteFile(file, nil, 0o644)
	if _, err = Load(file, Test); err == nil || !strings.HasPrefix(err.Error(), "fashionmnist: "+file+" is a file, not a folder: "+wantFix) {
		t.Errorf("file: %v", err)
	}
	if _, err = Load("", Test); err == nil || !strings.HasPrefix(err.Error(), "fashionmnist: no folder given: "+wantFix) {
		t.Errorf("no folder: %v", err)
	}
	// The labels alone.
	os.WriteFile(filepath.Join(empty, in), gz(t, EncodeIDX([]int{0, 28, 28}, nil)), 0o644)
	if _, err = Load(empty, Test); err == nil || !strings.Contains(err.Error(), "has no "+ln) {
		t.Errorf("no labels file: %v", err)
	}
	// Well-formed files of 0 images.
	os.WriteFile(filepath.Join(empty, ln), gz(t, EncodeIDX([]int{0}, nil)), 0o644)
	_, err = Load(empty, Test)
	if want := "fashionmnist: " + in + " holds no images (IDX dimensions [0 28 28]) in the folder " + empty + ": " + wantFix + files; err == nil || err.Error() != want {
		t.Errorf("0 images:\n got %v\nwant %s", err, want)
	}
	// Images of 0×0 pixels.
	os.WriteFile(filepath.Join(empty, in), gz(t, EncodeIDX([]int{2, 0, 0}, nil)), 0o644)
	os.WriteFile(filepath.Join(empty, ln), gz(t, EncodeIDX([]int{2}, []byte{0, 1})), 0o644)
	if _, err = Load(empty, Test); err == nil || !strings.Contains(err.Error(), "holds no images (IDX dimensions [2 0 0])") {
		t.Errorf("0×0 images: %v", err)
	}
}
