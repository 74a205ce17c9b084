package unet

import (
	"fmt"
	"strings"
)

// The plan is the architecture of a UNet2DModel resolved from its Config, as diffusers'
// constructors resolve it: channels, group counts, head counts, which blocks sample.
// Both the parameter list (names and shapes of the state dict) and the graph are
// derived from it, so they cannot disagree.

type resnetPlan struct {
	prefix      string // e.g. "down_blocks.0.resnets.1"
	in, out     int
	groups      int
	eps         float64
	outScale    float64 // output_scale_factor
	scaleShift  bool    // resnet_time_scale_shift == "scale_shift"
	tembDim     int
	hasShortcut bool // 1×1 conv_shortcut when in != out
}

// attnPlan is a diffusers Attention: UNet2DModel's attention blocks (group norm,
// residual) and the self- and cross-attention of a BasicTransformerBlock.
type attnPlan struct {
	prefix     string // e.g. "down_blocks.1.attentions.0"
	channels   int    // query_dim
	contextDim int    // cross_attention_dim of to_k/to_v; 0: self-attention (channels)
	heads      int
	headDim    int
	groups     int // 0: no group_norm
	eps        float64
	rescale    float64 // rescale_output_factor
	qkvBias    bool    // to_q/to_k/to_v have biases (UNet2DModel's blocks; not a transformer's)
	// upcastSoftmax: diffusers' upcast_softmax (UNet2DModel's blocks), the softmax's .float()
	// (see WithFloat32Softmax). upcastAttention: upcast_attention (SD2.1's transformers), q and
	// k's .float() before the scores.
	upcastSoftmax, upcastAttention bool
}

// kvDim is the width of the keys' and values' input.
func (a attnPlan) kvDim() int {
	if a.contextDim > 0 {
		return a.contextDim
	}
	return a.channels
}

func (a attnPlan) inner() int { return a.heads * a.headDim }

type convPlan struct {
	prefix  string
	in, out int
	kernel  int
	stride  int
	padding [2][2]int // per spatial axis (H, W): {before, after}
}

// Blocks have attention layers of one kind: attns (AttnDownBlock2D, …) or xfs
// (Transformer2DModel: CrossAttnDownBlock2D, …), or none.

type downPlan struct {
	resnets    []resnetPlan
	attns      []attnPlan        // nil for DownBlock2D
	xfs        []transformerPlan // CrossAttnDownBlock2D
	downsample *convPlan
}

type upPlan struct {
	resnets  []resnetPlan
	attns    []attnPlan
	xfs      []transformerPlan
	upsample *convPlan
}

// midPlan: resnets[0], then (attention, resnet) pairs. No resnets: no mid block
// (UNet2DConditionModel's mid_block_type null).
type midPlan struct {
	resnets []resnetPlan       // len(attns)+1 or len(xfs)+1
	attns   []*attnPlan        // nil entries: add_attention false
	xfs     []*transformerPlan // UNetMidBlock2DCrossAttn
}

type plan struct {
	cfg         Config
	timeProjDim int
	tembDim     int
	convIn      convPlan
	downs       []downPlan
	mid         midPlan
	ups         []upPlan
	normOut     int // groups of conv_norm_out
	convOut     convPlan
	numDown     int // number of downsamplings: H and W must be divisible by 2^numDown
}

func conv3(prefix string, in, out int) convPlan {
	return convPlan{prefix: prefix, in: in, out: out, kernel: 3, stride: 1, padding: [2][2]int{{1, 1}, {1, 1}}}
}

// planBuilder resolves a plan block by block, collecting every inconsistency found on the
// way so that newPlan can name them all in one error.
type planBuilder struct {
	cfg        Config
	p          *plan
	groups     int  // norm_num_groups
	scaleShift bool // resnet_time_scale_shift == "scale_shift"
	// skips is a stack of the channels of the residuals the down path pushes for the up
	// path, which pops one per up resnet.
	skips []int
	errs  []string
}

func (b *planBuilder) bad(format string, args ...any) {
	b.errs = append(b.errs, fmt.Sprintf(format, args...))
}

func (b *planBuilder) checkGroups(what string, ch, g int) {
	if ch%g != 0 {
		b.bad("%s: %d channels are not divisible by %d groups", what, ch, g)
	}
}

// resnet plans a ResnetBlock2D, checking the group counts of its norm1 and norm2.
func (b *planBuilder) resnet(prefix string, in, out int, outScale float64) resnetPlan {
	b.checkGroups(prefix+".norm1", in, b.groups)
	b.checkGroups(prefix+".norm2", out, b.groups)
	return resnetPlan{prefix: prefix, in: in, out: out, groups: b.groups, eps: b.cfg.NormEps, outScale: outScale,
		scaleShift: b.scaleShift, tembDim: b.p.tembDim, hasShortcut: in != out}
}

// attn plans an Attention block over ch channels; attnGroups 0 means no group_norm.
func (b *planBuilder) attn(prefix string, ch, attnGroups int, rescale float64) attnPlan {
	// UNet2DModel passes attention_head_dim, or the block's channels when it is null;
	// the block builds Attention(ch, heads=ch // head_dim, dim_head=head_dim).
	headDim := ch
	if b.cfg.AttentionHeadDim != nil {
		headDim = *b.cfg.AttentionHeadDim
	}
	heads := ch / headDim
	if heads == 0 {
		b.bad("%s: attention_head_dim %d is larger than the block's %d channels (0 heads)", prefix, headDim, ch)
		heads = 1
	}
	if attnGroups > 0 {
		b.checkGroups(prefix+".group_norm", ch, attnGroups)
	}
	return attnPlan{prefix: prefix, channels: ch, heads: heads, headDim: headDim, groups: attnGroups,
		eps: b.cfg.NormEps, rescale: rescale, qkvBias: true, upcastSoftmax: true}
}

// newPlan resolves the architecture. cfg must have passed the option checks of Validate.
func newPlan(cfg Config) (*plan, error) {
	boc := cfg.BlockOutChannels
	b := &planBuilder{
		cfg:        cfg,
		p:          &plan{cfg: cfg, timeProjDim: boc[0], tembDim: cfg.TimeEmbedDim()},
		groups:     *cfg.NormNumGroups,
		scaleShift: cfg.ResnetTimeScaleShift == "scale_shift",
	}
	b.p.convIn = conv3("conv_in", cfg.InChannels, boc[0])
	b.p.convOut = conv3("conv_out", boc[0], cfg.OutChannels)
	if cfg.Cond != nil {
		b.p.convIn = convK("conv_in", cfg.InChannels, boc[0], cfg.Cond.ConvInKernel)
		b.p.convOut = convK("conv_out", boc[0], cfg.OutChannels, cfg.Cond.ConvOutKernel)
	}
	b.downBlocks()
	b.midBlock()
	b.upBlocks()
	b.p.normOut = b.groups
	b.checkGroups("conv_norm_out", boc[0], b.groups)
	if len(b.errs) > 0 {
		return nil, fmt.Errorf("unet: inconsistent %s config: %s", cfg.className(), strings.Join(b.errs, "; "))
	}
	return b.p, nil
}

// downBlocks resolves the down blocks, pushing on skips the channels of conv_in's output
// and of every resnet's and downsampler's output.
func (b *planBuilder) downBlocks() {
	cfg, boc := b.cfg, b.cfg.BlockOutChannels
	n := len(boc)
	b.skips = []int{boc[0]}
	out := boc[0]
	for i, bt := range cfg.DownBlockTypes {
		in := out
		out = boc[i]
		final := i == n-1
		var d downPlan
		for j := range cfg.LayersPerBlock {
			rin := out
			if j == 0 {
				rin = in
			}
			d.resnets = append(d.resnets, b.resnet(fmt.Sprintf("down_blocks.%d.resnets.%d", i, j), rin, out, 1))
			switch blockType(bt) {
			case "AttnDownBlock2D":
				d.attns = append(d.attns, b.attn(fmt.Sprintf("down_blocks.%d.attentions.%d", i, j), out, b.groups, 1))
			case "CrossAttnDownBlock2D":
				d.xfs = append(d.xfs, b.transformer(fmt.Sprintf("down_blocks.%d.attentions.%d", i, j), out, i, false))
			}
			b.skips = append(b.skips, out)
		}
		if !final {
			d.downsample = downsampler(fmt.Sprintf("down_blocks.%d.downsamplers.0.conv", i), out, cfg.DownsamplePadding)
			b.skips = append(b.skips, out)
			b.p.numDown++
		}
		b.p.downs = append(b.p.downs, d)
	}
}

// downsampler is Downsample2D's stride-2 3×3 conv.
func downsampler(prefix string, ch, pad int) *convPlan {
	c := convPlan{prefix: prefix, in: ch, out: ch, kernel: 3, stride: 2,
		padding: [2][2]int{{pad, pad}, {pad, pad}}}
	if pad == 0 {
		// Downsample2D pads (0,1,0,1) (right and bottom) before a conv with no padding.
		c.padding = [2][2]int{{0, 1}, {0, 1}}
	}
	return &c
}

// midBlock resolves the mid block: resnet, (attention, resnet)×1.
func (b *planBuilder) midBlock() {
	cfg := b.cfg
	midCh := cfg.BlockOutChannels[len(cfg.BlockOutChannels)-1]
	attnGroups := 0
	if cfg.AttnNormNumGroups != nil {
		attnGroups = *cfg.AttnNormNumGroups
	} else if !b.scaleShift {
		attnGroups = b.groups
	}
	s := cfg.MidBlockScaleFactor
	mid := &b.p.mid
	if cfg.Cond != nil {
		b.condMidBlock(midCh)
		return
	}
	mid.resnets = append(mid.resnets, b.resnet("mid_block.resnets.0", midCh, midCh, s))
	if cfg.AddAttention {
		a := b.attn("mid_block.attentions.0", midCh, attnGroups, s)
		mid.attns = append(mid.attns, &a)
	} else {
		mid.attns = append(mid.attns, nil)
	}
	mid.resnets = append(mid.resnets, b.resnet("mid_block.resnets.1", midCh, midCh, s))
}

// upBlocks resolves the up blocks, whose resnets take the concatenation of the previous
// output and a skip connection popped from skips; every skip must be consumed.
func (b *planBuilder) upBlocks() {
	cfg, boc := b.cfg, b.cfg.BlockOutChannels
	n := len(boc)
	rev := make([]int, n)
	for i := range boc {
		rev[i] = boc[n-1-i]
	}
	out := rev[0]
	numLayers := cfg.LayersPerBlock + 1
	for i, bt := range cfg.UpBlockTypes {
		prev := out
		out = rev[i]
		in := rev[min(i+1, n-1)]
		final := i == n-1
		var u upPlan
		for j := range numLayers {
			resSkip := out
			if j == numLayers-1 {
				resSkip = in
			}
			rin := out
			if j == 0 {
				rin = prev
			}
			prefix := fmt.Sprintf("up_blocks.%d.resnets.%d", i, j)
			b.popSkip(prefix, resSkip)
			u.resnets = append(u.resnets, b.resnet(prefix, rin+resSkip, out, 1))
			switch blockType(bt) {
			case "AttnUpBlock2D":
				u.attns = append(u.attns, b.attn(fmt.Sprintf("up_blocks.%d.attentions.%d", i, j), out, b.groups, 1))
			case "CrossAttnUpBlock2D": // diffusers reverses the per-block options for the up path
				u.xfs = append(u.xfs, b.transformer(fmt.Sprintf("up_blocks.%d.attentions.%d", i, j), out, n-1-i, false))
			}
		}
		if !final {
			c := conv3(fmt.Sprintf("up_blocks.%d.upsamplers.0.conv", i), out, out)
			u.upsample = &c
		}
		b.p.ups = append(b.p.ups, u)
	}
	if len(b.skips) != 0 {
		b.bad("%d skip connections of the down path are not consumed by the up path", len(b.skips))
	}
}

// popSkip pops the skip connection of the up resnet prefix, which expects want channels.
func (b *planBuilder) popSkip(prefix string, want int) {
	if len(b.skips) == 0 {
		b.bad("%s: no skip connection left (the down and up paths do not pair up)", prefix)
		return
	}
	got := b.skips[len(b.skips)-1]
	b.skips = b.skips[:len(b.skips)-1]
	if got != want {
		b.bad("%s: its skip connection has %d channels, the block expects %d", prefix, got, want)
	}
}

// paramSpec is one tensor of the state dict.
type paramSpec struct {
	name  string
	shape []int
	kind  paramKind
}

type paramKind int

const (
	kindWeight paramKind = iota // conv or linear weight: uniform ±1/√fan_in at random init
	kindBias                    // conv or linear bias: uniform ±1/√fan_in
	kindNormW                   // GroupNorm weight: 1
	kindNormB                   // GroupNorm bias: 0
)

// specList collects a state dict's names and shapes, one helper per module kind, in
// diffusers' module order.
type specList []paramSpec

func (l *specList) add(name string, kind paramKind, shape ...int) {
	*l = append(*l, paramSpec{name: name, shape: shape, kind: kind})
}

func (l *specList) conv(c convPlan) {
	l.add(c.prefix+".weight", kindWeight, c.out, c.in, c.kernel, c.kernel)
	l.add(c.prefix+".bias", kindBias, c.out)
}

func (l *specList) linear(prefix string, in, out int) {
	l.add(prefix+".weight", kindWeight, out, in)
	l.add(prefix+".bias", kindBias, out)
}

func (l *specList) linearNoBias(prefix string, in, out int) {
	l.add(prefix+".weight", kindWeight, out, in)
}

func (l *specList) norm(prefix string, ch int) {
	l.add(prefix+".weight", kindNormW, ch)
	l.add(prefix+".bias", kindNormB, ch)
}

// resnet lists a ResnetBlock2D's tensors (no time_emb_proj when tembDim is 0, as the
// VAE's blocks, built with temb_channels=None).
func (l *specList) resnet(r resnetPlan) {
	l.norm(r.prefix+".norm1", r.in)
	l.conv(conv3(r.prefix+".conv1", r.in, r.out))
	if r.tembDim > 0 {
		projOut := r.out
		if r.scaleShift {
			projOut = 2 * r.out
		}
		l.linear(r.prefix+".time_emb_proj", r.tembDim, projOut)
	}
	l.norm(r.prefix+".norm2", r.out)
	l.conv(conv3(r.prefix+".conv2", r.out, r.out))
	if r.hasShortcut {
		l.conv(convPlan{prefix: r.prefix + ".conv_shortcut", in: r.in, out: r.out, kernel: 1, stride: 1})
	}
}

func (l *specList) attn(a attnPlan) {
	if a.groups > 0 {
		l.norm(a.prefix+".group_norm", a.channels)
	}
	proj := l.linear
	if !a.qkvBias {
		proj = l.linearNoBias
	}
	proj(a.prefix+".to_q", a.channels, a.inner())
	proj(a.prefix+".to_k", a.kvDim(), a.inner())
	proj(a.prefix+".to_v", a.kvDim(), a.inner())
	l.linear(a.prefix+".to_out.0", a.inner(), a.channels)
}

// params lists the state dict of the plan, in diffusers' module order.
func (p *plan) params() []paramSpec {
	var l specList
	l.conv(p.convIn)
	l.linear("time_embedding.linear_1", p.timeProjDim, p.tembDim)
	l.linear("time_embedding.linear_2", p.tembDim, p.tembDim)
	for _, d := range p.downs {
		for j, r := range d.resnets {
			l.resnet(r)
			if d.attns != nil {
				l.attn(d.attns[j])
			}
			if d.xfs != nil {
				l.transformer(d.xfs[j])
			}
		}
		if d.downsample != nil {
			l.conv(*d.downsample)
		}
	}
	for j, r := range p.mid.resnets {
		if j > 0 && j-1 < len(p.mid.attns) && p.mid.attns[j-1] != nil {
			l.attn(*p.mid.attns[j-1])
		}
		if j > 0 && j-1 < len(p.mid.xfs) {
			l.transformer(*p.mid.xfs[j-1])
		}
		l.resnet(r)
	}
	for _, u := range p.ups {
		for j, r := range u.resnets {
			l.resnet(r)
			if u.attns != nil {
				l.attn(u.attns[j])
			}
			if u.xfs != nil {
				l.transformer(u.xfs[j])
			}
		}
		if u.upsample != nil {
			l.conv(*u.upsample)
		}
	}
	l.norm("conv_norm_out", p.cfg.BlockOutChannels[0])
	l.conv(p.convOut)
	return l
}
