package pipeline

import (
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/gomlx/compute"

	"github.com/belmlab/workbench/belm/nn"
	"github.com/belmlab/workbench/belm/unet"
)

// EstimateBytes estimates the peak host memory, in bytes, of one ε evaluation of the
// network on a batch of batch latents in the pipeline's dtype: an honest, somewhat generous
// upper estimate, for refusing batch sizes that cannot fit before any work starts. It is
// affine in batch:
//
//	EstimateBytes(batch) = slack · heap · (weights + batch · d · perImage)
//
// weights is the parameters' bytes in the stored dtype, plus a copy in the computation
// dtype when the two differ (the graph converts them), for a Parameterized network (0
// otherwise); d is the computation dtype's size (4 or 8 bytes); slack = 1.75
// (allocatorSlack) and heap = 1 + GOGC/100 for the pure-Go backend, 2 for the others
// (heapFactor). perImage counts the values of one image alive at the worst moment of the
// forward pass: for a network without a UNet config (Configured), 16 latents (the state,
// the ε cache and the host copies of a pass: the bound of the analytic studies); for a
// UNet (PerImageValues), walking the network as diffusers runs it (S the latents' side,
// s = S/2^ℓ the side at level ℓ, C and C' the in and out channels):
//
//	perImage = (C + C')·S² + 4·time_embed_dim + max over the operations (skips + work)
//
// where skips is the values of the skip connections held for the up path at that moment
// (every resnet and downsample output of the down path, released one by one by the up
// path), and work is what an operation has alive:
//
//	a 3×3 convolution cin → cout, side si → so:  cin·si² + 18·cin·so² + cout·so²
//	                                             (input; the 9 taps and the im2col patches
//	                                              they are concatenated into; output)
//	a resnet block in → out at side s:           s²·max(19·in + out, in + 20·out)
//	                                             (its input, conv1's taps, patches and
//	                                              output; then conv2's)
//	an attention block, c channels, h heads:     6·c·N + 2·h·N², N = s²
//	                                             (input, norm, q, k, v, output; the
//	                                              scores and the probabilities)
//	a transformer of a UNet2DConditionModel:     the same + 12·c·N (its GEGLU feed-forward;
//	                                             h = attention_head_dim, diffusers' heads)
//	an up-path resnet:                           rin·s² + the resnet block's work, with in =
//	                                             rin + the skip's channels (the concatenation)
//	an upsample by 2 from side s:                c·s² + the 3×3 convolution at side 2s
//
// The 18·cin patches are the pure-Go backend's im2col, the dominant term (at the full
// resolution of google/ddpm-cifar10-32, 18·(256+128)·32² values an image); the attention
// maps 2·h·N² take over at high resolutions with attention. Examples (float32, go backend,
// GOGC unset): google/ddpm-cifar10-32 8.27 M values = 33 MB live an image, EstimateBytes
// 0.50 GB + 116 MB an image (measured peak RSS of a whole test process at batch 8: 1.21 GB,
// estimate 1.43 GB); the tiny test fixture 32,768 values = 131 kB live an image.
func (p *Pipeline) EstimateBytes(batch int) int64 {
	d := int64(p.DType().Size())
	var weights int64
	if pm, ok := p.Net.(Parameterized); ok {
		weights = int64(pm.NumParameters()) * int64(pm.DType().Size())
		if pm.DType() != p.DType() {
			weights += int64(pm.NumParameters()) * d
		}
	}
	per := float64(genericLatents * p.Size(1))
	if cm, ok := p.Net.(Configured); ok {
		cfg := cm.Config()
		if ls := p.LatentShape(); len(ls) == 3 && ls[1] > 0 { // the latents' side, not the config's sample_size
			cfg.SampleSize = &ls[1]
		}
		per = perImage(cfg)
	}
	live := float64(weights) + float64(max(batch, 0))*float64(d)*per
	est := live * allocatorSlack * heapFactor(p.Runner.Backend())
	if est >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(est)
}

// genericLatents is perImage, in latents, of a network without a UNet config.
const genericLatents = 16

// allocatorSlack covers what the allocator holds beyond the live values: the pure-Go
// backend rounds every buffer up to 2^k or 1.5·2^k bytes (up to 1.5×) and keeps released
// buffers in pools until the next garbage collections. Measured on the tiny fixture (batch
// 256–2048, peak RSS growth): 1.3–1.6× the live values times the Go heap factor.
const allocatorSlack = 1.75

// heapFactor is how far the heap may grow beyond the live values before memory is reused:
// for the pure-Go backend, whose buffers are Go memory, the garbage collector's heap goal
// 1 + GOGC/100 (2 by default and for GOGC=off); for other backends (ONNX Runtime's and
// XLA's arenas grow by doubling) 2.
func heapFactor(be compute.Backend) float64 {
	if !nn.PureGo(be) {
		return 2
	}
	v, err := strconv.Atoi(os.Getenv("GOGC"))
	if err != nil || v < 0 {
		return 2
	}
	return 1 + float64(v)/100
}

// PerImageValues is perImage of EstimateBytes: the number of values of one image alive at
// the peak of a UNet forward pass of cfg (0 for a config without a sample size).
func PerImageValues(cfg unet.Config) int64 {
	v := perImage(cfg)
	if v >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// perImage computes PerImageValues in float64, which cannot overflow for any config.
func perImage(cfg unet.Config) float64 {
	if cfg.SampleSize == nil || *cfg.SampleSize <= 0 || len(cfg.BlockOutChannels) == 0 {
		return 0
	}
	w := memWalk{cfg: cfg, S: float64(*cfg.SampleSize)}
	boc, n, S := cfg.BlockOutChannels, len(cfg.BlockOutChannels), w.S
	w.op(w.conv(cfg.InChannels, boc[0], S, S)) // conv_in
	w.push(boc[0], S)
	w.down()
	s := w.side(n - 1) // the mid block
	w.op(w.resnet(boc[n-1], boc[n-1], s))
	if cfg.AddAttention || cfg.Cond != nil && cfg.Cond.MidBlockType != nil && *cfg.Cond.MidBlockType == "UNetMidBlock2DCrossAttn" {
		w.op(w.attention(boc[n-1], n-1, s))
	}
	w.op(w.resnet(boc[n-1], boc[n-1], s))
	w.up()
	w.op(3*float64(boc[0])*S*S + w.conv(boc[0], cfg.OutChannels, S, S)) // conv_norm_out, SiLU, conv_out
	temb := float64(4 * boc[0])
	if cfg.TimeEmbeddingDim != nil {
		temb = float64(*cfg.TimeEmbeddingDim)
	}
	return float64(cfg.InChannels+cfg.OutChannels)*S*S + 4*temb + w.worst
}

// memWalk walks a UNet2DModel forward pass for perImage: held counts the values of the
// skip connections held for the up path, worst the largest held + work seen.
type memWalk struct {
	cfg         unet.Config
	S           float64
	held, worst float64
	skips       []skip
}

type skip struct {
	c int
	s float64
}

func (w *memWalk) op(work float64) { w.worst = max(w.worst, w.held+work) }

func (w *memWalk) push(c int, s float64) {
	w.skips = append(w.skips, skip{c, s})
	w.held += float64(c) * s * s
}

// peek is the newest skip; with none left (a config with more up than down resnets) the
// block's own width.
func (w *memWalk) peek(c int, s float64) skip {
	if len(w.skips) == 0 {
		return skip{c, s}
	}
	return w.skips[len(w.skips)-1]
}

// pop releases the newest skip, if any.
func (w *memWalk) pop() {
	if len(w.skips) > 0 {
		sk := w.skips[len(w.skips)-1]
		w.skips = w.skips[:len(w.skips)-1]
		w.held -= float64(sk.c) * sk.s * sk.s
	}
}

func (w *memWalk) side(level int) float64 { return max(1, math.Floor(w.S/math.Exp2(float64(level)))) }

func (w *memWalk) conv(cin, cout int, si, so float64) float64 {
	return float64(cin)*si*si + 18*float64(cin)*so*so + float64(cout)*so*so
}

func (w *memWalk) resnet(in, out int, s float64) float64 {
	return s * s * max(19*float64(in)+float64(out), float64(in)+20*float64(out))
}

// attention is the work of block level's attention: an attention block of UNet2DModel, or
// a UNet2DConditionModel's transformer (heads from attention_head_dim, diffusers' number of
// heads there), whose GEGLU feed-forward holds 12·c·N more (its 8c projection and the 4c
// gated half).
func (w *memWalk) attention(c, level int, s float64) float64 {
	N := s * s
	if cc := w.cfg.Cond; cc != nil {
		heads := 1.0
		if len(cc.AttentionHeadDim) > 0 {
			heads = float64(max(1, cc.AttentionHeadDim.At(min(level, len(w.cfg.BlockOutChannels)-1))))
		}
		return 6*float64(c)*N + 2*heads*N*N + 12*float64(c)*N
	}
	headDim := c
	if w.cfg.AttentionHeadDim != nil && *w.cfg.AttentionHeadDim > 0 {
		headDim = *w.cfg.AttentionHeadDim
	}
	heads := float64(max(1, c/headDim))
	return 6*float64(c)*N + 2*heads*N*N
}

// down walks the down path: each block's resnets (and attentions), then its downsample.
func (w *memWalk) down() {
	boc, n := w.cfg.BlockOutChannels, len(w.cfg.BlockOutChannels)
	out := boc[0]
	for i, bt := range w.cfg.DownBlockTypes[:min(n, len(w.cfg.DownBlockTypes))] {
		in := out
		out = boc[i]
		s := w.side(i)
		for j := range w.cfg.LayersPerBlock {
			rin := out
			if j == 0 {
				rin = in
			}
			w.op(w.resnet(rin, out, s))
			if strings.HasSuffix(bt, "AttnDownBlock2D") { // and CrossAttnDownBlock2D
				w.op(w.attention(out, i, s))
			}
			w.push(out, s)
		}
		if i < n-1 {
			w.op(w.conv(out, out, s, w.side(i+1)))
			w.push(out, w.side(i+1))
		}
	}
}

// up walks the up path: each resnet takes the concatenation of h and the newest skip.
func (w *memWalk) up() {
	boc, n := w.cfg.BlockOutChannels, len(w.cfg.BlockOutChannels)
	out := boc[n-1]
	for i, bt := range w.cfg.UpBlockTypes[:min(n, len(w.cfg.UpBlockTypes))] {
		level := n - 1 - i
		prev := out
		out = boc[level]
		s := w.side(level)
		for j := range w.cfg.LayersPerBlock + 1 {
			rin := out
			if j == 0 {
				rin = prev
			}
			sk := w.peek(out, s) // held while this resnet runs
			w.op(float64(rin)*s*s + w.resnet(rin+sk.c, out, s))
			w.pop()
			if strings.HasSuffix(bt, "AttnUpBlock2D") { // and CrossAttnUpBlock2D
				w.op(w.attention(out, level, s))
			}
		}
		if i < n-1 {
			w.op(float64(out)*s*s + w.conv(out, out, 2*s, 2*s))
		}
	}
}

// EstimateLatentBytes estimates the peak host memory of a latent pipeline's work on a batch
// of images, for refusing what cannot fit before any work: the UNet forward of unetBatch
// latents (EstimateBytes; twice the images with classifier-free guidance), plus the VAE's
// decode of images latents at the pipeline's image size with the VAE's weights and
// otherParams more (the text encoder's) held beside, as EstimateBytes counts:
//
//	slack · heap · (weights + images · d · max over the decoder's operations of its work)
//
// where a 3×3 convolution cin → cout at side s has (cin + cout)·s² values alive, plus its
// 18·cin·s² im2col patches on the pure-Go backend (ONNX Runtime's direct convolutions have
// none), and the mid block's single-head attention 6·c·N + 2·N², N = s². SD 1.5 at 512×512
// in float32: ~5.2 GB an image on go (the decoder's 256 → 128-channel resnet at 512²),
// which with the UNet does not fit 23 GiB (measured: killed at 20.5 GB), 0.7 GB on onnx.
func (p *Pipeline) EstimateLatentBytes(unetBatch, images int, vae *unet.AutoencoderKL, otherParams int) int64 {
	d := float64(p.DType().Size())
	patches := 0.0
	if nn.PureGo(p.Runner.Backend()) {
		patches = 18
	}
	per := vaeDecodeValues(vae.Config(), float64(p.SampleSize()), patches)
	live := float64(vae.NumParameters()+otherParams)*d + float64(max(images, 0))*d*per
	est := float64(p.EstimateBytes(unetBatch)) + live*allocatorSlack*heapFactor(p.Runner.Backend())
	if est >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(est)
}

// vaeDecodeValues is the values of one image alive at the worst operation of a VAE decode
// to side×side pixels (see EstimateLatentBytes).
func vaeDecodeValues(cfg unet.VAEConfig, side, patches float64) float64 {
	boc := cfg.BlockOutChannels
	n := len(boc)
	if n == 0 {
		return 0
	}
	conv := func(cin, cout int, s float64) float64 { return (float64(cin+cout) + patches*float64(cin)) * s * s }
	resnet := func(in, out int, s float64) float64 { // its input held while conv1 and conv2 run
		return float64(in)*s*s + max(conv(in, out, s), conv(out, out, s))
	}
	s := side / math.Exp2(float64(n-1))
	top := boc[n-1]
	worst := max(conv(cfg.LatentChannels, top, s), resnet(top, top, s))
	if cfg.MidBlockAddAttention {
		N := s * s
		worst = max(worst, 6*float64(top)*N+2*N*N)
	}
	in := top
	for i := n - 1; i >= 0; i-- {
		for range cfg.LayersPerBlock + 1 {
			worst, in = max(worst, resnet(in, boc[i], s)), boc[i]
		}
		if i > 0 {
			s *= 2
			worst = max(worst, float64(in)*s*s/4+conv(in, in, s)) // nearest ×2, then a conv
		}
	}
	return max(worst, conv(boc[0], cfg.OutChannels, side))
}
