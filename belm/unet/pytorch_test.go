package unet

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm/safetensors"
)

// torchTensor is one state-dict entry of a hand-written PyTorch checkpoint.
type torchTensor struct {
	name, class, key string // storage class (FloatStorage, …) and storage key
	size, stride     []int
	offset           int
}

// pickler writes protocol-2 pickle opcodes, laid out as torch.save does for a state dict:
// OrderedDict() then SETITEMS of name → _rebuild_tensor_v2(storage, offset, size, stride,
// requires_grad, OrderedDict()), each storage a persistent id ('storage', class, key,
// 'cpu', numel).
type pickler struct{ bytes.Buffer }

func (p *pickler) global(module, name string) { p.WriteString("c" + module + "\n" + name + "\n") }
func (p *pickler) str(s string) {
	p.WriteByte('X')
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
}
func (p *pickler) int(v int) {
	p.WriteByte('J')
	binary.Write(p, binary.LittleEndian, int32(v))
}
func (p *pickler) intTuple(vs []int) {
	p.WriteByte('(')
	for _, v := range vs {
		p.int(v)
	}
	p.WriteByte('t')
}

func statePickle(ts []torchTensor, numel map[string]int) []byte {
	var p pickler
	p.WriteString("\x80\x02")
	p.global("collections", "OrderedDict")
	p.WriteString(")R(")
	for _, t := range ts {
		p.str(t.name)
		p.global("torch._utils", "_rebuild_tensor_v2")
		p.WriteString("((")
		p.str("storage")
		p.global("torch", t.class)
		p.str(t.key)
		p.str("cpu")
		p.int(numel[t.key])
		p.WriteString("tQ") // persistent id tuple, BINPERSID
		p.int(t.offset)
		p.intTuple(t.size)
		p.intTuple(t.stride)
		p.WriteByte('\x89') // False
		p.global("collections", "OrderedDict")
		p.WriteString(")R") // backward hooks
		p.WriteString("tR")
	}
	p.WriteString("u.")
	return p.Bytes()
}

// writeTorchZip writes a zip-format checkpoint: archive/data.pkl, archive/data/<key>,
// archive/version.
func writeTorchZip(tb testing.TB, path string, pkl []byte, storages map[string][]byte) {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(data)
	}
	add("archive/data.pkl", pkl)
	for k, v := range storages {
		add("archive/data/"+k, v)
	}
	add("archive/version", []byte("3\n"))
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func le32(vs ...float32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func TestLoadPyTorchDTypes(t *testing.T) {
	f64 := make([]byte, 32)
	for i, v := range []float64{1.5, -2.25, 1e-300, 3} {
		binary.LittleEndian.PutUint64(f64[8*i:], math.Float64bits(v))
	}
	storages := map[string][]byte{
		"0": le32(0, 1, 2, 3, 4, 5),
		"1": f64,
		"2": {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x35}, // float16 1, −2, 0.3125
		"3": {0x80, 0x3f, 0x40, 0xc0},             // bfloat16 1, −3
	}
	numel := map[string]int{"0": 6, "1": 4, "2": 3, "3": 2}
	ts := []torchTensor{
		{"a", "FloatStorage", "0", []int{2, 3}, []int{3, 1}, 0},
		{"b", "DoubleStorage", "1", []int{4}, []int{1}, 0},
		{"c", "HalfStorage", "2", []int{3}, []int{1}, 0},
		{"d", "BFloat16Storage", "3", []int{1, 2}, []int{2, 1}, 0},
		{"e", "FloatStorage", "0", []int{2, 2}, []int{1, 3}, 1}, // a strided view of "a"'s storage
	}
	path := filepath.Join(t.TempDir(), "x.bin")
	writeTorchZip(t, path, statePickle(ts, numel), storages)
	m, err := LoadPyTorch(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		dt   dtypes.DType
		dims []int
		v    []float64
	}{
		"a": {dtypes.Float32, []int{2, 3}, []float64{0, 1, 2, 3, 4, 5}},
		"b": {dtypes.Float64, []int{4}, []float64{1.5, -2.25, 1e-300, 3}},
		"c": {dtypes.Float32, []int{3}, []float64{1, -2, 0.3125}},
		"d": {dtypes.Float32, []int{1, 2}, []float64{1, -3}},
		"e": {dtypes.Float32, []int{2, 2}, []float64{1, 4, 2, 5}},
	}
	if len(m) != len(want) {
		t.Fatalf("got tensors %v", m.Names())
	}
	for name, w := range want {
		got := m[name]
		if got == nil || got.DType() != w.dt || !slices.Equal(got.Shape().Dimensions, w.dims) {
			t.Errorf("%s: got %v, want %s %v", name, got, w.dt, w.dims)
			continue
		}
		if v := fromTensor(t, got); maxAbsDiff(t, v, w.v) != 0 {
			t.Errorf("%s: values %v, want %v", name, v, w.v)
		}
	}
}

// A checkpoint naming any global but the tensor-rebuild ones is refused before anything runs.
func TestLoadPyTorchRefusesGlobals(t *testing.T) {
	dir := t.TempDir()
	for name, pkl := range map[string][]byte{
		"system": []byte("\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03."),
		"eval":   []byte("\x80\x02c__builtin__\neval\nX\x04\x00\x00\x001+1\x85R."),
		"notdict": func() []byte {
			var p pickler
			p.WriteString("\x80\x02")
			p.str("just a string")
			p.WriteByte('.')
			return p.Bytes()
		}(),
	} {
		path := filepath.Join(dir, name+".bin")
		writeTorchZip(t, path, pkl, nil)
		_, err := LoadPyTorch(path)
		t.Logf("%s: %v", name, err)
		if err == nil {
			t.Errorf("%s: a hostile pickle was accepted", name)
			continue
		}
		if name != "notdict" && !strings.Contains(err.Error(), "refusing") {
			t.Errorf("%s: error does not say the global is refused: %v", name, err)
		}
	}
	// A storage whose size does not match its record, and a file that is not a zip.
	storages := map[string][]byte{"0": le32(1, 2)}
	path := filepath.Join(dir, "short.bin")
	writeTorchZip(t, path, statePickle([]torchTensor{{"a", "FloatStorage", "0", []int{1 << 20}, []int{1}, 0}}, map[string]int{"0": 1 << 20}), storages)
	if _, err := LoadPyTorch(path); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Errorf("oversized storage: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "legacy.bin"), []byte("\x80\x02not a zip"), 0o644)
	if _, err := LoadPyTorch(filepath.Join(dir, "legacy.bin")); err == nil || !strings.Contains(err.Error(), "zip") {
		t.Errorf("not a zip: %v", err)
	}
}

// unet.Load reads a folder with only diffusion_pytorch_model.bin: the tiny fixture's
// weights written as a PyTorch checkpoint give the fixture's eps.
func TestLoadBinFolder(t *testing.T) {
	src, err := safetensors.Open(tinyWeights)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ts []torchTensor
	storages, numel := map[string][]byte{}, map[string]int{}
	for i, name := range src.Names() {
		v, shape, err := src.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		key := strconv.Itoa(i)
		storages[key], numel[key] = le32(v...), len(v)
		stride := make([]int, len(shape))
		s := 1
		for k := len(shape) - 1; k >= 0; k-- {
			stride[k] = s
			s *= shape[k]
		}
		ts = append(ts, torchTensor{name, "FloatStorage", key, shape, stride, 0})
	}
	dir := t.TempDir()
	copyFile(t, tinyConfig, filepath.Join(dir, ConfigFile))
	writeTorchZip(t, filepath.Join(dir, PyTorchWeightsFile), statePickle(ts, numel), storages)
	u, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := openIO(t)
	x, xs := fixture(t, f, "x")
	tv, _ := fixture(t, f, "t")
	want, _ := fixture(t, f, "eps")
	got := runDebug(t, u, dtypes.Float32, x, xs, tv, nil)[0]
	d := maxAbsDiff(t, got, want)
	t.Logf("UNet from a .bin: eps vs diffusers max|Δ| = %.2e", d)
	if d > 1e-5 {
		t.Errorf("eps from the .bin weights differs by %.2e", d)
	}
}
