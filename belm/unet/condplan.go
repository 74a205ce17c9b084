package unet

import "fmt"

// The plan of a UNet2DConditionModel: UNet2DModel's, with Transformer2DModel layers in
// the CrossAttn blocks.

// transformerPlan is a Transformer2DModel with continuous input, as the CrossAttn blocks
// build it: GroupNorm (eps 1e-6) → proj_in (1×1 conv, or Linear with
// use_linear_projection) → BasicTransformerBlocks → proj_out → + input.
type transformerPlan struct {
	prefix     string // e.g. "down_blocks.0.attentions.1"
	channels   int    // in_channels
	inner      int    // heads · (channels / heads)
	groups     int
	linearProj bool
	blocks     []basicBlockPlan
}

// basicBlockPlan is a BasicTransformerBlock (norm_type "layer_norm"): LayerNorm (eps
// 1e-5) → attn1 → +; LayerNorm → attn2 (cross-attention) → +; LayerNorm → GEGLU
// feed-forward → +.
type basicBlockPlan struct {
	prefix       string // e.g. "down_blocks.0.attentions.1.transformer_blocks.0"
	dim          int
	attn1, attn2 attnPlan
	ffInner      int // 4·dim
}

const (
	transformerNormEps = 1e-6 // Transformer2DModel's GroupNorm
	layerNormEps       = 1e-5 // BasicTransformerBlock's LayerNorms
)

// convK is a stride-1 k×k convolution with "same" padding (k−1)/2, k odd.
func convK(prefix string, in, out, k int) convPlan {
	p := (k - 1) / 2
	return convPlan{prefix: prefix, in: in, out: out, kernel: k, stride: 1, padding: [2][2]int{{p, p}, {p, p}}}
}

// transformer plans the Transformer2DModel of a CrossAttn block on ch channels, with the
// per-block options of block i (for the up path, diffusers' reversed lists: i counts
// from the down path's first block).
func (b *planBuilder) transformer(prefix string, ch, i int, mid bool) transformerPlan {
	d := b.cfg.Cond
	heads := d.AttentionHeadDim.At(i)
	onlyCross := d.OnlyCrossAttention.At(i)
	if mid {
		// get_mid_block does not pass only_cross_attention to UNetMidBlock2DCrossAttn.
		onlyCross = false
	}
	headDim := ch / heads
	if headDim == 0 {
		b.bad("%s: %d heads (attention_head_dim) for %d channels leave a head dimension of 0", prefix, heads, ch)
		headDim = 1
	}
	b.checkGroups(prefix+".norm", ch, b.groups)
	inner := heads * headDim
	t := transformerPlan{prefix: prefix, channels: ch, inner: inner, groups: b.groups, linearProj: d.UseLinearProjection}
	ctx := d.CrossAttentionDim.At(i)
	for k := range d.TransformerLayersPerBlock.At(i) {
		bp := fmt.Sprintf("%s.transformer_blocks.%d", prefix, k)
		attn := func(name string, contextDim int) attnPlan {
			return attnPlan{prefix: bp + "." + name, channels: inner, contextDim: contextDim, heads: heads, headDim: headDim,
				rescale: 1, upcastAttention: d.UpcastAttention}
		}
		self := 0
		if onlyCross {
			self = ctx
		}
		t.blocks = append(t.blocks, basicBlockPlan{prefix: bp, dim: inner, attn1: attn("attn1", self),
			attn2: attn("attn2", ctx), ffInner: 4 * inner})
	}
	return t
}

// condMidBlock resolves a UNet2DConditionModel's mid block: UNetMidBlock2DCrossAttn
// (resnet, transformer, resnet), UNetMidBlock2D (built with num_layers=0: one resnet) or
// none (mid_block_type null).
func (b *planBuilder) condMidBlock(midCh int) {
	mt := b.cfg.Cond.MidBlockType
	if mt == nil {
		return
	}
	s := b.cfg.MidBlockScaleFactor
	mid := &b.p.mid
	mid.resnets = append(mid.resnets, b.resnet("mid_block.resnets.0", midCh, midCh, s))
	if *mt == "UNetMidBlock2DCrossAttn" {
		n := len(b.cfg.BlockOutChannels)
		t := b.transformer("mid_block.attentions.0", midCh, n-1, true)
		mid.xfs = append(mid.xfs, &t)
		mid.resnets = append(mid.resnets, b.resnet("mid_block.resnets.1", midCh, midCh, s))
	}
}

// checkCondBlocks is checkBlocks for a UNet2DConditionModel: the lists' lengths, and the
// block types of SD 1.x/2.x.
func (c Config) checkCondBlocks(bad func(format string, args ...any)) {
	c.checkBlockLists(bad)
	for i, t := range c.DownBlockTypes {
		if !isCondBlock("down", blockType(t)) {
			bad("down_block_types[%d] %q is not supported (only CrossAttnDownBlock2D and DownBlock2D)", i, t)
		}
	}
	for i, t := range c.UpBlockTypes {
		if !isCondBlock("up", blockType(t)) {
			bad("up_block_types[%d] %q is not supported (only CrossAttnUpBlock2D and UpBlock2D)", i, t)
		}
	}
}

// transformer lists a Transformer2DModel's tensors in module order.
func (l *specList) transformer(t transformerPlan) {
	l.norm(t.prefix+".norm", t.channels)
	proj := func(name string, in, out int) {
		if t.linearProj {
			l.linear(t.prefix+"."+name, in, out)
		} else {
			l.conv(convPlan{prefix: t.prefix + "." + name, in: in, out: out, kernel: 1, stride: 1})
		}
	}
	proj("proj_in", t.channels, t.inner)
	for _, bb := range t.blocks {
		l.norm(bb.prefix+".norm1", bb.dim)
		l.attn(bb.attn1)
		l.norm(bb.prefix+".norm2", bb.dim)
		l.attn(bb.attn2)
		l.norm(bb.prefix+".norm3", bb.dim)
		l.linear(bb.prefix+".ff.net.0.proj", bb.dim, 2*bb.ffInner)
		l.linear(bb.prefix+".ff.net.2", bb.ffInner, bb.dim)
	}
	proj("proj_out", t.inner, t.channels)
}
