package unet

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/belmlab/workbench/internal/fixtures"
)

// The SD fixtures (shared/fixtures/sd beside the checkout, README sections 1 and 4): a
// tiny UNet2DConditionModel with SD1.5's block structure, its inputs, outputs and
// activations, and 10-step DDIM + CFG 3.0 trajectories driven by it. They are looked up
// by internal/fixtures; absent, the tests fail (sdFixturesPresent).
var (
	sdDir = func() string {
		d, _ := fixtures.Find("sd")
		return d + "/"
	}()
	sdConfig     = sdDir + "sd_unet_config.json"
	sdWeights    = sdDir + "sd_unet.safetensors"
	sdIO         = sdDir + "sd_unet_io.safetensors"
	sdTrajectory = sdDir + "sd_ddim_cfg_trajectory"
)

// sdDebugNames are the fixture's debug activations (key "debug."+name).
var sdDebugNames = []string{"conv_in", "down_blocks.0.resnets.0",
	"down_blocks.0.attentions.0.transformer_blocks.0.attn1", "down_blocks.0.attentions.0.transformer_blocks.0.attn2",
	"down_blocks.0.attentions.0.transformer_blocks.0.ff", "down_blocks.0.attentions.0",
	"down_blocks.0", "down_blocks.1", "down_blocks.2", "down_blocks.3", "mid_block",
	"up_blocks.0", "up_blocks.1", "up_blocks.2", "up_blocks.3"}

func openSafetensors(tb testing.TB, path string) *safetensors.File {
	tb.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func loadSD(tb testing.TB, opts ...Option) *UNet {
	tb.Helper()
	cfg, err := LoadConfig(sdConfig)
	if err != nil {
		tb.Fatal(err)
	}
	u, err := New(cfg, openSafetensors(tb, sdWeights), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// runCond runs the conditional forward on x, t [B] and ctx (dtype dt), returning eps
// followed by the intermediates named in names.
func runCond(tb testing.TB, u *UNet, dt dtypes.DType, io *safetensors.File, names []string) [][]float64 {
	tb.Helper()
	x, xShape := fixture(tb, io, "x")
	ts, _ := fixture(tb, io, "t")
	ctx, ctxShape := fixture(tb, io, "encoder_hidden_states")
	exec, err := model.NewExec(goBackend(tb), u.Store(), func(scope *model.Scope, x, t, ctx *Node) []*Node {
		dbg := map[string]*Node{}
		outs := []*Node{u.buildCond(scope, x, t, ctx, dbg)}
		for _, n := range names {
			if dbg[n] == nil {
				panic(fmt.Sprintf("no debug activation %q", n))
			}
			outs = append(outs, dbg[n])
		}
		return outs
	})
	if err != nil {
		tb.Fatal(err)
	}
	outs, err := exec.Exec(toTensor(dt, x, xShape...), toTensor(dt, ts, len(ts)), toTensor(dt, ctx, ctxShape...))
	if err != nil {
		tb.Fatal(err)
	}
	res := make([][]float64, len(outs))
	for i, o := range outs {
		res[i] = fromTensor(tb, o)
	}
	return res
}

// TestSDUNetFloat32: eps, the time embedding and every debug activation of the tiny SD
// UNet against diffusers' float32 forward. Tolerance 1e-5 (values O(1)): the fixture
// README's suggestion; float32 summation orders differ from PyTorch's (its own 2-thread
// vs 1-thread runs differ by 1.0e-6, batch vs single by 1.1e-6).
func TestSDUNetFloat32(t *testing.T) {
	u := loadSD(t)
	if got := u.NumParameters(); got != 431156 {
		t.Errorf("NumParameters = %d, want 431156", got)
	}
	if !u.Conditional() || u.CrossAttentionDim() != 32 {
		t.Errorf("Conditional() = %v, CrossAttentionDim() = %d; want true, 32", u.Conditional(), u.CrossAttentionDim())
	}
	io := openSafetensors(t, sdIO)
	names := append([]string{"t_proj", "t_emb"}, sdDebugNames...)
	outs := runCond(t, u, dtypes.Float32, io, names)
	checkFloat32Outputs(t, io, outs, names)
}

// TestSDUNetFloat64: eps against diffusers' unet.double() with the package default float32
// sinusoid (as diffusers computes it). Tolerance 1e-12: only float64 summation orders
// differ (the fixture README's suggestion; values O(1)). The SD attention has no
// upcast_softmax, so the softmax is float64 here (no float32 emulation involved).
// With a float64 sinusoid eps moves by ~2e-7 (README: 2.2e-7), checked as a range.
func TestSDUNetFloat64(t *testing.T) {
	io := openSafetensors(t, sdIO)
	want, _ := fixture(t, io, "eps_f64")
	for _, wdt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		eps := runCond(t, loadSD(t, WithDType(wdt)), dtypes.Float64, io, nil)[0]
		d := maxAbsDiff(t, eps, want)
		t.Logf("float64 eps (float32 sinusoid, %s weights): max|Δ| = %.3g", wdt, d)
		if d > 1e-12 {
			t.Errorf("float64 eps (%s weights): max|Δ| = %g > 1e-12", wdt, d)
		}
	}
	eps := runCond(t, loadSD(t, WithFloat32Sinusoid(false)), dtypes.Float64, io, nil)[0]
	d := maxAbsDiff(t, eps, want)
	t.Logf("float64 eps (float64 sinusoid): max|Δ| = %.3g", d)
	if d < 1e-8 || d > 1e-6 {
		t.Errorf("float64 eps (float64 sinusoid): max|Δ| = %g, expected in [1e-8, 1e-6]", d)
	}
}

// TestSDUNetEps checks belm.Model (scalar T, one sample at a time) and Load of a model
// folder and of a pipeline folder (unet/), and the errors of a missing or mis-shaped cond.
func TestSDUNetEps(t *testing.T) {
	dir := t.TempDir()
	unetDir := filepath.Join(dir, "unet")
	os.Mkdir(unetDir, 0o755)
	copyFile(t, sdConfig, filepath.Join(unetDir, ConfigFile))
	copyFile(t, sdWeights, filepath.Join(unetDir, WeightsFile))
	io := openSafetensors(t, sdIO)
	x, _ := fixture(t, io, "x")
	ts, _ := fixture(t, io, "t")
	ctx, _ := fixture(t, io, "encoder_hidden_states")
	want, _ := fixture(t, io, "eps")
	for _, d := range []string{dir, unetDir} {
		u, err := Load(d)
		if err != nil {
			t.Fatal(err)
		}
		var m belm.Model = u
		exec, err := model.NewExec(goBackend(t), u.Store(), func(scope *model.Scope, x, tt, c *Node) *Node {
			return m.Eps(scope, x, belm.Time{T: tt}, c)
		})
		if err != nil {
			t.Fatal(err)
		}
		per, perCtx := len(x)/2, len(ctx)/2
		for i := range 2 {
			out, err := exec.Exec(toTensor(dtypes.Float32, x[i*per:(i+1)*per], 1, 4, 16, 16), float32(ts[i]),
				toTensor(dtypes.Float32, ctx[i*perCtx:(i+1)*perCtx], 1, 7, 32))
			if err != nil {
				t.Fatal(err)
			}
			// 1e-5 as TestSDUNetFloat32 (batch 1 vs 2 changes PyTorch's result by 1.1e-6).
			if e := maxAbsDiff(t, fromTensor(t, out[0]), want[i*per:(i+1)*per]); e > 1e-5 {
				t.Errorf("Load(%s) Eps sample %d: max|Δ| = %g > 1e-5", d, i, e)
			}
		}
	}
	u := loadSD(t)
	for _, c := range []struct {
		ctx  []int // nil: no cond
		want string
	}{{nil, "needs encoder_hidden_states"}, {[]int{1, 7, 16}, "must be [B, L, cross_attention_dim]"},
		{[]int{2, 7, 32}, "must be [B, L, cross_attention_dim]"}, {[]int{7, 32}, "must be [B, L, cross_attention_dim]"}} {
		exec, err := model.NewExec(goBackend(t), u.Store(), func(scope *model.Scope, x *Node) *Node {
			var cond *Node
			if c.ctx != nil {
				cond = Zeros(x.Graph(), shapes.Make(dtypes.Float32, c.ctx...))
			}
			return u.Eps(scope, x, belm.Time{T: Scalar(x.Graph(), x.DType(), 10)}, cond)
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = exec.Exec(toTensor(dtypes.Float32, make([]float64, 4*16*16), 1, 4, 16, 16))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("cond %v: error %v, want one mentioning %q", c.ctx, err, c.want)
		}
	}
}

// TestSDConfig: the fixture's config parses to SD1.5's options, round-trips through
// MarshalJSON, and unsupported options are refused by name, all in one error.
func TestSDConfig(t *testing.T) {
	cfg, err := LoadConfig(sdConfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cond == nil || cfg.Cond.AttentionHeadDim.At(2) != 8 || cfg.Cond.CrossAttentionDim.At(0) != 32 ||
		*cfg.Cond.MidBlockType != "UNetMidBlock2DCrossAttn" || cfg.Cond.UseLinearProjection {
		t.Fatalf("parsed config: %+v %+v", cfg, cfg.Cond)
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseConfig(data)
	if err != nil {
		t.Fatalf("round trip: %v\n%s", err, data)
	}
	if d2, _ := json.Marshal(back); string(d2) != string(data) {
		t.Errorf("round trip differs:\n%s\n%s", data, d2)
	}
	// A Go-built config (per-block lists, no _class_name) round-trips too.
	sd21 := SD21Config()
	sd21.ClassName = ""
	data, _ = json.Marshal(sd21)
	if back, err := ParseConfig(data); err != nil || fmt.Sprint(back.Cond.AttentionHeadDim) != "[5 10 20 20]" || !back.Cond.UpcastAttention {
		t.Errorf("SD21Config round trip: %v %+v\n%s", err, back.Cond, data)
	}
	for _, c := range []struct {
		set  map[string]any
		want []string
	}{
		{map[string]any{"attention_head_dim": []int{2, 4, 8, 8}, "use_linear_projection": true, "upcast_attention": true,
			"only_cross_attention": []bool{true, false, false, false}, "transformer_layers_per_block": []int{1, 2, 1, 1}}, nil},
		{map[string]any{"mid_block_type": nil}, nil},
		{map[string]any{"mid_block_type": "UNetMidBlock2D"}, nil},
		{map[string]any{"conv_in_kernel": 1, "conv_out_kernel": 5}, nil},
		{map[string]any{"dual_cross_attention": true, "addition_embed_type": "text_time", "time_cond_proj_dim": 256,
			"class_embed_type": "timestep", "num_attention_heads": 8, "mid_block_type": "UNetMidBlock2DSimpleCrossAttn",
			"attention_type": "gated", "resnet_skip_time_act": true, "conv_in_kernel": 4, "encoder_hid_dim": 64},
			[]string{"dual_cross_attention true", `addition_embed_type text_time`, "time_cond_proj_dim 256",
				`class_embed_type "timestep"`, "num_attention_heads [8]", `mid_block_type "UNetMidBlock2DSimpleCrossAttn"`,
				`attention_type "gated"`, "resnet_skip_time_act true", "conv_in_kernel 4", "encoder_hid_dim 64"}},
		{map[string]any{"attention_head_dim": []int{8, 8}}, []string{"attention_head_dim has 2 entries but block_out_channels has 4"}},
		{map[string]any{"attention_head_dim": 32}, []string{"head dimension of 0"}},
		{map[string]any{"cross_attention_dim": []int{32, 32, 64, 64}}, []string{"different context widths"}},
		{map[string]any{"down_block_types": []string{"AttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}},
			[]string{`down_block_types[0] "AttnDownBlock2D" is not supported`}},
		{map[string]any{"add_attention": true, "upsample_type": "conv"}, []string{"UNet2DConditionModel does not have", "add_attention, upsample_type"}},
	} {
		_, err := ParseConfig(sdJSON(t, c.set))
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%v: %v", c.set, err)
		case c.want != nil && err == nil:
			t.Errorf("%v: no error", c.set)
		case c.want != nil:
			t.Logf("%v → %v", c.set, err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: error %q does not mention %q", c.set, err, w)
				}
			}
		}
	}
}

// sdJSON returns the SD fixture's config.json with some fields replaced.
func sdJSON(t *testing.T, set map[string]any) []byte {
	t.Helper()
	return configWith(t, sdConfig, set)
}

// TestSDWeightErrors: weights that do not match the config give the one-error listing.
func TestSDWeightErrors(t *testing.T) {
	cfg, err := LoadConfig(sdConfig)
	if err != nil {
		t.Fatal(err)
	}
	f := openSafetensors(t, sdWeights)
	m := TensorMap{}
	for _, name := range f.Names() {
		if m[name], err = f.Tensor(name, dtypes.Float32); err != nil {
			t.Fatal(err)
		}
	}
	delete(m, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight")
	m["down_blocks.0.attentions.0.proj_in.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 256), 16, 16)
	m["down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias"] = tensors.FromFlatDataAndDimensions(make([]float32, 16), 16)
	_, err = New(cfg, m)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"1 missing tensors", "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight\" [24 32]",
		`"down_blocks.0.attentions.0.proj_in.weight" has shape [16 16], want [16 16 1 1]`,
		`1 unexpected tensors: "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.bias"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
}

// TestSDFullSizeConfigs: the parameter counts of SD1.5's and SD2.1's UNets as diffusers
// builds them from their config.json (no weights allocated).
func TestSDFullSizeConfigs(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want int
	}{{"SD1.5", SD15Config(), 859520964}, {"SD2.1", SD21Config(), 865910724}} {
		u, err := newUNet(c.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.NumParameters(); got != c.want {
			t.Errorf("%s: NumParameters = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestSDRandomSD2Like builds a small SD2-like UNet2DConditionModel with random weights
// (linear projections, per-block head counts, upcast_attention, two transformer layers,
// only_cross_attention on one block, a 5×5 conv_in) and checks that it runs in float32 and
// float64 and that the two agree. Tolerance 1e-5·max|ε|: float32 rounding (6e-8
// relative) accumulated over ~40 layers of O(1) activations.
//
// upcast_attention in float64: with WithFloat32Softmax (the default) q and k are rounded
// to float32 and the softmax is PyTorch's float32 one, as diffusers' AttnProcessor under
// PyTorch 1.x; WithFloat32Softmax(false) keeps float64 (diffusers under PyTorch ≥ 2,
// whose scaled_dot_product_attention ignores upcast_attention). The two differ by a
// float32 rounding: checked to be in (0, 1e-5·max|ε|].
func TestSDRandomSD2Like(t *testing.T) {
	cfg := SD21Config()
	cfg.SampleSize = intPtr(8)
	cfg.BlockOutChannels = []int{16, 32, 32}
	cfg.DownBlockTypes = []string{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}
	cfg.UpBlockTypes = []string{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"}
	cfg.NormNumGroups = intPtr(8)
	cfg.LayersPerBlock = 1
	cfg.Cond.AttentionHeadDim = PerBlock{2, 4, 4}
	cfg.Cond.CrossAttentionDim = PerBlock{24}
	cfg.Cond.TransformerLayersPerBlock = PerBlock{2, 1, 1}
	cfg.Cond.OnlyCrossAttention = BoolPerBlock{false, true, false}
	cfg.Cond.ConvInKernel = 5
	u, err := NewRandom(cfg, 7, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, 2*4*8*8)
	ctx := make([]float64, 2*5*24)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	for i := range ctx {
		ctx[i] = math.Cos(float64(3 * i))
	}
	run := func(u *UNet, dt dtypes.DType) []float64 {
		exec, err := model.NewExec(goBackend(t), u.Store(), func(scope *model.Scope, x, tt, c *Node) *Node {
			return u.ForwardCond(scope, x, tt, c)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Exec(toTensor(dt, x, 2, 4, 8, 8), toTensor(dt, []float64{10, 700}, 2), toTensor(dt, ctx, 2, 5, 24))
		if err != nil {
			t.Fatal(err)
		}
		return fromTensor(t, out[0])
	}
	e32, e64 := run(u, dtypes.Float32), run(u, dtypes.Float64)
	scale := 0.0
	for _, v := range e64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatal("non-finite ε")
		}
		scale = math.Max(scale, math.Abs(v))
	}
	d := maxAbsDiff(t, e32, e64)
	t.Logf("max|ε| = %.3g; float32 vs float64: max|Δ| = %.3g", scale, d)
	if d > 1e-5*scale {
		t.Errorf("float32 vs float64: max|Δ| = %g > 1e-5·%g", d, scale)
	}
	plain, err := NewRandom(cfg, 7, dtypes.Float32, WithFloat32Softmax(false))
	if err != nil {
		t.Fatal(err)
	}
	d = maxAbsDiff(t, run(plain, dtypes.Float64), e64)
	t.Logf("float64, upcast_attention emulated vs pure float64: max|Δ| = %.3g", d)
	if d == 0 || d > 1e-5*scale {
		t.Errorf("upcast_attention emulation: max|Δ| = %g, want in (0, 1e-5·%g]", d, scale)
	}
}
