package unet

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	_ "github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

const (
	tinyConfig  = "testdata/tiny_cifar10_config.json"
	tinyWeights = "testdata/tiny_cifar10_unet.safetensors"
	tinyIO      = "testdata/tiny_cifar10_io.safetensors"
	fullConfig  = "testdata/ddpm_cifar10_32_config.json"
)

var debugNames = []string{"conv_in", "down_blocks.0", "down_blocks.1", "down_blocks.2", "down_blocks.3",
	"mid_block", "up_blocks.0", "up_blocks.1", "up_blocks.2", "up_blocks.3"}

var (
	backendOnce sync.Once
	backend     compute.Backend
	backendErr  error
)

// goBackend returns one shared "go" backend: a UNet's weights, once on a backend, cannot
// be fed to another backend instance.
func goBackend(tb testing.TB) compute.Backend {
	tb.Helper()
	backendOnce.Do(func() { backend, backendErr = compute.NewWithConfig("go") })
	if backendErr != nil {
		tb.Fatal(backendErr)
	}
	return backend
}

func openIO(tb testing.TB) *safetensors.File { return openSafetensors(tb, tinyIO) }

func loadTiny(tb testing.TB, opts ...Option) *UNet {
	tb.Helper()
	cfg, err := LoadConfig(tinyConfig)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := safetensors.Open(tinyWeights)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	u, err := New(cfg, f, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// runDebug runs the forward on x (dtype dt) and t [B], returning eps followed by the
// intermediates named in names, as float64 slices.
func runDebug(tb testing.TB, u *UNet, dt dtypes.DType, x []float64, xShape []int, t []float64, names []string) [][]float64 {
	tb.Helper()
	exec, err := model.NewExec(goBackend(tb), u.Store(), func(scope *model.Scope, x, t *Node) []*Node {
		dbg := map[string]*Node{}
		eps := u.build(scope, x, t, dbg)
		outs := []*Node{eps}
		for _, n := range names {
			outs = append(outs, dbg[n])
		}
		return outs
	})
	if err != nil {
		tb.Fatal(err)
	}
	outs, err := exec.Exec(toTensor(dt, x, xShape...), toTensor(dt, t, len(t)))
	if err != nil {
		tb.Fatal(err)
	}
	res := make([][]float64, len(outs))
	for i, o := range outs {
		res[i] = fromTensor(tb, o)
	}
	return res
}

// toTensor and fromTensor are belm.NewTensor and belm.Values for tests (valid shapes only).
func toTensor(dt dtypes.DType, v []float64, dims ...int) *tensors.Tensor {
	t, err := belm.NewTensor(v, dt, dims...)
	if err != nil {
		panic(err)
	}
	return t
}

func fromTensor(tb testing.TB, t *tensors.Tensor) []float64 {
	tb.Helper()
	v, err := belm.Values(t)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func maxAbsDiff(tb testing.TB, got, want []float64) float64 {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("size mismatch: got %d values, want %d", len(got), len(want))
	}
	m := 0.0
	for i := range got {
		d := math.Abs(got[i] - want[i])
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

func fixture(tb testing.TB, f *safetensors.File, name string) ([]float64, []int) {
	tb.Helper()
	v, shape, err := f.Float64(name)
	if err != nil {
		tb.Fatal(err)
	}
	return v, shape
}

func TestTinyFixtureFloat32(t *testing.T) {
	u := loadTiny(t)
	if got := u.NumParameters(); got != 143267 {
		t.Errorf("NumParameters = %d, want 143267", got)
	}
	io := openIO(t)
	x, xShape := fixture(t, io, "x")
	ts, _ := fixture(t, io, "t")
	names := append([]string{"t_proj", "t_emb"}, debugNames...)
	outs := runDebug(t, u, dtypes.Float32, x, xShape, ts, names)

	checkFloat32Outputs(t, io, outs, names)
}

func TestTinyFixtureFloat64(t *testing.T) {
	io := openIO(t)
	x, xShape := fixture(t, io, "x")
	ts, _ := fixture(t, io, "t")
	want, _ := fixture(t, io, "eps_f64")

	// As diffusers: sinusoid in float32. Weights stored as float32 (converted in the graph)
	// and as float64 must give the same result.
	for _, wdt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		u := loadTiny(t, WithDType(wdt))
		eps := runDebug(t, u, dtypes.Float64, x, xShape, ts, nil)[0]
		d := maxAbsDiff(t, eps, want)
		t.Logf("float64 eps (float32 sinusoid, %s weights): max|Δ| = %.3g", wdt, d)
		if d > 1e-12 {
			t.Errorf("float64 eps (float32 sinusoid, %s weights): max|Δ| = %g > 1e-12", wdt, d)
		}
	}

	// Without diffusers' float32 parts: the float64 sinusoid differs by ~8e-8, the float64
	// softmax by ~2.5e-8.
	for _, c := range []struct {
		name     string
		opts     []Option
		min, max float64
	}{
		{"float64 sinusoid", []Option{WithFloat32Sinusoid(false)}, 1e-8, 1e-6},
		{"float64 softmax", []Option{WithFloat32Softmax(false)}, 1e-9, 1e-6},
		{"float64 sinusoid and softmax", []Option{WithFloat32Sinusoid(false), WithFloat32Softmax(false)}, 1e-8, 1e-6},
	} {
		u := loadTiny(t, c.opts...)
		eps := runDebug(t, u, dtypes.Float64, x, xShape, ts, nil)[0]
		d := maxAbsDiff(t, eps, want)
		t.Logf("float64 eps (%s): max|Δ| = %.3g", c.name, d)
		if d < c.min || d > c.max {
			t.Errorf("float64 eps (%s): max|Δ| = %g, expected in [%g, %g]", c.name, d, c.min, c.max)
		}
	}
}

// TestTorchSoftmax32 checks the emulation of PyTorch's float32 CPU softmax against
// PyTorch 1.13.1 (Debian python3-torch, CPU capability AVX2). The probe was made with
//
//	torch.manual_seed(0); s = torch.randn(4,16,16,dtype=torch.float64)*3
//	p = s.float().softmax(dim=-1)   # saved as "s" (F64) and "p" (F32)
func TestTorchSoftmax32(t *testing.T) {
	f, err := safetensors.Open("testdata/torch_softmax_probe.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, shape, err := f.Float64("s")
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := f.Float64("p")
	if err != nil {
		t.Fatal(err)
	}
	exec := MustNewExec(goBackend(t), func(x *Node) *Node { return torchSoftmax32(x) })
	got := tensors.MustCopyFlatData[float64](exec.MustExec(tensors.FromFlatDataAndDimensions(s, shape...))[0])
	differ := 0
	for i := range p {
		if got[i] != p[i] {
			differ++
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d probabilities differ from PyTorch's (max|Δ| = %g)", differ, len(p), maxAbsDiff(t, got, p))
	}
	// The SLEEF exp of the sinusoid: exp(−ln(10⁴)/3) is 0.0464158878 in PyTorch (1 ulp below
	// the correctly rounded 0.0464158915).
	if f := sinusoidFreqs32(4, 1); f[1] != 0.0464158877730369567871094 {
		t.Errorf("sinusoid frequency %.9g, want PyTorch's 0.0464158878", f[1])
	}
}

// TestEps checks the belm.Model interface (scalar T, one sample at a time) and Load.
func TestEps(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, tinyConfig, filepath.Join(dir, ConfigFile))
	copyFile(t, tinyWeights, filepath.Join(dir, WeightsFile))
	u, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var m belm.Model = u
	io := openIO(t)
	x, _ := fixture(t, io, "x")
	ts, _ := fixture(t, io, "t")
	want, _ := fixture(t, io, "eps")
	exec, err := model.NewExec(goBackend(t), u.Store(), func(scope *model.Scope, x, tt *Node) *Node {
		return m.Eps(scope, x, belm.Time{T: tt}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	per := len(x) / 2
	for i := range 2 {
		out, err := exec.Exec(toTensor(dtypes.Float32, x[i*per:(i+1)*per], 1, 3, 8, 8), float32(ts[i]))
		if err != nil {
			t.Fatal(err)
		}
		if got := out[0].Shape().Dimensions; fmt.Sprint(got) != "[1 3 8 8]" {
			t.Fatalf("Eps shape %v, want [1 3 8 8]", got)
		}
		d := maxAbsDiff(t, fromTensor(t, out[0]), want[i*per:(i+1)*per])
		t.Logf("Eps sample %d (t=%g): max|Δ| = %.3g", i, ts[i], d)
		if d > 1e-5 {
			t.Errorf("Eps sample %d: max|Δ| = %g > 1e-5", i, d)
		}
	}
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// readAll returns the tiny weights as safetensors.Tensors, names mapped by rename.
func readAll(tb testing.TB, rename func(string) string) []safetensors.Tensor {
	tb.Helper()
	f, err := safetensors.Open(tinyWeights)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []safetensors.Tensor
	for _, name := range f.Names() {
		v, shape, err := f.Float32(name)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, safetensors.FromFloat32(rename(name), shape, v))
	}
	return out
}

func toLegacy(name string) string {
	for legacy, cur := range legacyAttention {
		if i := strings.Index(name, ".attentions."); i >= 0 && strings.Contains(name, "."+cur+".") {
			return strings.Replace(name, "."+cur+".", "."+legacy+".", 1)
		}
	}
	return name
}

func TestLegacyNames(t *testing.T) {
	ts := readAll(t, toLegacy)
	nLegacy := 0
	for _, x := range ts {
		if strings.Contains(x.Name, ".query.") || strings.Contains(x.Name, ".proj_attn.") {
			nLegacy++
		}
	}
	if nLegacy == 0 {
		t.Fatal("renaming produced no legacy names")
	}
	path := filepath.Join(t.TempDir(), "legacy.safetensors")
	if err := safetensors.Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(tinyConfig)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	legacy, err := New(cfg, f)
	if err != nil {
		t.Fatal(err)
	}
	cur := loadTiny(t)
	io := openIO(t)
	x, xShape := fixture(t, io, "x")
	tt, _ := fixture(t, io, "t")
	a := runDebug(t, legacy, dtypes.Float32, x, xShape, tt, nil)[0]
	b := runDebug(t, cur, dtypes.Float32, x, xShape, tt, nil)[0]
	if d := maxAbsDiff(t, a, b); d != 0 {
		t.Errorf("legacy-named weights give a different eps: max|Δ| = %g", d)
	}
}

func TestWeightErrors(t *testing.T) {
	cfg, err := LoadConfig(tinyConfig)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(tinyWeights)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base := func() TensorMap {
		m := TensorMap{}
		for _, name := range f.Names() {
			tt, err := f.Tensor(name, dtypes.Float32)
			if err != nil {
				t.Fatal(err)
			}
			m[name] = tt
		}
		return m
	}
	good := base()
	if _, err := New(cfg, good); err != nil {
		t.Fatalf("TensorMap of the fixture: %v", err)
	}

	cases := []struct {
		name   string
		mutate func(TensorMap)
		want   []string
	}{
		{"missing", func(m TensorMap) {
			delete(m, "mid_block.attentions.0.to_k.weight")
			delete(m, "conv_out.bias")
		}, []string{"2 missing", "mid_block.attentions.0.to_k.weight", "conv_out.bias"}},
		{"wrong shape", func(m TensorMap) {
			m["up_blocks.3.resnets.0.conv_shortcut.weight"] = tensors.FromFlatDataAndDimensions(make([]float64, 8*16), 8, 16, 1, 1)
			m["conv_in.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 8*3*3*2), 8, 3, 3, 2)
		}, []string{"2 tensors with a wrong shape", `"conv_in.weight" has shape [8 3 3 2], want [8 3 3 3]`, `"up_blocks.3.resnets.0.conv_shortcut.weight" has shape [8 16 1 1], want [8 24 1 1]`}},
		{"unexpected", func(m TensorMap) {
			m["class_embedding.weight"] = tensors.FromFlatDataAndDimensions([]float32{1}, 1)
		}, []string{"1 unexpected", "class_embedding.weight"}},
		{"both names", func(m TensorMap) {
			m["mid_block.attentions.0.query.bias"] = m["mid_block.attentions.0.to_q.bias"]
		}, []string{"legacy and current", "mid_block.attentions.0.query.bias"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := base()
			c.mutate(m)
			_, err := New(cfg, m)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q", w)
				}
			}
		})
	}

	// Load: a folder without weights.
	dir := t.TempDir()
	copyFile(t, tinyConfig, filepath.Join(dir, ConfigFile))
	if _, err := Load(dir); err == nil {
		t.Error("Load of a folder without weights: no error")
	} else {
		t.Log(err)
	}
}

func TestConfigErrors(t *testing.T) {
	data, err := os.ReadFile(tinyConfig)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		old, new string
		want     string
	}{
		{`"time_embedding_type": "positional"`, `"time_embedding_type": "fourier"`, "time_embedding_type"},
		{`"class_embed_type": null`, `"class_embed_type": "timestep"`, "class_embed_type"},
		{`"num_class_embeds": null`, `"num_class_embeds": 10`, "num_class_embeds"},
		{`"act_fn": "silu"`, `"act_fn": "mish"`, "act_fn"},
		{`"resnet_time_scale_shift": "default"`, `"resnet_time_scale_shift": "spatial"`, "resnet_time_scale_shift"},
		{`"downsample_type": "conv"`, `"downsample_type": "resnet"`, "downsample_type"},
		{`"upsample_type": "conv"`, `"upsample_type": "resnet"`, "upsample_type"},
		{`"AttnDownBlock2D"`, `"CrossAttnDownBlock2D"`, "CrossAttnDownBlock2D"},
		{`"norm_num_groups": 4`, `"norm_num_groups": 3`, "not divisible by 3 groups"},
		{`"norm_num_groups": 4`, `"norm_num_groups": null`, "norm_num_groups"},
		{`"out_channels": 3`, `"out_channels": 3, "cross_attention_dim": 8`, "cross_attention_dim"},
		{`"_class_name": "UNet2DModel"`, `"_class_name": "UNet2DConditionModel"`, "UNet2DConditionModel"},
		{`"attention_head_dim": null`, `"attention_head_dim": 32`, "attention_head_dim 32"},
	}
	for _, c := range cases {
		s := string(data)
		if !strings.Contains(s, c.old) {
			t.Fatalf("fixture config lacks %q", c.old)
		}
		s = strings.Replace(s, c.old, c.new, 1)
		_, err := ParseConfig([]byte(s))
		if err == nil {
			t.Errorf("%s: no error", c.new)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.new, err, c.want)
		}
		t.Logf("%s → %v", c.new, err)
	}

	// An unsupported config given as a Go value is an error of New/NewRandom too.
	cfg := DDPMCifar10Config()
	cfg.TimeEmbeddingType = "learned"
	if _, err := NewRandom(cfg, 1, dtypes.Float32); err == nil || !strings.Contains(err.Error(), "time_embedding_type") {
		t.Errorf("NewRandom with time_embedding_type learned: err = %v", err)
	}
}

// TestGraphErrors: bad inputs are errors of the exec (GoMLX turns graph-building panics into errors).
func TestGraphErrors(t *testing.T) {
	u := loadTiny(t)
	exec, err := model.NewExec(goBackend(t), u.Store(), func(scope *model.Scope, x *Node) *Node {
		return u.Eps(scope, x, belm.Time{T: Scalar(x.Graph(), x.DType(), 10)}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dims := range [][]int{{1, 4, 8, 8}, {1, 3, 6, 6}, {3, 8, 8}} {
		_, err := exec.Exec(tensors.FromShape(shapes.Make(dtypes.Float32, dims...)))
		if err == nil {
			t.Errorf("x %v: no error", dims)
		} else if !strings.Contains(err.Error(), "unet:") {
			t.Errorf("x %v: unclear error %v", dims, err)
		}
	}
}

func TestFullSizeConfig(t *testing.T) {
	cfg, err := LoadConfig(fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, DDPMCifar10Config()) {
		t.Errorf("testdata config differs from DDPMCifar10Config:\n%+v\n%+v", cfg, DDPMCifar10Config())
	}
	u, err := NewRandom(cfg, 1, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.NumParameters(); got != 35746307 {
		t.Errorf("NumParameters = %d, want 35746307 (google/ddpm-cifar10-32)", got)
	}
	if testing.Short() {
		t.Skip("full-size forward on the go backend is slow; skipped under -short")
	}
	exec, err := model.NewExec(goBackend(t), u.Store(), func(scope *model.Scope, x, tt *Node) *Node {
		return u.Eps(scope, x, belm.Time{T: tt}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, 3*32*32)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	start := time.Now()
	out, err := exec.Exec(toTensor(dtypes.Float32, x, 1, 3, 32, 32), float32(500))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("full-size forward (first call, includes compilation): %v", time.Since(start))
	if got := fmt.Sprint(out[0].Shape().Dimensions); got != "[1 3 32 32]" {
		t.Fatalf("output shape %s", got)
	}
	for _, v := range fromTensor(t, out[0]) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatal("non-finite output")
		}
	}
}

func BenchmarkUNetForward(b *testing.B) {
	u, err := NewRandom(DDPMCifar10Config(), 1, dtypes.Float32)
	if err != nil {
		b.Fatal(err)
	}
	exec, err := model.NewExec(goBackend(b), u.Store(), func(scope *model.Scope, x, tt *Node) *Node {
		return u.Eps(scope, x, belm.Time{T: tt}, nil)
	})
	if err != nil {
		b.Fatal(err)
	}
	x := toTensor(dtypes.Float32, make([]float64, 3*32*32), 1, 3, 32, 32)
	if _, err := exec.Exec(x, float32(500)); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := exec.Exec(x, float32(500)); err != nil {
			b.Fatal(err)
		}
	}
}

// checkFloat32Outputs compares a float32 forward's outputs — eps, then the named
// activations ("t_…" as stored, the others under "debug.") — with diffusers' fixture io:
// ≤ 1e-5 each (float32 summation order over the network; values O(1)).
func checkFloat32Outputs(t *testing.T, io *safetensors.File, outs [][]float64, names []string) {
	t.Helper()
	for i, name := range append([]string{"eps"}, names...) {
		key := name
		if i > 0 && !strings.HasPrefix(name, "t_") {
			key = "debug." + name
		}
		want, _ := fixture(t, io, key)
		d := maxAbsDiff(t, outs[i], want)
		t.Logf("float32 %-55s max|Δ| = %.3g", name, d)
		if d > 1e-5 {
			t.Errorf("float32 %s: max|Δ| = %g > 1e-5", name, d)
		}
	}
}
