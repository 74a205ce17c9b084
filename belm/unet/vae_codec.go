package unet

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/backends"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// CodecOptions configure AutoencoderKL.Codec.
type CodecOptions struct {
	// Backend is the backend configuration (see backends.Resolve: "" is $GOMLX_BACKEND, or
	// go). Use the pipeline's, so that both share one backend.
	Backend string
	// DType is the computation dtype (Float32 or Float64); InvalidDType means the dtype the
	// VAE's weights are stored in. Weights of the other dtype are converted in the graph.
	DType dtypes.DType
	// Sample makes Encode draw from the posterior, z = s·(mean + std·n) with n ~ N(0, I)
	// (diffusers' latent_dist.sample()), instead of z = s·mean (latent_dist.mode()).
	Sample bool
	// Seed seeds the noise n of Sample: a codec draws a fresh n at every Encode, from one
	// generator, so a sequence of calls is reproducible.
	Seed uint64
}

// VAECodec is Stable Diffusion's map between images and latents for one image size: a
// belm/pipeline.Codec. Encode gives z = s·(mean − shift) (or s·(mean + std·n − shift),
// see CodecOptions.Sample) and Decode x = D(z/s + shift), with s = scaling_factor and
// shift = shift_factor (0 for SD 1.x/2.x). Images are NCHW in [−1, 1]; decoded ones are
// not clamped. The graphs are compiled on first use, one per batch size, and kept.
// Methods are safe for concurrent use (calls run one at a time).
type VAECodec struct {
	vae           *AutoencoderKL
	height, width int
	dtype         dtypes.DType
	sample        bool
	backend       compute.Backend

	mu       sync.Mutex
	rng      *rand.Rand
	enc, dec *model.Exec
}

// Codec returns the codec of images of height × width pixels, which must be multiples of
// 2^Downsamplings() (8 for Stable Diffusion: 512×512 images, 64×64 latents).
func (v *AutoencoderKL) Codec(height, width int, o CodecOptions) (*VAECodec, error) {
	f := 1 << v.cfg.Downsamplings()
	if height < f || width < f || height%f != 0 || width%f != 0 {
		return nil, fmt.Errorf("vae: a %d×%d image cannot be encoded: height and width must be positive multiples of %d (%d downsamplings)",
			height, width, f, v.cfg.Downsamplings())
	}
	if v.cfg.InChannels != v.cfg.OutChannels {
		return nil, fmt.Errorf("vae: in_channels %d ≠ out_channels %d: a codec's decoded images must have the shape of its images",
			v.cfg.InChannels, v.cfg.OutChannels)
	}
	dt := o.DType
	if dt == dtypes.InvalidDType {
		dt = v.DType()
	}
	if dt != dtypes.Float32 && dt != dtypes.Float64 {
		return nil, fmt.Errorf("vae: codec dtype %s is not supported (Float32 or Float64)", dt)
	}
	config := backends.Resolve(o.Backend)
	if dt == dtypes.Float64 && !backends.ExactFloat64(config) {
		return nil, fmt.Errorf("vae: float64 on backend %q is not float64 (ONNX Runtime runs float64 convolutions in float32): use float32 there, or the go backend", config)
	}
	be, err := backends.New(config)
	if err != nil {
		return nil, err
	}
	return &VAECodec{vae: v, height: height, width: width, dtype: dt, sample: o.Sample, backend: be,
		rng: rand.New(rand.NewPCG(o.Seed, 0x5d1e_a5e0_c0de_c0de))}, nil
}

// ImageShape is [out_channels (= in_channels), height, width].
func (c *VAECodec) ImageShape() []int { return []int{c.vae.cfg.InChannels, c.height, c.width} }

// LatentShape is [latent_channels, height/2^k, width/2^k].
func (c *VAECodec) LatentShape() []int {
	f := 1 << c.vae.cfg.Downsamplings()
	return []int{c.vae.cfg.LatentChannels, c.height / f, c.width / f}
}

// DType is the computation dtype.
func (c *VAECodec) DType() dtypes.DType { return c.dtype }

func checkCount(v []float64, batch int, shape []int, what string) error {
	if batch < 0 || len(v) != batch*prod(shape) {
		return fmt.Errorf("vae: %d values for %d %s of shape %v (want %d)", len(v), batch, what, shape, max(batch, 0)*prod(shape))
	}
	return nil
}

// Encode maps batch images (flat NCHW, ImageShape each) to their scaled latents
// z = s·(mean − shift), or s·(mean + std·n − shift) when sampling.
func (c *VAECodec) Encode(images []float64, batch int) ([]float64, error) {
	if err := checkCount(images, batch, c.ImageShape(), "images"); err != nil {
		return nil, err
	}
	if batch == 0 {
		return []float64{}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.enc == nil {
		s, shift := c.vae.cfg.ScalingFactor, c.vae.shift()
		var err error
		if c.sample {
			c.enc, err = model.NewExec(c.backend, c.vae.store, func(scope *model.Scope, x, n *Node) *Node {
				mean, logvar := c.vae.EncodeMoments(scope, x)
				std := Exp(MulScalar(logvar, 0.5))
				return scaleLatent(Add(mean, Mul(std, n)), s, shift)
			})
		} else {
			c.enc, err = model.NewExec(c.backend, c.vae.store, func(scope *model.Scope, x *Node) *Node {
				mean, _ := c.vae.EncodeMoments(scope, x)
				return scaleLatent(mean, s, shift)
			})
		}
		if err != nil {
			return nil, fmt.Errorf("vae: %w", err)
		}
	}
	x, err := belm.NewTensor(images, c.dtype, append([]int{batch}, c.ImageShape()...)...)
	if err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	args := []any{x}
	if c.sample {
		ls := append([]int{batch}, c.LatentShape()...)
		noise := make([]float64, prod(ls))
		for i := range noise {
			noise[i] = c.rng.NormFloat64()
		}
		n, err := belm.NewTensor(noise, c.dtype, ls...)
		if err != nil {
			return nil, fmt.Errorf("vae: %w", err)
		}
		args = append(args, n)
	}
	return c.run(c.enc, "encoding", args...)
}

// scaleLatent is s·(z − shift), in the graph's dtype.
func scaleLatent(z *Node, s, shift float64) *Node {
	if shift != 0 {
		z = AddScalar(z, -shift)
	}
	return MulScalar(z, s)
}

// Decode maps batch scaled latents (flat, LatentShape each) to images x = D(z/s + shift),
// flat NCHW of ImageShape, unclamped.
func (c *VAECodec) Decode(latents []float64, batch int) ([]float64, error) {
	if err := checkCount(latents, batch, c.LatentShape(), "latents"); err != nil {
		return nil, err
	}
	if batch == 0 {
		return []float64{}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dec == nil {
		s, shift := c.vae.cfg.ScalingFactor, c.vae.shift()
		var err error
		c.dec, err = model.NewExec(c.backend, c.vae.store, func(scope *model.Scope, z *Node) *Node {
			// diffusers' latents / scaling_factor: a division (DivScalar would
			// multiply by 1/s, which differs by an ulp).
			z = Div(z, Scalar(z.Graph(), z.DType(), s))
			if shift != 0 {
				z = AddScalar(z, shift)
			}
			return c.vae.Decode(scope, z)
		})
		if err != nil {
			return nil, fmt.Errorf("vae: %w", err)
		}
	}
	z, err := belm.NewTensor(latents, c.dtype, append([]int{batch}, c.LatentShape()...)...)
	if err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	return c.run(c.dec, "decoding", z)
}

func (c *VAECodec) run(e *model.Exec, what string, args ...any) ([]float64, error) {
	out, err := e.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("vae: %s: %w", what, err)
	}
	v, err := belm.Values(out[0])
	if err != nil {
		return nil, fmt.Errorf("vae: %s: %w", what, err)
	}
	return v, nil
}
