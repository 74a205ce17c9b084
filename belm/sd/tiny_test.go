package sd

import (
	"bytes"
	"encoding/binary"
	"flag"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/clip"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/belmlab/workbench/internal/fixtures"
)

var update = flag.Bool("update", false, "rewrite data/tiny-sd from the SD fixtures")

// fixtureDir is the SD component fixtures' folder; missing, the tests that need it fail.
func fixtureDir(t testing.TB) string { return fixtures.Dir(t, "sd") }

// tinyDir is the tiny SD folder the project ships (data/tiny-sd).
const tinyDir = "../../data/tiny-sd"

// The shipped tiny SD folder is exactly what AssembleTiny makes from the fixtures, file for
// file and byte for byte (go test ./belm/sd -run TestTinyFolder -update rewrites it).
func TestTinyFolderIsCurrent(t *testing.T) {
	if *update {
		if err := os.RemoveAll(tinyDir); err != nil {
			t.Fatal(err)
		}
		if err := AssembleTiny(fixtureDir(t), tinyDir); err != nil {
			t.Fatal(err)
		}
	}
	fresh := t.TempDir()
	if err := AssembleTiny(fixtureDir(t), fresh); err != nil {
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
	tok, err := clip.LoadOpenAIVocab(filepath.Join(fixtureDir(t), clip.OpenAIVocabFile))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// f16 rounds a float32 to IEEE half precision (nearest, ties to even) and returns its bits.
func f16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b&0x7fffff | 0x800000
	shift := uint(13) // normal: 24 significant bits → 11
	if exp <= 0 {     // subnormal half: units of 2⁻²⁴
		shift = uint(14 - exp)
		if shift > 24 {
			return sign
		}
	}
	m := mant >> shift
	rem, half := mant&(1<<shift-1), uint32(1)<<(shift-1)
	if rem > half || rem == half && m&1 == 1 {
		m++
	}
	if exp <= 0 {
		return sign | uint16(m) // m = 0x400 carries into the smallest normal, as it should
	}
	if m == 0x800 { // the rounding carried into the exponent
		m, exp = 0x400, exp+1
	}
	if exp >= 31 {
		return sign | 0x7c00
	}
	return sign | uint16(exp)<<10 | uint16(m&0x3ff)
}

// A pipeline folder whose UNet ships only the fp16 variant (diffusion_pytorch_model.fp16
// .safetensors, F16 tensors, as SD repositories do) loads with the weights upcast exactly:
// the UNet's output moves from the float32 weights' by their rounding only (measured
// 1.1e-3, ≤ 1e-2 asserted; > 0: the F16 file was read), and the f16 encoder here is checked
// against known half-precision bit patterns.
func TestFP16Variant(t *testing.T) {
	for v, want := range map[float32]uint16{1: 0x3c00, -2: 0xc000, 0.1: 0x2e66, 65504: 0x7bff, 1e-7: 0x0002, 5.96e-8: 0x0001, 1e6: 0x7c00} {
		if got := f16(v); got != want {
			t.Errorf("f16(%g) = %#04x, want %#04x", v, got, want)
		}
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(tinyDir)); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "unet", "diffusion_pytorch_model.safetensors")
	f, err := safetensors.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	var ts []safetensors.Tensor
	for _, name := range f.Names() {
		v, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(data[2*i:], f16(x))
		}
		ts = append(ts, safetensors.Tensor{Name: name, DType: safetensors.F16, Shape: shape, Data: data})
	}
	f.Close()
	if err := safetensors.Write(filepath.Join(dir, "unet", "diffusion_pytorch_model.fp16.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	eps := func(dir string) []float64 {
		m, err := Load(dir, Options{Backend: "go"})
		if err != nil {
			t.Fatal(err)
		}
		io, err := safetensors.Open(filepath.Join(fixtureDir(t), "sd_unet_io.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		defer io.Close()
		x, _ := io.Tensor("x", dtypes.Float32)
		tt, _ := io.Tensor("t", dtypes.Float32)
		c, _ := io.Tensor("encoder_hidden_states", dtypes.Float32)
		_, e, err := m.Pipeline.EpsOut(x, tt, c)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := belm.Values(e)
		return v
	}
	d := belm.Compare(eps(dir), eps(tinyDir), 1).MaxAbs
	t.Logf("fp16 weights move ε by %.2e", d)
	if d == 0 || d > 1e-2 {
		t.Errorf("fp16 weights move ε by %.2e: want rounding-sized, non-zero", d)
	}
}
