package unet

import (
	"github.com/belmlab/workbench/belm/nn"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/support/exceptions"
)

// layerNorm is torch.nn.LayerNorm (affine) over the last axis of x.
func (b *builder) layerNorm(prefix string, eps float64, x *Node) *Node {
	return nn.LayerNorm(x, b.w(prefix+".weight"), b.w(prefix+".bias"), eps)
}

// feedForward is diffusers' FeedForward with GEGLU: ff.net.0.proj (dim → 2·inner) split
// into h and gate, h·gelu(gate), then ff.net.2 (inner → dim).
func (b *builder) feedForward(bb basicBlockPlan, x *Node) *Node {
	hg := b.linear(bb.prefix+".ff.net.0.proj", x)
	last := hg.Rank() - 1
	h := SliceAxis(hg, last, AxisRange(0, bb.ffInner))
	gate := SliceAxis(hg, last, AxisRange(bb.ffInner, 2*bb.ffInner))
	return b.linear(bb.prefix+".ff.net.2", Mul(h, nn.GELU(gate)))
}

// basicBlock is BasicTransformerBlock on h [B, N, dim] with the context ctx [B, M, C_ctx].
func (b *builder) basicBlock(bb basicBlockPlan, h, ctx *Node) *Node {
	var selfCtx *Node // only_cross_attention: attn1 attends to the context too
	if bb.attn1.contextDim > 0 {
		selfCtx = ctx
	}
	a := b.attend(bb.attn1, b.layerNorm(bb.prefix+".norm1", layerNormEps, h), selfCtx)
	b.debug(bb.attn1.prefix, a)
	h = Add(a, h)
	a = b.attend(bb.attn2, b.layerNorm(bb.prefix+".norm2", layerNormEps, h), ctx)
	b.debug(bb.attn2.prefix, a)
	h = Add(a, h)
	f := b.feedForward(bb, b.layerNorm(bb.prefix+".norm3", layerNormEps, h))
	b.debug(bb.prefix+".ff", f)
	return Add(f, h)
}

// transformer is Transformer2DModel (continuous input) on x [B, C, H, W] with the
// context b.ctx: the output of proj_out plus x.
func (b *builder) transformer(t transformerPlan, x *Node) *Node {
	if b.ctx == nil {
		exceptions.Panicf("unet: internal error: %s needs encoder_hidden_states", t.prefix)
	}
	dims := x.Shape().Dimensions
	batch, n := dims[0], dims[2]*dims[3]
	h := b.groupNorm(t.prefix+".norm", t.groups, transformerNormEps, x)
	toTokens := func(h *Node) *Node { // [B, C, H, W] → [B, H·W, C]
		return Transpose(Reshape(h, batch, h.Shape().Dimensions[1], n), 1, 2)
	}
	if t.linearProj {
		h = b.linear(t.prefix+".proj_in", toTokens(h))
	} else {
		h = toTokens(b.conv1x1(t.prefix+".proj_in", h))
	}
	for _, bb := range t.blocks {
		h = b.basicBlock(bb, h, b.ctx)
	}
	if t.linearProj {
		h = b.linear(t.prefix+".proj_out", h)
	}
	h = Reshape(Transpose(h, 1, 2), batch, h.Shape().Dimensions[2], dims[2], dims[3])
	if !t.linearProj {
		h = b.conv1x1(t.prefix+".proj_out", h)
	}
	out := Add(h, x)
	b.debug(t.prefix, out)
	return out
}

// conv1x1 is the 1×1 Conv2d proj_in/proj_out (weight [out, in, 1, 1]) on x [B, in, H, W].
func (b *builder) conv1x1(prefix string, x *Node) *Node {
	wd := b.ps.shapes[prefix+".weight"]
	return b.conv(convPlan{prefix: prefix, in: wd[1], out: wd[0], kernel: 1, stride: 1}, x)
}
