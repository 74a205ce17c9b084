// Package nn holds the layers and the optimiser that more than one model of the workbench
// builds into its GoMLX graphs: the diffusers UNet (belm/unet), its training (belm/train)
// and the Fashion-MNIST classifier (belm/quality). Each is a plain function of graph nodes,
// in PyTorch's layouts (NCHW activations, OIHW convolution kernels, Linear weights
// [out, in]), so that weights stored by PyTorch are used as stored:
//
//	Conv2D            y[b, o, p, q] = Σ_{c,i,j} w[o, c, i, j] · xpad[b, c, s·p+i, s·q+j]   (stride s, no bias)
//	Linear            y = x·Wᵀ + b                                                  (torch.nn.Linear)
//	ChannelVector     a [C] vector reshaped to [1, C, 1, …] to broadcast over NCHW
//	LayerNorm, GELU   torch.nn.LayerNorm over the last axis; exact-erf GELU (the transformers'/SD's)
//	AdamW.Step        clip_grad_norm_, then PyTorch's AdamW (formulas on AdamW)
//
// How a convolution is expressed (the backend's Convolve, or patches + one matmul on the
// pure-Go backend) is chosen per graph (ConvAlgorithm); the values are the same up to the
// order of the sums (conv_test.go states the tolerances).
package nn

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph"
)

// Linear applies a PyTorch Linear (weight w [out, in], bias b [out]) to x [B, …, in]:
// y = x·wᵀ + b over the last axis.
func Linear(x, w, b *Node) *Node {
	y := DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{1}, nil)
	return Add(y, ExpandLeftToRank(b, y.Rank()))
}

// ChannelVector reshapes a [C] vector to [1, C, 1, …] (rank dimensions), to broadcast over
// activations [B, C, …]: a convolution's bias, a GroupNorm's scale and shift.
func ChannelVector(v *Node, rank int) *Node {
	dims := make([]int, rank)
	for i := range dims {
		dims[i] = 1
	}
	dims[1] = v.Shape().Dimensions[0]
	return Reshape(v, dims...)
}

// LayerNorm is torch.nn.LayerNorm (affine) over the last axis of x: (x − mean)/√(var + eps)
// (biased variance), times weight plus bias, both [last axis].
func LayerNorm(x, weight, bias *Node, eps float64) *Node {
	mean := ReduceAndKeep(x, ReduceMean, -1)
	d := Sub(x, mean)
	variance := ReduceAndKeep(Square(d), ReduceMean, -1)
	y := Div(d, Sqrt(AddScalar(variance, eps)))
	return Add(Mul(y, ExpandLeftToRank(weight, y.Rank())), ExpandLeftToRank(bias, y.Rank()))
}

// GELU is the exact GELU, x·Φ(x) = x·(1 + erf(x/√2))/2 (PyTorch's F.gelu default).
func GELU(x *Node) *Node {
	return Mul(MulScalar(x, 0.5), OnePlus(Erf(MulScalar(x, 1/math.Sqrt2))))
}
