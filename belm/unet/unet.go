// Package unet is a GoMLX port of Hugging Face diffusers' UNet2DModel (the ε-network of
// google/ddpm-cifar10-32 and friends), built from the model's config.json and loaded
// from its diffusion_pytorch_model.safetensors (or .bin, a PyTorch checkpoint read without
// executing anything: LoadPyTorch).
//
// It implements the blocks UNet2DModel uses with positional time embeddings:
// DownBlock2D, AttnDownBlock2D, UpBlock2D, AttnUpBlock2D, UNetMidBlock2D (with or
// without attention), ResnetBlock2D ("default" and "scale_shift" time conditioning),
// Downsample2D (strided conv, including downsample_padding 0's asymmetric padding),
// Upsample2D (nearest 2× then conv) and single/multi-head attention. Other options
// (class embeddings, fourier/learned time embeddings, resnet up/down sampling, other
// activations) are rejected with an error that names them.
//
// Numerics follow diffusers v0.31 on PyTorch 1.13 (checked against fixtures made with
// it): within 1e-5 in float32 and ~2e-15 in float64. Two parts of diffusers' float64
// forward are float32, and this port reproduces both by default:
//   - the sinusoidal timestep embedding is computed in float32 (its frequencies with
//     PyTorch's SLEEF exp, bit for bit); WithFloat32Sinusoid(false) computes it in the
//     model's dtype (more exact; ~8e-8 away from diffusers);
//   - the attention softmax is float32 (upcast_softmax's .float() under PyTorch < 2);
//     WithFloat32Softmax(false) keeps it float64 (~2.5e-8 away).
//
// The float32 sin/cos of the embedding are PyTorch's: its CPU kernels are SLEEF's
// sinf_u1/cosf_u1, which are 1 ulp off correct rounding for some arguments, and this port
// emulates them at integer timesteps (sinusoid.go; WithSleefSinCos(false) takes the
// backend's sin/cos instead). A whole DDIM trajectory driven by this UNet then matches
// diffusers' to 7e-14 in float64 (2.8e-7 with correctly rounded sin/cos).
//
// The model's input and output are NCHW ([B, C, H, W]), as in diffusers; the graph is
// NCHW throughout. A *UNet implements belm.Model and belm.StoreProvider.
package unet

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// UNet is a diffusers UNet2DModel with its weights, as variables of a model.Store.
type UNet struct {
	cfg     Config
	plan    *plan
	opts    options
	weights map[string]*tensors.Tensor // diffusers state-dict name → value (in opts.dtype)
	shapes  map[string][]int
	names   []string // state-dict order
	store   *model.Store

	sinOnce  sync.Once
	sinTable []float32 // PyTorch's float32 sin/cos of the embedding per timestep (sinCosTable)
}

var (
	_ belm.Model         = (*UNet)(nil)
	_ belm.StoreProvider = (*UNet)(nil)
)

type options struct {
	dtype           dtypes.DType
	float32Sinusoid bool
	float32Softmax  bool
	sleefSinCos     bool
	// differentiableStrides: strided convolutions on backends other than go as stride 1 +
	// subsampling, whose gradient ONNX Runtime can compute (WithDifferentiableStrides).
	differentiableStrides bool
}

func defaultOptions() options {
	return options{dtype: dtypes.Float32, float32Sinusoid: true, float32Softmax: true, sleefSinCos: true}
}

// Option configures New, Load and NewRandom.
type Option func(*options)

// WithDType sets the dtype the weights are stored in (Float32, the default, or Float64).
// The graph's dtype always follows x's: weights of another dtype are converted in the
// graph (float32 weights in a float64 graph are exact, as diffusers' model.double()).
func WithDType(dtype dtypes.DType) Option {
	return func(o *options) { o.dtype = dtype }
}

// WithFloat32Sinusoid chooses whether the sinusoidal timestep embedding is computed in
// float32 and then converted to the model's dtype (true, the default: what diffusers
// does) or in the model's dtype (false: more exact in float64, ~1e-7 away from diffusers).
func WithFloat32Sinusoid(on bool) Option {
	return func(o *options) { o.float32Sinusoid = on }
}

// WithSleefSinCos chooses whether the float32 sinusoidal embedding takes PyTorch's sin
// and cos (SLEEF's xsinf_u1/xcosf_u1, emulated: see sleefSinCos32) at integer timesteps
// (true, the default: diffusers' values bit for bit) or the backend's sin and cos
// (false: correctly rounded on go, ≤ 1 ulp away from diffusers').
func WithSleefSinCos(on bool) Option {
	return func(o *options) { o.sleefSinCos = on }
}

// WithFloat32Softmax chooses whether, in a float64 graph, the attention softmax is
// computed as PyTorch 1.x computes it in diffusers (true, the default): diffusers'
// AttnProcessor (used when PyTorch has no scaled_dot_product_attention, i.e. < 2.0)
// upcasts the scores with .float(), which turns float64 scores into float32. The
// float32 softmax of PyTorch's CPU kernel is then emulated bit for bit (see
// torchSoftmax32), which is what the reference fixtures need to agree to 1e-12. With
// false the softmax is computed in float64 (what diffusers does under PyTorch ≥ 2, and
// the more exact choice; ~2.5e-8 away from the fixtures). No effect on float32 graphs.
func WithFloat32Softmax(on bool) Option {
	return func(o *options) { o.float32Softmax = on }
}

// WithDifferentiableStrides builds the convolutions for training on a backend other than go
// (nn.Conv2D instead of nn.Conv2DInference): ONNX Runtime cannot run the backward pass of
// a strided Conv ("input dilations > 1 not supported"), so strided ones are a stride-1 convolution followed by
// keeping every s-th row and column (contiguous reshapes and slices only; the two
// downsampling convolutions cost ~4× more), and every convolution's weight gradient is one
// matmul instead of the convolution GoMLX's autodiff writes (half of a train step on ORT).
// Same values. Off by default (sampling needs no gradient); no effect on the go backend,
// whose patches + matmul convolutions are differentiable anyway.
func WithDifferentiableStrides(on bool) Option {
	return func(o *options) { o.differentiableStrides = on }
}

// Weights is a source of named tensors: a *safetensors.File or a TensorMap.
type Weights interface {
	Names() []string
	Tensor(name string, dtype dtypes.DType) (*tensors.Tensor, error)
}

var _ Weights = (*safetensors.File)(nil)

// TensorMap is an in-memory Weights.
type TensorMap map[string]*tensors.Tensor

// Names implements Weights (sorted).
func (m TensorMap) Names() []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Tensor implements Weights, converting between float32 and float64 if asked.
func (m TensorMap) Tensor(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	t, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("unet: no tensor %q", name)
	}
	if t.DType() == dtype {
		return t, nil
	}
	dims := t.Shape().Dimensions
	switch {
	case t.DType() == dtypes.Float32 && dtype == dtypes.Float64:
		v, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return tensors.FromFlatDataAndDimensions(out, dims...), nil
	case t.DType() == dtypes.Float64 && dtype == dtypes.Float32:
		v, err := tensors.CopyFlatData[float64](t)
		if err != nil {
			return nil, err
		}
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return tensors.FromFlatDataAndDimensions(out, dims...), nil
	}
	return nil, fmt.Errorf("unet: tensor %q is %s, cannot convert it to %s", name, t.DType(), dtype)
}

// legacyAttention maps the attention parameter names of 2022 checkpoints to the current
// ones, as diffusers does on load ("group_norm" keeps its name).
var legacyAttention = map[string]string{"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}

// canonicalName returns the current diffusers name of a state-dict key, translating the
// legacy attention names (…attentions.N.query.weight → …attentions.N.to_q.weight).
func canonicalName(name string) string {
	parts := strings.Split(name, ".")
	// …, "attentions", N, <legacy>, "weight"|"bias"
	if n := len(parts); n >= 4 && parts[n-4] == "attentions" {
		if cur, ok := legacyAttention[parts[n-2]]; ok {
			return strings.Join(append(slices.Clone(parts[:n-2]), cur, parts[n-1]), ".")
		}
	}
	return name
}

func newUNet(cfg Config, opts []Option) (*UNet, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.dtype != dtypes.Float32 && o.dtype != dtypes.Float64 {
		return nil, fmt.Errorf("unet: weights dtype %s is not supported (Float32 or Float64)", o.dtype)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := newPlan(cfg)
	if err != nil {
		return nil, err
	}
	u := &UNet{cfg: cfg, plan: p, opts: o, weights: map[string]*tensors.Tensor{}, shapes: map[string][]int{}}
	for _, ps := range p.params() {
		u.names = append(u.names, ps.name)
		u.shapes[ps.name] = ps.shape
	}
	return u, nil
}

// New builds the UNet of cfg with the given weights, keyed as UNet2DModel.state_dict()
// names them (current or legacy attention names). Missing tensors, tensors of the wrong
// shape and unexpected tensors are reported together in one error.
func New(cfg Config, weights Weights, opts ...Option) (*UNet, error) {
	u, err := newUNet(cfg, opts)
	if err != nil {
		return nil, err
	}
	if weights == nil {
		return nil, errors.New("unet: New: nil weights")
	}
	// Map the file's names to current names.
	source := map[string]string{} // current name → name in weights
	var unexpected, duplicated []string
	for _, name := range weights.Names() {
		cur := canonicalName(name)
		if prev, dup := source[cur]; dup {
			duplicated = append(duplicated, fmt.Sprintf("%q and %q", prev, name))
			continue
		}
		source[cur] = name
		if _, ok := u.shapes[cur]; !ok {
			unexpected = append(unexpected, fmt.Sprintf("%q", name))
		}
	}
	var missing, mismatched []string
	for _, name := range u.names {
		src, ok := source[name]
		if !ok {
			missing = append(missing, fmt.Sprintf("%q %v", name, u.shapes[name]))
			continue
		}
		t, err := weights.Tensor(src, u.opts.dtype)
		if err != nil {
			mismatched = append(mismatched, fmt.Sprintf("%q: %v", src, err))
			continue
		}
		if got := t.Shape().Dimensions; !slices.Equal(got, u.shapes[name]) {
			mismatched = append(mismatched, fmt.Sprintf("%q has shape %v, want %v", src, got, u.shapes[name]))
			continue
		}
		u.weights[name] = t
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d missing tensors: %s", len(missing), strings.Join(missing, ", ")))
	}
	if len(mismatched) > 0 {
		problems = append(problems, fmt.Sprintf("%d tensors with a wrong shape or dtype: %s", len(mismatched), strings.Join(mismatched, "; ")))
	}
	if len(unexpected) > 0 {
		problems = append(problems, fmt.Sprintf("%d unexpected tensors: %s", len(unexpected), strings.Join(unexpected, ", ")))
	}
	if len(duplicated) > 0 {
		problems = append(problems, fmt.Sprintf("tensors given under both legacy and current names: %s", strings.Join(duplicated, ", ")))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("unet: the weights do not match the config (%d tensors expected): %s",
			len(u.names), strings.Join(problems, "; "))
	}
	if err := u.buildStore(); err != nil {
		return nil, err
	}
	return u, nil
}

// Weight file names in a diffusers model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "diffusion_pytorch_model.safetensors"
)

// Load reads a diffusers UNet2DModel folder: config.json and
// diffusion_pytorch_model.safetensors, or, when the folder has no safetensors file,
// diffusion_pytorch_model.bin (a zip-format PyTorch checkpoint, read without executing
// anything: see LoadPyTorch). A pipeline folder whose UNet lives in a "unet" subfolder is
// accepted too.
func Load(dir string, opts ...Option) (*UNet, error) {
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, "unet", ConfigFile)); err2 == nil {
			dir = filepath.Join(dir, "unet")
		} else {
			return nil, fmt.Errorf("unet: %s is not a diffusers model folder (no %s, nor unet/%s): pass the folder that holds the model's %s and weights",
				dir, ConfigFile, ConfigFile, ConfigFile)
		}
	}
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	wpath := filepath.Join(dir, WeightsFile)
	var weights Weights
	if _, err := os.Stat(wpath); err == nil {
		f, err := safetensors.Open(wpath)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		weights = f
	} else {
		bin := filepath.Join(dir, PyTorchWeightsFile)
		if _, err2 := os.Stat(bin); err2 != nil {
			return nil, fmt.Errorf("unet: %s has no weights: put %s (or %s) beside its %s", dir, WeightsFile, PyTorchWeightsFile, ConfigFile)
		}
		m, err := LoadPyTorch(bin)
		if err != nil {
			return nil, err
		}
		wpath, weights = bin, m
	}
	u, err := New(cfg, weights, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, wpath)
	}
	return u, nil
}

// NewRandom builds the UNet of cfg with random weights drawn from seed, like PyTorch's
// default initialisation (convolutions and linear layers uniform in ±1/√fan_in, group
// norms weight 1 and bias 0), in the given dtype (Float32 or Float64). For benchmarks
// and tests of the architecture.
func NewRandom(cfg Config, seed int64, dtype dtypes.DType, opts ...Option) (*UNet, error) {
	u, err := newUNet(cfg, append(slices.Clone(opts), WithDType(dtype)))
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	for _, ps := range u.plan.params() {
		size := 1
		for _, d := range ps.shape {
			size *= d
		}
		vals := make([]float64, size)
		switch ps.kind {
		case kindWeight, kindBias:
			// fan_in of the layer: the weight's size / out channels.
			w := u.shapes[strings.TrimSuffix(strings.TrimSuffix(ps.name, ".bias"), ".weight")+".weight"]
			fanIn := 1
			for _, d := range w[1:] {
				fanIn *= d
			}
			bound := 1 / math.Sqrt(float64(fanIn))
			for i := range vals {
				vals[i] = (2*rng.Float64() - 1) * bound
			}
		case kindNormW:
			for i := range vals {
				vals[i] = 1
			}
		}
		if dtype == dtypes.Float64 {
			u.weights[ps.name] = tensors.FromFlatDataAndDimensions(vals, ps.shape...)
		} else {
			v32 := make([]float32, size)
			for i, x := range vals {
				v32[i] = float32(x)
			}
			u.weights[ps.name] = tensors.FromFlatDataAndDimensions(v32, ps.shape...)
		}
	}
	if err := u.buildStore(); err != nil {
		return nil, err
	}
	return u, nil
}

// buildStore creates the model.Store with one variable per weight, at the root scope:
// "down_blocks.0.resnets.0.conv1.weight" is the variable "/down_blocks/0/resnets/0/conv1/weight".
func (u *UNet) buildStore() error {
	u.store = model.NewStore()
	root := u.store.RootScope()
	for _, name := range u.names {
		path := model.JoinPath(root.Scope(), strings.ReplaceAll(name, ".", "/"))
		if _, err := u.store.CreateVariable(path, u.weights[name]); err != nil {
			return fmt.Errorf("unet: %w", err)
		}
	}
	return nil
}

// Store returns the store holding the weights (belm.StoreProvider).
func (u *UNet) Store() *model.Store { return u.store }

// Config returns the model's configuration.
func (u *UNet) Config() Config { return u.cfg }

// DType returns the dtype the weights are stored in.
func (u *UNet) DType() dtypes.DType { return u.opts.dtype }

// NumParameters returns the number of scalar parameters (143,267 for the tiny fixture,
// 35,746,307 for google/ddpm-cifar10-32).
func (u *UNet) NumParameters() int {
	n := 0
	for _, name := range u.names {
		s := 1
		for _, d := range u.shapes[name] {
			s *= d
		}
		n += s
	}
	return n
}

// ParameterNames lists the state-dict names of the weights, in diffusers' module order.
func (u *UNet) ParameterNames() []string { return slices.Clone(u.names) }

// Forward is UNet2DModel(x, t).sample: x is [B, C, H, W] (float32 or float64; the graph
// follows its dtype), t the network timesteps, a scalar or [B] (any numeric dtype, used
// as float, like diffusers' timesteps.float()). Weights are variables of scope (nil: the
// UNet's own store, root scope); when scope's store lacks them they are created there.
func (u *UNet) Forward(scope *model.Scope, x, t *Node) *Node {
	return u.build(scope, x, t, nil)
}

func (u *UNet) build(scope *model.Scope, x, t *Node, dbg map[string]*Node) *Node {
	if scope == nil {
		scope = u.store.RootScope()
	}
	dt := x.DType()
	if dt != dtypes.Float32 && dt != dtypes.Float64 {
		exceptions.Panicf("unet: x must be float32 or float64, got %s", dt)
	}
	b := &builder{u: u, scope: scope, g: x.Graph(), dtype: dt, dbg: dbg}
	return b.forward(x, t)
}

// Eps implements belm.Model: the UNet's ε-prediction at network time tm.T (a scalar,
// broadcast over the batch). cond must be nil: UNet2DModel here is unconditional.
func (u *UNet) Eps(scope *model.Scope, x *Node, tm belm.Time, cond *Node) *Node {
	if cond != nil {
		exceptions.Panicf("unet: UNet2DModel is unconditional, but a conditioning tensor %s was given", cond.Shape())
	}
	if tm.T == nil {
		exceptions.Panicf("unet: the UNet needs the network timestep Time.T, which is nil")
	}
	return u.Forward(scope, x, tm.T)
}
