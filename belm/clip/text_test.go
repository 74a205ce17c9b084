package clip

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm/backends"
	"github.com/belmlab/workbench/belm/safetensors"
)

// Tolerances against clip_text_io.safetensors (values O(3)). float32: the reference is
// PyTorch's float32 forward, and sums in another order differ by a few ulps per op
// through 2 layers (measured ~1e-6). float64: the reference is a pure float64 forward
// (its softmax too); what is left is summation order (measured ~1e-15).
const (
	tol32 = 1e-5
	tol64 = 1e-12
)

func openIO(tb testing.TB) *safetensors.File {
	tb.Helper()
	f, err := safetensors.Open(fixture(tb, "clip_text_io.safetensors"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

var (
	tinyMu     sync.Mutex
	tinyModels = map[dtypes.DType]*TextModel{}
)

// loadTiny builds the fixture's tiny text encoder (vocab 1000, hidden 32, 2 layers).
func loadTiny(tb testing.TB, dt dtypes.DType) *TextModel {
	tb.Helper()
	tinyMu.Lock()
	defer tinyMu.Unlock()
	if m, ok := tinyModels[dt]; ok {
		return m
	}
	cfg, err := LoadConfig(fixture(tb, "clip_text_config.json"))
	if err != nil {
		tb.Fatal(err)
	}
	f, err := safetensors.Open(fixture(tb, "clip_text.safetensors"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	m, err := NewTextModel(cfg, f, dt)
	if err != nil {
		tb.Fatal(err)
	}
	tinyModels[dt] = m
	return m
}

func readIDs(tb testing.TB, f *safetensors.File, name string) [][]int {
	tb.Helper()
	v, shape, err := f.Int64(name)
	if err != nil {
		tb.Fatal(err)
	}
	ids := make([][]int, shape[0])
	for b := range ids {
		for _, x := range v[b*shape[1] : (b+1)*shape[1]] {
			ids[b] = append(ids[b], int(x))
		}
	}
	return ids
}

// maxAbsDiff compares a tensor with a fixture tensor (any float dtype) element by element.
func maxAbsDiff(tb testing.TB, got *tensors.Tensor, f *safetensors.File, name string) float64 {
	tb.Helper()
	want, shape, err := f.Float64(name)
	if err != nil {
		tb.Fatal(err)
	}
	if fmt.Sprint(got.Shape().Dimensions) != fmt.Sprint(shape) {
		tb.Fatalf("%s: shape %v, want %v", name, got.Shape().Dimensions, shape)
	}
	var g []float64
	if got.DType() == dtypes.Float32 {
		for _, x := range tensors.MustCopyFlatData[float32](got) {
			g = append(g, float64(x))
		}
	} else {
		g = tensors.MustCopyFlatData[float64](got)
	}
	worst := 0.0
	for i := range g {
		d := math.Abs(g[i] - want[i])
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		worst = max(worst, d)
	}
	return worst
}

// TestTextModelFixture compares last_hidden_state with the fixture's, for the two
// prompts and the unconditional one, in float32 and float64, through Encode.
func TestTextModelFixture(t *testing.T) {
	io := openIO(t)
	for _, c := range []struct {
		dt        dtypes.DType
		ids, want string
		tol       float64
	}{
		{dtypes.Float32, "input_ids", "last_hidden_state", tol32},
		{dtypes.Float64, "input_ids", "last_hidden_state_f64", tol64},
		{dtypes.Float32, "input_ids_uncond", "last_hidden_state_uncond", tol32},
		{dtypes.Float64, "input_ids_uncond", "last_hidden_state_uncond_f64", tol64},
	} {
		m := loadTiny(t, c.dt)
		out, err := m.Encode(readIDs(t, io, c.ids))
		if err != nil {
			t.Fatal(err)
		}
		if out.DType() != c.dt {
			t.Errorf("%s: output dtype %s, want %s", c.want, out.DType(), c.dt)
		}
		d := maxAbsDiff(t, out, io, c.want)
		t.Logf("%-30s %s: max |Δ| = %.3g (tolerance %g)", c.want, c.dt, d, c.tol)
		if d > c.tol {
			t.Errorf("%s (%s): max |Δ| = %.3g > %g", c.want, c.dt, d, c.tol)
		}
	}
}

// TestTextModelHiddenStates compares the embeddings and each layer's output (before the
// final layer norm) with debug.hidden_states.{0,1,2}, in float32 (the fixture's dtype)
// and in float64 against the same float32 numbers (tolerance: float32's error).
func TestTextModelHiddenStates(t *testing.T) {
	io := openIO(t)
	ids := idsTensor(readIDs(t, io, "input_ids"))
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		m := loadTiny(t, dt)
		exec, err := model.NewExec(goBackend(t), m.Store(), func(scope *model.Scope, ids *Node) []*Node {
			// The output is returned too: with only the hidden states (the final layer
			// norm's weights then unused), the go backend (compute v0.1.6) panicked
			// with "index out of range [235] with length 224".
			out, hidden := m.build(scope, ids)
			return append(hidden, out)
		})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := exec.Exec(ids)
		if err != nil {
			t.Fatal(err)
		}
		for i, out := range outs[:len(outs)-1] {
			name := fmt.Sprintf("debug.hidden_states.%d", i)
			d := maxAbsDiff(t, out, io, name)
			t.Logf("%-30s %s: max |Δ| = %.3g (tolerance %g)", name, dt, d, tol32)
			if d > tol32 {
				t.Errorf("%s (%s): max |Δ| = %.3g > %g", name, dt, d, tol32)
			}
		}
	}
}

func goBackend(tb testing.TB) compute.Backend {
	tb.Helper()
	b, err := backends.New("go")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestLoadTextModel loads an SD pipeline folder's text_encoder/ (config.json and
// model.safetensors copied from the fixtures) and checks it gives the fixture's output.
func TestLoadTextModel(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "text_encoder")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{"clip_text_config.json": ConfigFile, "clip_text.safetensors": WeightsFile} {
		data, err := os.ReadFile(fixture(t, src))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, dst), data)
	}
	m, err := LoadTextModel(root, dtypes.Float64)
	if err != nil {
		t.Fatal(err)
	}
	io := openIO(t)
	out, err := m.Encode(readIDs(t, io, "input_ids_uncond"))
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, out, io, "last_hidden_state_uncond_f64"); d > tol64 {
		t.Errorf("loaded model: max |Δ| = %.3g", d)
	}
}
