package safetensors

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixtures are the diffusers reference fixtures this package reads, where the repository
// keeps them (the tests of belm and belm/unet use the same files).
var fixtures = map[string]string{
	"tiny_cifar10_io.safetensors":   "../unet/testdata/tiny_cifar10_io.safetensors",
	"tiny_cifar10_unet.safetensors": "../unet/testdata/tiny_cifar10_unet.safetensors",
	"ddim_trajectories.safetensors": "../testdata/ddim_trajectories.safetensors",
}

// openFixture opens a fixture of the repository. A missing one is a failure, not a skip: the
// files are committed, so their absence is a broken checkout.
func openFixture(t *testing.T, name string) *File {
	t.Helper()
	path, ok := fixtures[name]
	if !ok {
		t.Fatalf("unknown fixture %q", name)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("fixture %s is missing (%v): it is committed in the repository; restore it with `git checkout -- %s`",
			name, err, filepath.Join("belm", filepath.Clean(filepath.Join("safetensors", path))))
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestFixtureIO(t *testing.T) {
	f := openFixture(t, "tiny_cifar10_io.safetensors")
	shapes := map[string][]int{
		"x": {2, 3, 8, 8}, "t": {2}, "eps": {2, 3, 8, 8}, "eps_f64": {2, 3, 8, 8},
		"t_proj": {2, 8}, "t_emb": {2, 32}, "debug.conv_in": {2, 8, 8, 8},
		"debug.down_blocks.0": {2, 8, 4, 4}, "debug.down_blocks.1": {2, 16, 2, 2},
		"debug.down_blocks.2": {2, 16, 1, 1}, "debug.down_blocks.3": {2, 16, 1, 1},
		"debug.mid_block": {2, 16, 1, 1}, "debug.up_blocks.0": {2, 16, 2, 2},
		"debug.up_blocks.1": {2, 16, 4, 4}, "debug.up_blocks.2": {2, 16, 8, 8},
		"debug.up_blocks.3": {2, 8, 8, 8},
	}
	if got := f.Names(); len(got) != len(shapes) {
		t.Errorf("Names() = %v, want the %d of the README", got, len(shapes))
	}
	for name, shape := range shapes {
		info, ok := f.Info(name)
		want := F32
		if name == "eps_f64" {
			want = F64
		}
		if !ok || info.DType != want || !slices.Equal(info.Shape, shape) {
			t.Errorf("Info(%s) = %+v, %v; want %s%v", name, info, ok, want, shape)
		}
	}
	if ts, shape, err := f.Float32("t"); err != nil || !slices.Equal(ts, []float32{10, 500}) || !slices.Equal(shape, []int{2}) {
		t.Errorf("t = %v %v %v, want [10 500] [2]", ts, shape, err)
	}
	// First values, as read by Python's struct module.
	x, _, err := f.Float32("x")
	if err != nil || len(x) != 384 || x[0] != -0.1117185652256012 || x[1] != -0.49659010767936707 {
		t.Errorf("x[:2] = %v (%v)", x[:2], err)
	}
	e, _, err := f.Float64("eps_f64")
	if err != nil || len(e) != 384 || e[0] != -0.06452622806300823 || e[1] != 0.25193033227943556 {
		t.Errorf("eps_f64[:2] = %v (%v)", e[:2], err)
	}
	if e32, _, err := f.Float32("eps_f64"); err != nil || e32[0] != float32(e[0]) {
		t.Errorf("Float32(eps_f64)[0] = %v (%v), want %v", e32[0], err, float32(e[0]))
	}
	if f.Metadata["timesteps"] != "[10, 500]" {
		t.Errorf("Metadata = %v", f.Metadata)
	}
}

func TestFixtureUNet(t *testing.T) {
	f := openFixture(t, "tiny_cifar10_unet.safetensors")
	names := f.Names()
	if len(names) != 328 {
		t.Errorf("%d tensors, want 328", len(names))
	}
	params := 0
	for _, name := range names {
		v, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if n != len(v) {
			t.Errorf("%s: %d values for shape %v", name, len(v), shape)
		}
		params += n
	}
	if params != 143267 {
		t.Errorf("%d parameters, want 143,267", params)
	}
	if err := f.Require("conv_in.weight", "conv_in.bias", "down_blocks.1.attentions.0.to_q.weight", "mid_block.attentions.0.to_out.0.bias"); err != nil {
		t.Error(err)
	}
	if info, _ := f.Info("conv_in.weight"); !slices.Equal(info.Shape, []int{8, 3, 3, 3}) {
		t.Errorf("conv_in.weight shape %v", info.Shape)
	}
	if !strings.Contains(f.Metadata["producer"], "UNet2DModel") {
		t.Errorf("Metadata = %v", f.Metadata)
	}
}

func TestFixtureDDIM(t *testing.T) {
	f := openFixture(t, "ddim_trajectories.safetensors")
	if n := len(f.Names()); n != 32 {
		t.Errorf("%d tensors, want 32", n)
	}
	steps, shape, err := f.Int64("hubcfg.sample.timesteps")
	if err != nil || !slices.Equal(steps, []int64{900, 800, 700, 600, 500, 400, 300, 200, 100, 0}) || !slices.Equal(shape, []int{10}) {
		t.Errorf("hubcfg.sample.timesteps = %v %v %v", steps, shape, err)
	}
	steps, _, err = f.Int64("noclip.invert.timesteps")
	if err != nil || !slices.Equal(steps, []int64{0, 100, 200, 300, 400, 500, 600, 700, 800, 900}) {
		t.Errorf("noclip.invert.timesteps = %v %v", steps, err)
	}
	if info, _ := f.Info("hubcfg.sample.f64.xs"); info.DType != F64 || !slices.Equal(info.Shape, []int{11, 1, 3, 8, 8}) {
		t.Errorf("hubcfg.sample.f64.xs: %+v", info)
	}
	// alphas_cumprod_f64 matches the naive float64 linear schedule (README: 7e-16).
	ac, _, err := f.Float64("alphas_cumprod_f64")
	if err != nil || len(ac) != 1000 {
		t.Fatalf("alphas_cumprod_f64: %d values, %v", len(ac), err)
	}
	prod := 1.0
	for i, a := range ac {
		prod *= 1 - (1e-4 + float64(i)*(0.02-1e-4)/999)
		if math.Abs(a-prod) > 1e-14 {
			t.Fatalf("alphas_cumprod_f64[%d] = %v, want %v", i, a, prod)
		}
	}
}
