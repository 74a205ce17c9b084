package unet

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/backends"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/belmlab/workbench/internal/fixtures"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// The tiny AutoencoderKL fixtures (SD 1.5's VAE structure at 111,839 parameters, made
// with diffusers v0.31 on PyTorch 1.13; see the fixtures' README, section 2); their absence
// fails the tests: they are not optional.
func vaeFixture(tb testing.TB, name string) string { return fixtures.File(tb, "sd", name) }

func openVAEFile(tb testing.TB, name string) *safetensors.File {
	tb.Helper()
	f, err := safetensors.Open(vaeFixture(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

func vaeValues(tb testing.TB, f *safetensors.File, name string) []float64 {
	tb.Helper()
	v, _, err := f.Float64(name)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func loadTinyVAE(tb testing.TB, opts ...Option) *AutoencoderKL {
	tb.Helper()
	cfg, err := LoadVAEConfig(vaeFixture(tb, "sd_vae_config.json"))
	if err != nil {
		tb.Fatal(err)
	}
	v, err := NewVAE(cfg, openVAEFile(tb, "sd_vae.safetensors"), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// vaeBackend is the go backend as the codec gets it (backends.New caches it): a VAE's
// weights, once on a backend instance, cannot be fed to another.
func vaeBackend(tb testing.TB) compute.Backend {
	tb.Helper()
	be, err := backends.New("go")
	if err != nil {
		tb.Fatal(err)
	}
	return be
}

// vaeOutputs are the names runVAE returns, besides the debug activations.
var vaeOutputs = []string{"mean", "logvar", "std", "decoded"}

var vaeDebugNames = []string{"moments", "encoder_out", "encoder.mid_block", "post_quant_conv", "decoder.mid_block"}

// runVAE encodes the image (dtype dt) and decodes the mean, as diffusers'
// vae.decode(vae.encode(x).latent_dist.mean), returning vaeOutputs and vaeDebugNames.
func runVAE(tb testing.TB, v *AutoencoderKL, dt dtypes.DType, image []float64, dims ...int) map[string][]float64 {
	tb.Helper()
	exec, err := model.NewExec(vaeBackend(tb), v.Store(), func(scope *model.Scope, x *Node) []*Node {
		dbg := map[string]*Node{}
		mean, logvar := v.encode(scope, x, dbg)
		std := Exp(MulScalar(logvar, 0.5))
		decoded := v.decode(scope, mean, dbg)
		outs := []*Node{mean, logvar, std, decoded}
		for _, n := range vaeDebugNames {
			outs = append(outs, dbg[n])
		}
		return outs
	})
	if err != nil {
		tb.Fatal(err)
	}
	outs, err := exec.Exec(vaeTensor(tb, dt, image, dims...))
	if err != nil {
		tb.Fatal(err)
	}
	res := map[string][]float64{}
	for i, name := range append(slices.Clone(vaeOutputs), vaeDebugNames...) {
		res[name] = fromTensor(tb, outs[i])
	}
	return res
}

func vaeTensor(tb testing.TB, dt dtypes.DType, v []float64, dims ...int) *tensors.Tensor {
	tb.Helper()
	t, err := belm.NewTensor(v, dt, dims...)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// vaeMaxDiff is max|got − want| (+Inf for a NaN or a length mismatch).
func vaeMaxDiff(got, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
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

// headerOrder lists a safetensors file's tensor names in the order of its header, which
// PyTorch writes in state_dict() order (safetensors.File.Names sorts them).
func headerOrder(tb testing.TB, path string) []string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(data[:8])
	dec := json.NewDecoder(bytes.NewReader(data[8 : 8+n]))
	var names []string
	if _, err := dec.Token(); err != nil { // {
		tb.Fatal(err)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			tb.Fatal(err)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			tb.Fatal(err)
		}
		if k != "__metadata__" {
			names = append(names, k.(string))
		}
	}
	return names
}

// The config and the state dict: every one of the fixture's 244 tensors, in
// AutoencoderKL.state_dict()'s order, 111,839 parameters.
func TestVAEStateDict(t *testing.T) {
	v := loadTinyVAE(t)
	if n := v.NumParameters(); n != 111839 {
		t.Errorf("NumParameters = %d, want 111,839", n)
	}
	names := headerOrder(t, vaeFixture(t, "sd_vae.safetensors"))
	if got := v.ParameterNames(); !slices.Equal(got, names) {
		t.Errorf("ParameterNames (%d) differ from the fixture's state dict (%d):\n got %v\nwant %v", len(got), len(names), got, names)
	}
	if cfg := v.Config(); cfg.ScalingFactor != 0.18215 || cfg.Downsamplings() != 3 || cfg.ShiftFactor != nil {
		t.Errorf("config: %+v", cfg)
	}
	full, err := NewRandomVAE(SD15VAEConfig(), 1, dtypes.Float32)
	if err != nil {
		t.Fatal(err)
	}
	// Stable Diffusion 1.5's VAE has 83,653,863 parameters (diffusers' num_parameters()).
	if n := full.NumParameters(); n != 83653863 {
		t.Errorf("SD 1.5 VAE: NumParameters = %d, want 83,653,863", n)
	}
}

// vaeTol are the tolerances against the fixture, and why (measured on the go backend).
//   - float32: our convolutions sum in another order than PyTorch's (patches + matmul vs
//     mkldnn), so each of the ~40 layers adds float32 rounding noise; the fixture's own
//     float32 and float64 runs differ by 5.4e-7 (mean) and 6.4e-6 (decoded, max|x| 4.2).
//     1e-5 for the encoder's outputs and the debug activations (measured ≤ 3.3e-6, at
//     encoder.mid_block) and 2e-5 for the decoded image (measured 1.0e-5).
//   - float64: only the summation order differs (≈1e-16 relative per op); measured ≤ 1.3e-15
//     on the posterior and 1.9e-14 decoded. That needs diffusers' float32 attention
//     softmax (AttnProcessor's upcast .float() under PyTorch 1.13, emulated by
//     WithFloat32Softmax, the default): a float64 softmax is 3.2e-7 away on decoded.
var vaeTol = map[dtypes.DType]map[string]float64{
	dtypes.Float32: {"decoded": 2e-5, "": 1e-5},
	dtypes.Float64: {"": 1e-12},
}

func vaeTolFor(dt dtypes.DType, name string) float64 {
	if tol, ok := vaeTol[dt][name]; ok {
		return tol
	}
	return vaeTol[dt][""]
}

// Float32, against diffusers' float32 pass: the posterior, the decoded mean and the debug
// activations.
func TestVAEFixtureFloat32(t *testing.T) {
	io := openVAEFile(t, "sd_vae_io.safetensors")
	v := loadTinyVAE(t)
	got := runVAE(t, v, dtypes.Float32, vaeValues(t, io, "image"), 1, 3, 32, 32)
	for _, name := range append(slices.Clone(vaeOutputs), vaeDebugNames...) {
		key := name
		if slices.Contains(vaeDebugNames, name) && name != "moments" {
			key = "debug." + name
		}
		d := vaeMaxDiff(got[name], vaeValues(t, io, key))
		t.Logf("f32 %-18s max|Δ| = %.3g", name, d)
		if tol := vaeTolFor(dtypes.Float32, name); !(d <= tol) {
			t.Errorf("f32 %s: max|Δ| = %g > %g", name, d, tol)
		}
	}
}

// Float64 (diffusers' vae.double() on the upcast image), with float32 weights converted in
// the graph and with weights stored as float64: both are exact conversions, so equal.
func TestVAEFixtureFloat64(t *testing.T) {
	io := openVAEFile(t, "sd_vae_io.safetensors")
	image := vaeValues(t, io, "image")
	var first map[string][]float64
	for _, wdt := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
		v := loadTinyVAE(t, WithDType(wdt))
		got := runVAE(t, v, dtypes.Float64, image, 1, 3, 32, 32)
		for _, name := range vaeOutputs {
			d := vaeMaxDiff(got[name], vaeValues(t, io, name+"_f64"))
			t.Logf("f64 (weights %s) %-8s max|Δ| = %.3g", wdt, name, d)
			if tol := vaeTolFor(dtypes.Float64, name); !(d <= tol) {
				t.Errorf("f64 (weights %s) %s: max|Δ| = %g > %g", wdt, name, d, tol)
			}
		}
		if first == nil {
			first = got
		} else if d := vaeMaxDiff(got["decoded"], first["decoded"]); d != 0 {
			t.Errorf("float32 and float64 weights give different float64 outputs: max|Δ| = %g", d)
		}
	}
}

// Checkpoints with the 2022 attention names (query/key/value/proj_attn) load to the same
// VAE: bit-identical outputs.
func TestVAELegacyNames(t *testing.T) {
	f := openVAEFile(t, "sd_vae.safetensors")
	legacy := TensorMap{}
	renamed := 0
	for _, name := range f.Names() {
		tt, err := f.Tensor(name, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		ln := name
		for old, cur := range legacyAttention {
			if strings.Contains(name, ".attentions.0."+cur+".") {
				ln = strings.Replace(name, "."+cur+".", "."+old+".", 1)
				renamed++
			}
		}
		legacy[ln] = tt
	}
	if renamed != 16 { // 4 linears × weight and bias × encoder and decoder
		t.Fatalf("renamed %d tensors, want 16", renamed)
	}
	lv, err := NewVAE(loadTinyVAE(t).Config(), legacy)
	if err != nil {
		t.Fatal(err)
	}
	image := vaeValues(t, openVAEFile(t, "sd_vae_io.safetensors"), "image")
	a := runVAE(t, lv, dtypes.Float32, image, 1, 3, 32, 32)
	b := runVAE(t, loadTinyVAE(t), dtypes.Float32, image, 1, 3, 32, 32)
	for _, name := range vaeOutputs {
		if d := vaeMaxDiff(a[name], b[name]); d != 0 {
			t.Errorf("legacy names: %s differs by %g", name, d)
		}
	}
}

// The codec against the graph functions: Encode is s·mean (the same float32 product as
// the graph's, so bit-identical), Decode is D(z/s), and the round trip through the
// scaling factor stays within the float32 tolerance of the fixture's decoded image.
func TestVAECodec(t *testing.T) {
	io := openVAEFile(t, "sd_vae_io.safetensors")
	image := vaeValues(t, io, "image")
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		v := loadTinyVAE(t, WithDType(dt))
		c, err := v.Codec(32, 32, CodecOptions{Backend: "go"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.ImageShape(), []int{3, 32, 32}) || !slices.Equal(c.LatentShape(), []int{4, 4, 4}) {
			t.Fatalf("shapes %v → %v", c.ImageShape(), c.LatentShape())
		}
		ref := runVAE(t, v, dt, image, 1, 3, 32, 32)
		z, err := c.Encode(image, 1)
		if err != nil {
			t.Fatal(err)
		}
		s := v.ScalingFactor()
		want := make([]float64, len(ref["mean"]))
		for i, m := range ref["mean"] {
			want[i] = roundTo(dt, roundTo(dt, m)*roundTo(dt, s))
		}
		if d := vaeMaxDiff(z, want); d != 0 {
			t.Errorf("%s: Encode ≠ s·mean: max|Δ| = %g", dt, d)
		}
		x, err := c.Decode(z, 1)
		if err != nil {
			t.Fatal(err)
		}
		// Decode(z) is D(z/s) with z/s ≈ mean to 1 ulp: the round trip's change, which
		// the fixture measured as ≤ 6e-6 in float32.
		d := vaeMaxDiff(x, ref["decoded"])
		dFix := vaeMaxDiff(x, vaeValues(t, io, map[dtypes.DType]string{dtypes.Float32: "decoded", dtypes.Float64: "decoded_f64"}[dt]))
		t.Logf("%s: round trip through s: decoded moves by %.3g; vs the fixture %.3g", dt, d, dFix)
		if tol := map[dtypes.DType]float64{dtypes.Float32: 1e-5, dtypes.Float64: 1e-12}[dt]; !(d <= tol) || !(dFix <= 2*tol) {
			t.Errorf("%s: round trip: max|Δ| = %g vs Decode(mean), %g vs the fixture", dt, d, dFix)
		}
		zs := make([]float64, len(z))
		for i := range z {
			zs[i] = roundTo(dt, roundTo(dt, z[i])/roundTo(dt, s))
		}
		direct := vaeDecodeGraph(t, v, dt, zs, 1, 4, 4, 4)
		if d := vaeMaxDiff(x, direct); d != 0 {
			t.Errorf("%s: Decode(z) ≠ the graph's Decode(z/s): max|Δ| = %g", dt, d)
		}
	}
}

func roundTo(dt dtypes.DType, x float64) float64 {
	if dt == dtypes.Float32 {
		return float64(float32(x))
	}
	return x
}

// vaeDecodeGraph runs the graph function Decode on unscaled latents.
func vaeDecodeGraph(tb testing.TB, v *AutoencoderKL, dt dtypes.DType, z []float64, dims ...int) []float64 {
	tb.Helper()
	exec, err := model.NewExec(vaeBackend(tb), v.Store(), func(scope *model.Scope, z *Node) *Node {
		return v.Decode(scope, z)
	})
	if err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Exec(vaeTensor(tb, dt, z, dims...))
	if err != nil {
		tb.Fatal(err)
	}
	return fromTensor(tb, out[0])
}

// Sampling the posterior: z = s·(mean + std·n) with n from the codec's seeded generator,
// reproducible from the seed, and a fresh n at every call.
func TestVAECodecSample(t *testing.T) {
	io := openVAEFile(t, "sd_vae_io.safetensors")
	image := vaeValues(t, io, "image")
	v := loadTinyVAE(t, WithDType(dtypes.Float64))
	const seed = 42
	c, err := v.Codec(32, 32, CodecOptions{Backend: "go", Sample: true, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	z1, err := c.Encode(image, 1)
	if err != nil {
		t.Fatal(err)
	}
	z2, err := c.Encode(image, 1)
	if err != nil {
		t.Fatal(err)
	}
	mean, std := vaeValues(t, io, "mean_f64"), vaeValues(t, io, "std_f64")
	rng := rand.New(rand.NewPCG(seed, 0x5d1e_a5e0_c0de_c0de))
	for call, z := range [][]float64{z1, z2} {
		want := make([]float64, len(mean))
		for i := range want {
			want[i] = v.ScalingFactor() * (mean[i] + std[i]*rng.NormFloat64())
		}
		if d := vaeMaxDiff(z, want); !(d <= 1e-12) {
			t.Errorf("call %d: z ≠ s·(mean + std·n): max|Δ| = %g", call, d)
		}
	}
	if vaeMaxDiff(z1, z2) == 0 {
		t.Error("two samples are equal: the noise is not redrawn")
	}
}

// A random-weights VAE of another architecture (two blocks, 3 latent channels, no mid
// attention, no quant_conv) at a non-square size: shapes, a batch of 2 equal to two
// batches of 1, and float32 close to float64.
func TestVAERandom(t *testing.T) {
	cfg := DefaultVAEConfig()
	cfg.BlockOutChannels = []int{8, 12}
	cfg.DownBlockTypes = []string{"DownEncoderBlock2D", "DownEncoderBlock2D"}
	cfg.UpBlockTypes = []string{"UpDecoderBlock2D", "UpDecoderBlock2D"}
	cfg.NormNumGroups, cfg.LatentChannels, cfg.LayersPerBlock = 4, 3, 1
	cfg.MidBlockAddAttention, cfg.UseQuantConv = false, false
	shift := 0.25
	cfg.ShiftFactor = &shift
	rng := rand.New(rand.NewPCG(3, 4))
	images := make([]float64, 2*3*6*10)
	for i := range images {
		images[i] = 2*rng.Float64() - 1
	}
	var zs, xs [2][]float64
	for k, dt := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
		v, err := NewRandomVAE(cfg, 7, dt)
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Codec(6, 10, CodecOptions{Backend: "go"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.LatentShape(), []int{3, 3, 5}) {
			t.Fatalf("latent shape %v, want [3 3 5]", c.LatentShape())
		}
		if zs[k], err = c.Encode(images, 2); err != nil {
			t.Fatal(err)
		}
		if xs[k], err = c.Decode(zs[k], 2); err != nil {
			t.Fatal(err)
		}
		if len(xs[k]) != len(images) {
			t.Fatalf("decoded %d values, want %d", len(xs[k]), len(images))
		}
		z1, err := c.Encode(images[len(images)/2:], 1)
		if err != nil {
			t.Fatal(err)
		}
		tol := map[dtypes.DType]float64{dtypes.Float64: 1e-13, dtypes.Float32: 1e-5}[dt]
		if dt == dtypes.Float64 { // the shift: z = s·(mean − shift), x = D(z/s + shift)
			checkShift(t, v, images, zs[k], xs[k], shift)
		}
		if d := vaeMaxDiff(z1, zs[k][len(zs[k])/2:]); !(d <= tol) {
			t.Errorf("%s: image 2 alone vs in a batch of 2: max|Δ| = %g", dt, d)
		}
	}
	dz, dx := vaeMaxDiff(zs[1], zs[0]), vaeMaxDiff(xs[1], xs[0])
	t.Logf("random VAE: float32 vs float64: latents %.3g, decoded %.3g", dz, dx)
	if !(dz <= 1e-5) || !(dx <= 1e-5) {
		t.Errorf("float32 vs float64: latents %g, decoded %g", dz, dx)
	}
}

// checkShift checks the float64 codec's latents z and images x of a VAE with a
// shift_factor against the graph functions.
func checkShift(t *testing.T, v *AutoencoderKL, images, z, x []float64, shift float64) {
	t.Helper()
	exec, err := model.NewExec(vaeBackend(t), v.Store(), func(scope *model.Scope, x *Node) *Node {
		mean, _ := v.EncodeMoments(scope, x)
		return mean
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Exec(vaeTensor(t, dtypes.Float64, images, 2, 3, 6, 10))
	if err != nil {
		t.Fatal(err)
	}
	mean, s := fromTensor(t, out[0]), v.ScalingFactor()
	want, unscaled := make([]float64, len(mean)), make([]float64, len(z))
	for i, m := range mean {
		want[i] = s * (m - shift)
		unscaled[i] = z[i]/s + shift
	}
	if d := vaeMaxDiff(z, want); !(d <= 1e-15) {
		t.Errorf("shift: z ≠ s·(mean − shift): max|Δ| = %g", d)
	}
	if d := vaeMaxDiff(x, vaeDecodeGraph(t, v, dtypes.Float64, unscaled, 2, 3, 3, 5)); !(d <= 1e-14) {
		t.Errorf("shift: x ≠ D(z/s + shift): max|Δ| = %g", d)
	}
}

// LoadVAE reads a VAE folder, or a pipeline folder's vae/ subfolder.
func TestLoadVAE(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "vae")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{"sd_vae_config.json": ConfigFile, "sd_vae.safetensors": WeightsFile} {
		data, err := os.ReadFile(vaeFixture(t, from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, to), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{dir, sub} {
		v, err := LoadVAE(d)
		if err != nil {
			t.Fatalf("LoadVAE(%s): %v", d, err)
		}
		if v.NumParameters() != 111839 {
			t.Errorf("LoadVAE(%s): %d parameters", d, v.NumParameters())
		}
	}
	if _, err := LoadVAE(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a diffusers AutoencoderKL folder") {
		t.Errorf("empty folder: %v", err)
	}
}

// Bad configs: every problem named in one error.
func TestVAEConfigErrors(t *testing.T) {
	data, err := os.ReadFile(vaeFixture(t, "sd_vae_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["act_fn"] = "gelu"
	m["down_block_types"] = []string{"DownEncoderBlock2D", "AttnDownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"}
	m["up_block_types"] = []string{"UpDecoderBlock2D"}
	m["norm_num_groups"] = 3
	m["latents_mean"] = []float64{0, 0, 0, 0}
	m["scaling_factor"] = -1
	bad, _ := json.Marshal(m)
	_, err = ParseVAEConfig(bad)
	for _, want := range []string{
		"vae: unsupported or invalid AutoencoderKL config: ",
		`act_fn "gelu" is not supported`,
		`down_block_types[1] "AttnDownEncoderBlock2D" is not supported (only DownEncoderBlock2D)`,
		"down_block_types 4 and up_block_types 1",
		"block_out_channels[0]: 8 channels are not divisible by 3 groups",
		"latents_mean/latents_std",
		"scaling_factor -1 must be a positive finite number",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
	m = map[string]any{"_class_name": "AutoencoderKL", "conv_in_bias": true}
	bad, _ = json.Marshal(m)
	if _, err := ParseVAEConfig(bad); err == nil || !strings.Contains(err.Error(), "conv_in_bias") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := ParseVAEConfig([]byte(`{"_class_name": "UNet2DModel"}`)); err == nil || !strings.Contains(err.Error(), `"UNet2DModel", not AutoencoderKL`) {
		t.Errorf("class name: %v", err)
	}
}

// Bad weights, images and latents: clear errors, never a panic.
func TestVAEBadInput(t *testing.T) {
	f := openVAEFile(t, "sd_vae.safetensors")
	m := TensorMap{}
	for _, name := range f.Names() {
		if name == "quant_conv.bias" || name == "decoder.mid_block.attentions.0.to_k.weight" {
			continue
		}
		tt, err := f.Tensor(name, dtypes.Float32)
		if err != nil {
			t.Fatal(err)
		}
		m[name] = tt
	}
	_, err := NewVAE(loadTinyVAE(t).Config(), m)
	if err == nil || !strings.Contains(err.Error(), `vae: the weights do not match the config (244 tensors expected): 2 missing tensors: "decoder.mid_block.attentions.0.to_k.weight" [16 16], "quant_conv.bias" [8]`) {
		t.Errorf("missing tensors: %v", err)
	}

	v := loadTinyVAE(t)
	for _, hw := range [][2]int{{33, 32}, {32, 4}, {0, 8}} {
		if _, err := v.Codec(hw[0], hw[1], CodecOptions{Backend: "go"}); err == nil || !strings.Contains(err.Error(), "must be positive multiples of 8") {
			t.Errorf("codec %v: %v", hw, err)
		}
	}
	c, err := v.Codec(16, 16, CodecOptions{Backend: "go"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Encode(make([]float64, 3*32*32), 1); err == nil || !strings.Contains(err.Error(), "vae: 3072 values for 1 images of shape [3 16 16] (want 768)") {
		t.Errorf("Encode, wrong size: %v", err)
	}
	if _, err := c.Decode(make([]float64, 10), 1); err == nil || !strings.Contains(err.Error(), "latents of shape [4 2 2]") {
		t.Errorf("Decode, wrong size: %v", err)
	}
	if _, err := c.Encode(nil, -1); err == nil {
		t.Error("Encode, batch −1: no error")
	}

	exec, err := model.NewExec(vaeBackend(t), v.Store(), func(scope *model.Scope, x *Node) *Node {
		mean, _ := v.EncodeMoments(scope, x)
		return mean
	})
	if err != nil {
		t.Fatal(err)
	}
	for dims, want := range map[[4]int]string{
		{1, 4, 32, 32}: "vae: the image must be [B, 3, H, W], got shape (Float32)[1, 4, 32, 32]",
		{1, 3, 20, 32}: "vae: the image's height and width (shape (Float32)[1, 3, 20, 32]) must be multiples of 8",
	} {
		_, err := exec.Exec(vaeTensor(t, dtypes.Float32, make([]float64, dims[0]*dims[1]*dims[2]*dims[3]), dims[:]...))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("image %v: %v", dims, err)
		}
	}
}
