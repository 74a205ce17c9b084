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

type attnPlan struct {
	prefix   string // e.g. "down_blocks.1.attentions.0"
	channels int
	heads    int
	headDim  int
	groups   int // 0: no group_norm
	eps      float64
	rescale  float64 // rescale_output_factor
}

func (a attnPlan) inner() int { return a.heads * a.headDim }

type convPlan struct {
	prefix  string
	in, out int
	kernel  int
	stride  int
	padding [2][2]int // per spatial axis (H, W): {before, after}
}

type downPlan struct {
	resnets    []resnetPlan
	attns      []attnPlan // nil for DownBlock2D
	downsample *convPlan
}

type upPlan struct {
	resnets  []resnetPlan
	attns    []attnPlan
	upsample *convPlan
}

type midPlan struct {
	resnets []resnetPlan // len(attns)+1
	attns   []*attnPlan  // nil entries: add_attention false
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

// newPlan resolves the architecture. cfg must have passed the option checks of Validate.
func newPlan(cfg Config) (*plan, error) {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	groups := *cfg.NormNumGroups
	boc := cfg.BlockOutChannels
	n := len(boc)
	p := &plan{cfg: cfg, timeProjDim: boc[0], tembDim: cfg.TimeEmbedDim()}
	p.convIn = conv3("conv_in", cfg.InChannels, boc[0])
	scaleShift := cfg.ResnetTimeScaleShift == "scale_shift"

	checkGroups := func(what string, ch, g int) {
		if ch%g != 0 {
			bad("%s: %d channels are not divisible by %d groups", what, ch, g)
		}
	}
	resnet := func(prefix string, in, out int, outScale float64) resnetPlan {
		checkGroups(prefix+".norm1", in, groups)
		checkGroups(prefix+".norm2", out, groups)
		return resnetPlan{prefix: prefix, in: in, out: out, groups: groups, eps: cfg.NormEps, outScale: outScale,
			scaleShift: scaleShift, tembDim: p.tembDim, hasShortcut: in != out}
	}
	attn := func(prefix string, ch, attnGroups int, rescale float64) attnPlan {
		// UNet2DModel passes attention_head_dim, or the block's channels when it is null;
		// the block builds Attention(ch, heads=ch // head_dim, dim_head=head_dim).
		headDim := ch
		if cfg.AttentionHeadDim != nil {
			headDim = *cfg.AttentionHeadDim
		}
		heads := ch / headDim
		if heads == 0 {
			bad("%s: attention_head_dim %d is larger than the block's %d channels (0 heads)", prefix, headDim, ch)
			heads = 1
		}
		if attnGroups > 0 {
			checkGroups(prefix+".group_norm", ch, attnGroups)
		}
		return attnPlan{prefix: prefix, channels: ch, heads: heads, headDim: headDim, groups: attnGroups,
			eps: cfg.NormEps, rescale: rescale}
	}

	// Down blocks; skips tracks the channels of the residuals pushed for the up path.
	skips := []int{boc[0]}
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
			d.resnets = append(d.resnets, resnet(fmt.Sprintf("down_blocks.%d.resnets.%d", i, j), rin, out, 1))
			if blockType(bt) == "AttnDownBlock2D" {
				d.attns = append(d.attns, attn(fmt.Sprintf("down_blocks.%d.attentions.%d", i, j), out, groups, 1))
			}
			skips = append(skips, out)
		}
		if !final {
			pad := cfg.DownsamplePadding
			c := convPlan{prefix: fmt.Sprintf("down_blocks.%d.downsamplers.0.conv", i), in: out, out: out, kernel: 3, stride: 2,
				padding: [2][2]int{{pad, pad}, {pad, pad}}}
			if pad == 0 {
				// Downsample2D pads (0,1,0,1) (right and bottom) before a conv with no padding.
				c.padding = [2][2]int{{0, 1}, {0, 1}}
			}
			d.downsample = &c
			skips = append(skips, out)
			p.numDown++
		}
		p.downs = append(p.downs, d)
	}

	// Mid block: resnet, (attention, resnet)×1.
	midCh := boc[n-1]
	attnGroups := 0
	if cfg.AttnNormNumGroups != nil {
		attnGroups = *cfg.AttnNormNumGroups
	} else if !scaleShift {
		attnGroups = groups
	}
	s := cfg.MidBlockScaleFactor
	p.mid.resnets = append(p.mid.resnets, resnet("mid_block.resnets.0", midCh, midCh, s))
	if cfg.AddAttention {
		a := attn("mid_block.attentions.0", midCh, attnGroups, s)
		p.mid.attns = append(p.mid.attns, &a)
	} else {
		p.mid.attns = append(p.mid.attns, nil)
	}
	p.mid.resnets = append(p.mid.resnets, resnet("mid_block.resnets.1", midCh, midCh, s))

	// Up blocks.
	rev := make([]int, n)
	for i := range boc {
		rev[i] = boc[n-1-i]
	}
	out = rev[0]
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
			if len(skips) == 0 {
				bad("%s: no skip connection left (the down and up paths do not pair up)", prefix)
			} else {
				got := skips[len(skips)-1]
				skips = skips[:len(skips)-1]
				if got != resSkip {
					bad("%s: its skip connection has %d channels, the block expects %d", prefix, got, resSkip)
				}
			}
			u.resnets = append(u.resnets, resnet(prefix, rin+resSkip, out, 1))
			if blockType(bt) == "AttnUpBlock2D" {
				u.attns = append(u.attns, attn(fmt.Sprintf("up_blocks.%d.attentions.%d", i, j), out, groups, 1))
			}
		}
		if !final {
			c := conv3(fmt.Sprintf("up_blocks.%d.upsamplers.0.conv", i), out, out)
			u.upsample = &c
		}
		p.ups = append(p.ups, u)
	}
	if len(skips) != 0 {
		bad("%d skip connections of the down path are not consumed by the up path", len(skips))
	}
	p.normOut = groups
	checkGroups("conv_norm_out", boc[0], groups)
	p.convOut = conv3("conv_out", boc[0], cfg.OutChannels)
	if len(errs) > 0 {
		return nil, fmt.Errorf("unet: inconsistent UNet2DModel config: %s", strings.Join(errs, "; "))
	}
	return p, nil
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

// params lists the state dict of the plan, in diffusers' module order.
func (p *plan) params() []paramSpec {
	var ps []paramSpec
	add := func(name string, kind paramKind, shape ...int) {
		ps = append(ps, paramSpec{name: name, shape: shape, kind: kind})
	}
	conv := func(c convPlan) {
		add(c.prefix+".weight", kindWeight, c.out, c.in, c.kernel, c.kernel)
		add(c.prefix+".bias", kindBias, c.out)
	}
	linear := func(prefix string, in, out int) {
		add(prefix+".weight", kindWeight, out, in)
		add(prefix+".bias", kindBias, out)
	}
	norm := func(prefix string, ch int) {
		add(prefix+".weight", kindNormW, ch)
		add(prefix+".bias", kindNormB, ch)
	}
	resnet := func(r resnetPlan) {
		norm(r.prefix+".norm1", r.in)
		conv(conv3(r.prefix+".conv1", r.in, r.out))
		projOut := r.out
		if r.scaleShift {
			projOut = 2 * r.out
		}
		linear(r.prefix+".time_emb_proj", r.tembDim, projOut)
		norm(r.prefix+".norm2", r.out)
		conv(conv3(r.prefix+".conv2", r.out, r.out))
		if r.hasShortcut {
			conv(convPlan{prefix: r.prefix + ".conv_shortcut", in: r.in, out: r.out, kernel: 1, stride: 1})
		}
	}
	attn := func(a attnPlan) {
		if a.groups > 0 {
			norm(a.prefix+".group_norm", a.channels)
		}
		linear(a.prefix+".to_q", a.channels, a.inner())
		linear(a.prefix+".to_k", a.channels, a.inner())
		linear(a.prefix+".to_v", a.channels, a.inner())
		linear(a.prefix+".to_out.0", a.inner(), a.channels)
	}

	conv(p.convIn)
	linear("time_embedding.linear_1", p.timeProjDim, p.tembDim)
	linear("time_embedding.linear_2", p.tembDim, p.tembDim)
	for _, d := range p.downs {
		for j, r := range d.resnets {
			resnet(r)
			if d.attns != nil {
				attn(d.attns[j])
			}
		}
		if d.downsample != nil {
			conv(*d.downsample)
		}
	}
	resnet(p.mid.resnets[0])
	for j, a := range p.mid.attns {
		if a != nil {
			attn(*a)
		}
		resnet(p.mid.resnets[j+1])
	}
	for _, u := range p.ups {
		for j, r := range u.resnets {
			resnet(r)
			if u.attns != nil {
				attn(u.attns[j])
			}
		}
		if u.upsample != nil {
			conv(*u.upsample)
		}
	}
	norm("conv_norm_out", p.cfg.BlockOutChannels[0])
	conv(p.convOut)
	return ps
}
