package unet

import (
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/belmlab/workbench/belm/nn"
)

// Convolutions are belm/nn's (nn.Conv2D and nn.Conv2DInference): patches + matmul on the
// pure-Go backend, the backend's Convolve elsewhere; nn.SetConvAlgorithm overrides the
// choice, process-wide. See nn's package documentation and BENCHMARKS.md.

// conv applies a PyTorch Conv2d (weight [out, in, kh, kw], bias [out]) to x [B, C, H, W]:
// nn.Conv2D when the UNet is built for training on any backend (WithDifferentiableStrides),
// nn.Conv2DInference otherwise.
func (b *builder) conv(c convPlan, x *Node) *Node {
	conv := nn.Conv2DInference
	if b.ps.opts.differentiableStrides {
		conv = nn.Conv2D
	}
	w, bias := b.w(c.prefix+".weight"), b.w(c.prefix+".bias")
	return Add(conv(x, w, c.stride, c.padding), nn.ChannelVector(bias, 4))
}
