package unet

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/belmlab/workbench/belm/hub"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"
)

// AutoencoderKL is diffusers' AutoencoderKL, the VAE of Stable Diffusion 1.x/2.x, with its
// weights as variables of a model.Store (state-dict names, "." → "/"). It is built from
// the same blocks as the UNet (ResnetBlock2D without time embedding, single-head
// attention, Downsample2D with (0,1,0,1) padding, nearest Upsample2D), every GroupNorm
// with eps 1e-6.
//
// The encoder E maps an image x ∈ [−1, 1]^{C×H×W} to the posterior N(mean, exp(logvar))
// (diagonal), whose moments [mean | logvar] are quant_conv(E(x)), with logvar clamped to
// [−30, 20] and std = exp(½·logvar); the latent is H/2^k × W/2^k with k =
// Downsamplings(). The decoder D maps a latent back: x̂ = D(post_quant_conv(z)). Stable
// Diffusion's diffusion model works on the scaled latents z = s·mean (or s·(mean + std·n),
// n ~ N(0, I), when sampling the posterior) and decodes x = D(z/s); s is scaling_factor
// (0.18215 for SD 1.x/2.x). The codec (Codec) does that scaling; EncodeMoments and Decode
// are the unscaled graph functions, diffusers' vae.encode(x).latent_dist and
// vae.decode(z).sample.
//
// Numerics follow diffusers v0.31 on PyTorch 1.13 like the UNet's, including the float32
// attention softmax of a float64 model (WithFloat32Softmax, on by default).
type AutoencoderKL struct {
	cfg  VAEConfig
	plan *vaePlan
	*params
}

func newVAE(cfg VAEConfig, opts []Option) (*AutoencoderKL, error) {
	o, err := buildOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := newVAEPlan(cfg)
	return &AutoencoderKL{cfg: cfg, plan: p, params: newParams("vae", p.params(), o)}, nil
}

// NewVAE builds the AutoencoderKL of cfg with the given weights, keyed as
// AutoencoderKL.state_dict() names them; the legacy attention names of older checkpoints
// (mid_block.attentions.0.query/key/value/proj_attn) are accepted too. Missing tensors,
// tensors of the wrong shape and unexpected tensors are reported together in one error.
// Options: WithDType (the dtype the weights are stored in), WithFloat32Softmax.
func NewVAE(cfg VAEConfig, weights Weights, opts ...Option) (*AutoencoderKL, error) {
	v, err := newVAE(cfg, opts)
	if err != nil {
		return nil, err
	}
	if err := v.bind(weights); err != nil {
		return nil, err
	}
	return v, nil
}

// NewRandomVAE builds the AutoencoderKL of cfg with random weights drawn from seed (see
// NewRandom), stored in dtype (Float32 or Float64). For tests of the architecture.
func NewRandomVAE(cfg VAEConfig, seed int64, dtype dtypes.DType, opts ...Option) (*AutoencoderKL, error) {
	v, err := newVAE(cfg, append(slices.Clone(opts), WithDType(dtype)))
	if err != nil {
		return nil, err
	}
	if err := v.randomize(seed); err != nil {
		return nil, err
	}
	return v, nil
}

// LoadVAE reads a diffusers AutoencoderKL folder: config.json and
// diffusion_pytorch_model.safetensors, or diffusion_pytorch_model.bin when there is no
// safetensors file (read without executing anything: LoadPyTorch). A pipeline folder whose
// VAE lives in a "vae" subfolder is accepted too.
func LoadVAE(dir string, opts ...Option) (*AutoencoderKL, error) {
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, "vae", ConfigFile)); err2 != nil {
			return nil, fmt.Errorf("vae: %s is not a diffusers AutoencoderKL folder (no %s, nor vae/%s)", dir, ConfigFile, ConfigFile)
		}
		dir = filepath.Join(dir, "vae")
	}
	cfg, err := LoadVAEConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	weights, wpath, closeW, err := OpenWeights(dir, hub.DiffusersWeights)
	if err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	defer closeW()
	v, err := NewVAE(cfg, weights, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, wpath)
	}
	return v, nil
}

// Config returns the VAE's configuration.
func (v *AutoencoderKL) Config() VAEConfig { return v.cfg }

// ScalingFactor is s of z = s·mean and x = D(z/s).
func (v *AutoencoderKL) ScalingFactor() float64 { return v.cfg.ScalingFactor }

// shift is shift_factor, 0 when null.
func (v *AutoencoderKL) shift() float64 {
	if v.cfg.ShiftFactor == nil {
		return 0
	}
	return *v.cfg.ShiftFactor
}

// EncodeMoments is diffusers' vae.encode(x).latent_dist on images x [B, in_channels, H, W]
// (H and W multiples of 2^Downsamplings(); float32 or float64, the graph follows x's
// dtype): the posterior N(mean, exp(logvar)), both [B, latent_channels, H/2^k, W/2^k], with
// logvar clamped to [−30, 20]. Weights are variables of scope (nil: the VAE's own store).
func (v *AutoencoderKL) EncodeMoments(scope *model.Scope, x *Node) (mean, logvar *Node) {
	return v.encode(scope, x, nil)
}

// Decode is diffusers' vae.decode(z).sample: D(post_quant_conv(z)) on unscaled latents z
// [B, latent_channels, h, w], giving images [B, out_channels, h·2^k, w·2^k].
func (v *AutoencoderKL) Decode(scope *model.Scope, z *Node) *Node {
	return v.decode(scope, z, nil)
}

func (v *AutoencoderKL) builder(scope *model.Scope, x *Node, dbg map[string]*Node) *builder {
	if scope == nil {
		scope = v.store.RootScope()
	}
	dt := x.DType()
	if dt != dtypes.Float32 && dt != dtypes.Float64 {
		exceptions.Panicf("vae: the input must be float32 or float64, got %s", dt)
	}
	return &builder{u: nil, ps: v.params, scope: scope, g: x.Graph(), dtype: dt, dbg: dbg}
}

// checkInput panics with a clear message unless x is [B, channels, H, W] with H and W
// multiples of factor.
func checkInput(what string, x *Node, channels, factor int) {
	d := x.Shape().Dimensions
	if x.Rank() != 4 || d[1] != channels {
		exceptions.Panicf("vae: %s must be [B, %d, H, W], got shape %s", what, channels, x.Shape())
	}
	if d[2]%factor != 0 || d[3]%factor != 0 {
		exceptions.Panicf("vae: %s's height and width (shape %s) must be multiples of %d", what, x.Shape(), factor)
	}
}

func (v *AutoencoderKL) encode(scope *model.Scope, x *Node, dbg map[string]*Node) (mean, logvar *Node) {
	checkInput("the image", x, v.cfg.InChannels, 1<<v.cfg.Downsamplings())
	b := v.builder(scope, x, dbg)
	h := b.coder(&v.plan.enc, x)
	b.debug("encoder_out", h)
	if v.plan.quant != nil {
		h = b.conv(*v.plan.quant, h)
	}
	b.debug("moments", h)
	lc := v.cfg.LatentChannels
	mean = Slice(h, AxisRange(), AxisRange(0, lc))
	logvar = ClipScalar(Slice(h, AxisRange(), AxisRange(lc, 2*lc)), -30, 20)
	return mean, logvar
}

func (v *AutoencoderKL) decode(scope *model.Scope, z *Node, dbg map[string]*Node) *Node {
	checkInput("the latent", z, v.cfg.LatentChannels, 1)
	b := v.builder(scope, z, dbg)
	if v.plan.postQuant != nil {
		z = b.conv(*v.plan.postQuant, z)
	}
	b.debug("post_quant_conv", z)
	return b.coder(&v.plan.dec, z)
}

// coder runs an Encoder or a Decoder: conv_in, the down blocks then the mid block
// (encoder) or the mid block then the up blocks (decoder), norm, SiLU, conv_out.
func (b *builder) coder(c *coderPlan, x *Node) *Node {
	h := b.conv(c.convIn, x)
	if c.midFirst {
		h = b.vaeMid(c, h)
	}
	for _, d := range c.downs {
		for _, r := range d.resnets {
			h = b.resnet(r, h, nil)
		}
		if d.downsample != nil {
			h = b.conv(*d.downsample, h)
		}
	}
	if !c.midFirst {
		h = b.vaeMid(c, h)
	}
	for _, u := range c.ups {
		for _, r := range u.resnets {
			h = b.resnet(r, h, nil)
		}
		if u.upsample != nil {
			h = b.conv(*u.upsample, upsampleNearest2x(h))
		}
	}
	h = silu(b.groupNorm(c.prefix+".conv_norm_out", c.groups, vaeNormEps, h))
	return b.conv(c.convOut, h)
}

// vaeMid is UNetMidBlock2D without time embedding: resnet, (attention, resnet)….
func (b *builder) vaeMid(c *coderPlan, h *Node) *Node {
	m := c.mid
	h = b.resnet(m.resnets[0], h, nil)
	for j, a := range m.attns {
		if a != nil {
			h = b.attention(*a, h)
		}
		h = b.resnet(m.resnets[j+1], h, nil)
	}
	b.debug(c.prefix+".mid_block", h)
	return h
}
