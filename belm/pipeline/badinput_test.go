package pipeline

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
)

// pngHeader is a PNG signature, an IHDR chunk (valid CRC) claiming w×h 8-bit RGBA pixels,
// and junk where the image data should be: decoding must stop at the header.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		body := append([]byte(typ), data...)
		b.Write(body)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(body))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // bit depth 8, RGBA, deflate, adaptive filter, no interlace
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte("not zlib data at all"))
	chunk("IEND", nil)
	return b.Bytes()
}

func TestLoadImageTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.png")
	if err := os.WriteFile(path, pngHeader(60000, 60000), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadImage(path, 8, 3)
	want := path + ": its png header says 60000×60000 pixels (3600.0 megapixels), over the limit of 8192×8192 = 67.1 megapixels (pipeline.MaxImagePixels): shrink the image first"
	if err == nil || err.Error() != want {
		t.Errorf("huge image:\n got %v\nwant %s", err, want)
	}
	// Just over the limit in one dimension only; at the limit the header passes (and the
	// junk data then fails to decode, naming the file).
	os.WriteFile(path, pngHeader(8193, 8192), 0o644)
	if _, err := LoadImage(path, 8, 3); err == nil || !strings.Contains(err.Error(), "8193×8192 pixels") {
		t.Errorf("8193×8192: %v", err)
	}
	os.WriteFile(path, pngHeader(8192, 8192), 0o644)
	if _, err := LoadImage(path, 8, 3); err == nil || !strings.HasPrefix(err.Error(), "decoding "+path+" (PNG or JPEG expected)") {
		t.Errorf("8192×8192 with junk data: %v", err)
	}
	if err := CheckImageSize("x.png", "png", 0, 5); err == nil || err.Error() != "x.png: its png header says 0×5 pixels: an empty image" {
		t.Errorf("empty: %v", err)
	}
	if err := CheckImageSize("x.png", "png", 1<<30, 1<<30); err == nil {
		t.Error("2^60 pixels accepted")
	}
	// Not an image at all.
	os.WriteFile(path, []byte("hello"), 0o644)
	if _, err := LoadImage(path, 8, 3); err == nil || err.Error() != "decoding "+path+" (PNG or JPEG expected): image: unknown format" {
		t.Errorf("not an image: %v", err)
	}
}

func TestListImagesEmpty(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "image.gif"), []byte("x"), 0o644)
	_, err := ListImages(dir)
	if want := "no images in " + dir + " (looked for .png, .jpg, .jpeg recursively)"; err == nil || err.Error() != want {
		t.Errorf("empty folder:\n got %v\nwant %s", err, want)
	}
	// Found recursively, any case of the extension.
	os.WriteFile(filepath.Join(dir, "sub", "a.PNG"), []byte("x"), 0o644)
	if got, err := ListImages(dir); err != nil || len(got) != 1 {
		t.Errorf("one image: %v %v", got, err)
	}
}

// EstimateBytes is affine in the batch size, and its per-image part agrees with a rough
// hand computation for the tiny fixture.
func TestEstimateBytes(t *testing.T) {
	t.Setenv("GOGC", "")
	id := tinyCache(t)
	p, err := Load(id, Options{DType: dtypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	const factor = allocatorSlack * 2 // the go backend, GOGC unset
	e0, e1, e8, e64 := p.EstimateBytes(0), p.EstimateBytes(1), p.EstimateBytes(8), p.EstimateBytes(64)
	weights := float64(p.UNet.NumParameters()*4) * factor
	if math.Abs(float64(e0)-weights) > 1 {
		t.Errorf("batch 0: %d, want the weights %v", e0, weights)
	}
	step := float64(e1 - e0)
	if step <= 0 || math.Abs(float64(e8-e0)-8*step) > 8 || math.Abs(float64(e64-e0)-64*step) > 64 {
		t.Errorf("not linear in the batch: %d %d %d %d", e0, e1, e8, e64)
	}
	// By hand (8×8 images, channels 8/16, one head of attention at 4×4): the biggest
	// convolution is the first resnet of the last up block, on the concatenation of 16 + 8
	// channels at 8×8: 18·24·64 values of taps and patches; plus a few 16-channel
	// activations at 8×8, the three skips of level 0 (3·8·64), the attention maps at 4×4
	// (2·16²) and the input and output (6·64).
	rough := float64(18*24*64+4*16*64+3*8*64+2*16*16+6*64) * 4 * factor
	if r := step / rough; r < 0.5 || r > 2 {
		t.Errorf("per image %v bytes, rough hand computation %v (ratio %.2f)", step, rough, r)
	}
	// float64 doubles the activations and adds a float64 copy of the float32 weights.
	p64, err := Load(id, Options{DType: dtypes.Float64})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := float64(p64.EstimateBytes(0)), float64(p.UNet.NumParameters()*12)*factor; math.Abs(got-want) > 1 {
		t.Errorf("float64 weights: %v, want %v", got, want)
	}
	if got := float64(p64.EstimateBytes(1) - p64.EstimateBytes(0)); math.Abs(got-2*step) > 2 {
		t.Errorf("float64 per image %v, want %v", got, 2*step)
	}
	// GOGC scales it; absurd batches saturate instead of overflowing.
	t.Setenv("GOGC", "50")
	if got := float64(p.EstimateBytes(64)); math.Abs(got-float64(e64)*1.5/2) > 2 {
		t.Errorf("GOGC=50: %v, want %v", got, float64(e64)*1.5/2)
	}
	if got := p.EstimateBytes(math.MaxInt); got != math.MaxInt64 {
		t.Errorf("huge batch: %d", got)
	}
}
