package fashionmnist

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeSplit writes a hand-made split of n 2×3 images (pixel = item·10 + position) to dir.
func writeSplit(t *testing.T, dir string, split Split, n int, imgBytes, lblBytes func([]byte) []byte) {
	t.Helper()
	img := make([]byte, n*6)
	for i := range img {
		img[i] = byte((i/6)*10 + i%6)
	}
	lbl := make([]byte, n)
	for i := range lbl {
		lbl[i] = byte(i % 10)
	}
	in, ln := Files(split)
	ib, lb := EncodeIDX([]int{n, 2, 3}, img), EncodeIDX([]int{n}, lbl)
	if imgBytes != nil {
		ib = imgBytes(ib)
	}
	if lblBytes != nil {
		lb = lblBytes(lb)
	}
	if err := os.WriteFile(filepath.Join(dir, in), gz(t, ib), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ln), gz(t, lb), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHandMadeIDX(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, Train, 5, nil, nil)
	ds, err := Load(dir, Train)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 5 || ds.H != 2 || ds.W != 3 {
		t.Fatalf("got %d images of %d×%d", ds.Len(), ds.H, ds.W)
	}
	if got := ds.BatchLabels([]int{4, 1}); !slices.Equal(got, []int{4, 1}) {
		t.Errorf("labels %v", got)
	}
	// Item 1, unpadded: bytes 10…15 → v/127.5−1.
	x := ds.Float64([]int{1}, 0)
	for i, v := range x {
		if want := float64(10+i)/127.5 - 1; v != want {
			t.Errorf("pixel %d = %v, want %v", i, v, want)
		}
	}
	// Padded by 1: [1,1,4,5], border −1, centre the image.
	xp := ds.Float32([]int{1}, 1)
	if len(xp) != 4*5 {
		t.Fatalf("padded length %d", len(xp))
	}
	for y := range 4 {
		for xx := range 5 {
			v := xp[y*5+xx]
			if y == 0 || y == 3 || xx == 0 || xx == 4 {
				if v != -1 {
					t.Errorf("border (%d,%d) = %v", y, xx, v)
				}
			} else if want := float32(float64(10+(y-1)*3+(xx-1))/127.5 - 1); v != want {
				t.Errorf("(%d,%d) = %v, want %v", y, xx, v, want)
			}
		}
	}
	if Scale(0) != -1 || Scale(255) != 1 {
		t.Errorf("Scale(0)=%v Scale(255)=%v", Scale(0), Scale(255))
	}
	// Uncompressed files are read too.
	raw := EncodeIDX([]int{2}, []byte{3, 4})
	dims, data, err := ReadIDX(bytes.NewReader(raw))
	if err != nil || !slices.Equal(dims, []int{2}) || !slices.Equal(data, []byte{3, 4}) {
		t.Errorf("raw IDX: %v %v %v", dims, data, err)
	}
}

func TestCorruptIDX(t *testing.T) {
	cases := []struct {
		name    string
		img     func([]byte) []byte
		lbl     func([]byte) []byte
		wantSub string
	}{
		{"truncated data", func(b []byte) []byte { return b[:len(b)-1] }, nil, "truncated IDX data"},
		{"truncated header", func(b []byte) []byte { return b[:6] }, nil, "truncated IDX header"},
		{"trailing bytes", func(b []byte) []byte { return append(b, 1, 2) }, nil, "2 bytes after"},
		{"bad magic", func(b []byte) []byte { b = slices.Clone(b); b[0] = 7; return b }, nil, "not an IDX file"},
		{"bad type", func(b []byte) []byte { b = slices.Clone(b); b[2] = 0x0d; return b }, nil, "not unsigned byte"},
		{"labels as images", func(b []byte) []byte { return EncodeIDX([]int{5}, make([]byte, 5)) }, nil, "rank-3"},
		{"count mismatch", nil, func(b []byte) []byte { return EncodeIDX([]int{4}, make([]byte, 4)) }, "5 images but"},
		{"label out of range", nil, func(b []byte) []byte { return EncodeIDX([]int{5}, []byte{0, 1, 2, 3, 10}) }, "not in 0…9"},
		{"huge header", func(b []byte) []byte { return EncodeIDX([]int{1 << 20, 1 << 10, 1 << 10}, nil) }, nil, "announce more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSplit(t, dir, Test, 5, c.img, c.lbl)
			_, err := Load(dir, Test)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.wantSub) {
				t.Errorf("error %q does not say %q", err, c.wantSub)
			}
			in, ln := Files(Test)
			if !strings.Contains(err.Error(), in) && !strings.Contains(err.Error(), ln) {
				t.Errorf("error %q names neither file", err)
			}
		})
	}
	// A corrupt gzip stream.
	dir := t.TempDir()
	in, ln := Files(Train)
	os.WriteFile(filepath.Join(dir, in), []byte{0x1f, 0x8b, 1, 2, 3}, 0o644)
	os.WriteFile(filepath.Join(dir, ln), gz(t, EncodeIDX([]int{1}, []byte{0})), 0o644)
	if _, err := Load(dir, Train); err == nil || !strings.Contains(err.Error(), in) {
		t.Errorf("corrupt gzip: %v", err)
	}
}

func TestMissingFilesSayHowToInstall(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"), Train)
	if err == nil || !strings.Contains(err.Error(), "apt-get install") || !strings.Contains(err.Error(), "dataset-fashion-mnist") {
		t.Fatalf("error %v does not say how to install", err)
	}
	if _, err := ParseSplit("valid"); err == nil {
		t.Error("ParseSplit accepted valid")
	}
}

// A Dataset and a Padded one serve training code (train.Images, train.LabelledImages):
// Batch is Float32 with their padding, labels pass through, String names the split.
func TestTrainingSet(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, Train, 5, nil, nil)
	ds, err := Load(dir, Train)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{3, 0, 4}
	if !slices.Equal(ds.Batch(idx), ds.Float32(idx, 0)) || ds.String() != "Fashion-MNIST train split" {
		t.Errorf("Dataset: Batch differs from Float32(·, 0), or String %q", ds)
	}
	p, err := ds.Padded(2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Len() != 5 || !slices.Equal(p.Batch(idx), ds.Float32(idx, 2)) || !slices.Equal(p.BatchLabels(idx), []int{3, 0, 4}) {
		t.Errorf("Padded(2): len %d, or batch/labels differ", p.Len())
	}
	if s := p.String(); s != "Fashion-MNIST train split, padded to 6×7" {
		t.Errorf("Padded(2).String() = %q", s)
	}
	if _, err := ds.Padded(-1); err == nil || !strings.Contains(err.Error(), "sample_size") {
		t.Errorf("Padded(-1): %v", err)
	}
	if s := (&Dataset{}).String(); s != "Fashion-MNIST" {
		t.Errorf("a Dataset of no split is %q", s)
	}
}
