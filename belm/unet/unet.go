// Package unet is a GoMLX port of Hugging Face diffusers' UNet2DModel (the ε-network of
// google/ddpm-cifar10-32 and friends), UNet2DConditionModel (Stable Diffusion 1.x/2.x's
// text-conditioned ε-network) and, beside them, AutoencoderKL (SD's VAE), built from the
// model's config.json and loaded from its weights (OpenWeights: the safetensors file, its
// fp16 variant upcast, or the .bin, a PyTorch checkpoint read without executing anything:
// LoadPyTorch). The models share one
// set of blocks (resnets, norms, convolutions, attention, timestep embedding) and one
// weight loader (params: every tensor checked against the plan's names and shapes).
//
// UNet2DConditionModel (Config.Cond; _class_name picks the class) adds CrossAttnDownBlock2D,
// CrossAttnUpBlock2D and UNetMidBlock2DCrossAttn (also UNetMidBlock2D or no mid block),
// whose Transformer2DModel is GroupNorm (eps 1e-6) → proj_in (1×1 conv, or Linear with
// use_linear_projection) → BasicTransformerBlocks (LayerNorm → self-attention → +;
// LayerNorm → cross-attention on encoder_hidden_states → +; LayerNorm → GEGLU with exact
// erf GELU → +) → proj_out → + input. attention_head_dim is the number of heads, per block
// or for all, as diffusers reads it; options SD 1.x/2.x do not use are refused by name.
// Its ε takes the context as belm.Model's cond, [B, L, cross_attention_dim]. Against
// diffusers v0.31 (the tiny SD1.5-structured fixture): 1.6e-6 in float32, 2.2e-15 in
// float64; diffusers' float64 attention has no upcast_softmax, so no float32 softmax is
// emulated there, and upcast_attention (SD2.1) follows WithFloat32Softmax.
//
// For UNet2DModel it implements the blocks used with positional time embeddings:
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
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/hub"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// UNet is a diffusers UNet2DModel or UNet2DConditionModel with its weights, as variables
// of a model.Store.
type UNet struct {
	cfg  Config
	plan *plan
	*params

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
	inlineWeights         bool // WithInlineWeights
}

func defaultOptions() options {
	return options{dtype: dtypes.Float32, float32Sinusoid: true, float32Softmax: true, sleefSinCos: true, inlineWeights: true}
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
//
// In UNet2DConditionModel's transformers (upcast_softmax false) the softmax is the
// graph's, except with upcast_attention (SD2.1), where diffusers' AttnProcessor also
// casts q and k with .float(): with true, q and k are rounded to float32, the scores
// taken in float32 (in GoMLX's summation order, not baddbmm's) and the softmax is
// PyTorch's float32 one; with false everything stays float64 (diffusers under PyTorch
// ≥ 2, whose scaled_dot_product_attention ignores upcast_attention). They differ by
// ~4e-8 on a small random model.
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

// InlineWeightsMaxBytes is the largest model whose weights WithInlineWeights puts into a
// graph: ddpm-cifar10-32's 143 MB fits; Stable Diffusion's UNet (3.4 GB in float32, over
// ONNX's 2 GB protobuf limit) and its VAE and text encoder stay graph parameters.
const InlineWeightsMaxBytes = 256 << 20

// WithInlineWeights chooses whether inference graphs built for a backend with a graph
// optimiser (onnx, xla: not the pure-Go backend) hold the weights as constants (true, the
// default) or read them as graph parameters (false). As constants, ONNX Runtime packs each
// convolution kernel into its blocked (NCHWc) layout once, when the graph is compiled, and
// folds the bias adds into the convolutions; as parameters it must treat them as inputs
// that may change between calls. Measured on the Fashion-MNIST UNet at batch 8–100 (onnx,
// 2 threads): 1.5× the throughput (BENCHMARKS.md). The cost: each compiled graph holds its
// own copy of the weights (and ORT a packed one), and graphs read the weights when they are
// built — a graph compiled before the store's variables change keeps the old values. So
// graphs built for training (WithDifferentiableStrides) never inline, nor do models over
// InlineWeightsMaxBytes. Same values either way.
func WithInlineWeights(on bool) Option {
	return func(o *options) { o.inlineWeights = on }
}

func newUNet(cfg Config, opts []Option) (*UNet, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p, err := newPlan(cfg)
	if err != nil {
		return nil, err
	}
	return &UNet{cfg: cfg, plan: p, params: newParams("unet", p.params(), o)}, nil
}

// New builds the UNet of cfg with the given weights, keyed as the model's state_dict()
// names them (current or legacy attention names). Missing tensors, tensors of the wrong
// shape and unexpected tensors are reported together in one error.
func New(cfg Config, weights Weights, opts ...Option) (*UNet, error) {
	u, err := newUNet(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := u.bind(weights); err != nil {
		return nil, err
	}
	return u, nil
}

// Weight file names in a diffusers model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "diffusion_pytorch_model.safetensors"
)

// Load reads a diffusers UNet2DModel or UNet2DConditionModel folder (the class is
// config.json's _class_name): config.json and the weights (OpenWeights:
// diffusion_pytorch_model.safetensors, its fp16 variant, or the .bin, a zip-format PyTorch
// checkpoint read without executing anything). A pipeline folder whose UNet lives in a "unet" subfolder is
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
	weights, wpath, closeW, err := OpenWeights(dir, hub.DiffusersWeights)
	if err != nil {
		return nil, fmt.Errorf("unet: %w", err)
	}
	defer closeW()
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
	if err := u.randomize(seed); err != nil {
		return nil, err
	}
	return u, nil
}

// Config returns the model's configuration.
func (u *UNet) Config() Config { return u.cfg }

// Conditional reports whether the UNet is a UNet2DConditionModel, whose ε needs
// encoder_hidden_states.
func (u *UNet) Conditional() bool { return u.cfg.Cond != nil }

// CrossAttentionDim is the width of the encoder_hidden_states a conditional UNet takes
// (cross_attention_dim); 0 for a UNet2DModel.
func (u *UNet) CrossAttentionDim() int {
	if u.cfg.Cond == nil {
		return 0
	}
	return u.cfg.Cond.CrossAttentionDim.At(0)
}

// Forward is UNet2DModel(x, t).sample: x is [B, C, H, W] (float32 or float64; the graph
// follows its dtype), t the network timesteps, a scalar or [B] (any numeric dtype, used
// as float, like diffusers' timesteps.float()). Weights are variables of scope (nil: the
// UNet's own store, root scope); when scope's store lacks them they are created there.
// A UNet2DConditionModel needs its context: see ForwardCond.
func (u *UNet) Forward(scope *model.Scope, x, t *Node) *Node {
	return u.build(scope, x, t, nil)
}

// ForwardCond is UNet2DConditionModel(x, t, encoder_hidden_states=context).sample, with x
// and t as in Forward and context [B, L, cross_attention_dim] (converted to x's dtype).
// For a UNet2DModel, context must be nil (then it is Forward).
func (u *UNet) ForwardCond(scope *model.Scope, x, t, context *Node) *Node {
	return u.buildCond(scope, x, t, context, nil)
}

func (u *UNet) build(scope *model.Scope, x, t *Node, dbg map[string]*Node) *Node {
	return u.buildCond(scope, x, t, nil, dbg)
}

func (u *UNet) buildCond(scope *model.Scope, x, t, context *Node, dbg map[string]*Node) *Node {
	if scope == nil {
		scope = u.store.RootScope()
	}
	dt := x.DType()
	if dt != dtypes.Float32 && dt != dtypes.Float64 {
		exceptions.Panicf("unet: x must be float32 or float64, got %s", dt)
	}
	switch {
	case u.Conditional() && context == nil:
		exceptions.Panicf("unet: UNet2DConditionModel needs encoder_hidden_states [B, L, %d], but none was given", u.CrossAttentionDim())
	case !u.Conditional() && context != nil:
		exceptions.Panicf("unet: UNet2DModel is unconditional, but a conditioning tensor %s was given", context.Shape())
	}
	b := &builder{u: u, ps: u.params, scope: scope, g: x.Graph(), dtype: dt, dbg: dbg, ctx: context}
	return b.forward(x, t)
}

// checkContext checks encoder_hidden_states against the batch and cross_attention_dim,
// and converts it to dtype.
func (u *UNet) checkContext(ctx *Node, batch int, dtype dtypes.DType) *Node {
	d := ctx.Shape().Dimensions
	if ctx.Rank() != 3 || d[0] != batch || d[2] != u.CrossAttentionDim() || d[1] < 1 {
		exceptions.Panicf("unet: encoder_hidden_states must be [B, L, cross_attention_dim] = [%d, L, %d], got shape %s",
			batch, u.CrossAttentionDim(), ctx.Shape())
	}
	if dt := ctx.DType(); dt != dtypes.Float32 && dt != dtypes.Float64 {
		exceptions.Panicf("unet: encoder_hidden_states must be float32 or float64, got %s", dt)
	}
	return ConvertDType(ctx, dtype)
}

// Eps implements belm.Model: the UNet's ε-prediction at network time tm.T (a scalar,
// broadcast over the batch). For a UNet2DModel cond must be nil; for a
// UNet2DConditionModel it is encoder_hidden_states [B, L, cross_attention_dim] (the text
// encoder's last_hidden_state; under classifier-free guidance belm's runner passes
// [uncond; cond] with x twice, as StableDiffusionPipeline).
func (u *UNet) Eps(scope *model.Scope, x *Node, tm belm.Time, cond *Node) *Node {
	if tm.T == nil {
		exceptions.Panicf("unet: the UNet needs the network timestep Time.T, which is nil")
	}
	return u.ForwardCond(scope, x, tm.T, cond)
}
