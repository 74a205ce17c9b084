package unet

import "fmt"

// The VAE's plan is AutoencoderKL resolved from its VAEConfig as diffusers' Encoder and
// Decoder constructors resolve it, in the UNet's block plans (resnetPlan, attnPlan,
// convPlan, downPlan, midPlan, upPlan): both the state-dict list and the graph derive from
// it. VAEConfig.Validate has checked every group count, so resolving cannot fail.

// vaeNormEps is the eps of every GroupNorm of the VAE (Encoder and Decoder hard-code 1e-6).
const vaeNormEps = 1e-6

// coderPlan is an Encoder or a Decoder.
type coderPlan struct {
	prefix string // "encoder" or "decoder"
	convIn convPlan
	downs  []downPlan // encoder only
	mid    midPlan
	ups    []upPlan // decoder only
	// midFirst: the mid block comes right after conv_in (decoder), not after the
	// down blocks (encoder).
	midFirst bool
	normOut  int // channels of conv_norm_out
	groups   int // of conv_norm_out (norm_num_groups)
	convOut  convPlan
}

type vaePlan struct {
	cfg       VAEConfig
	enc, dec  coderPlan
	quant     *convPlan // quant_conv (1×1, 2·latent → 2·latent); nil without use_quant_conv
	postQuant *convPlan // post_quant_conv (1×1, latent → latent)
}

// vaeResnet is a ResnetBlock2D without time embedding (temb_channels=None), eps 1e-6.
func vaeResnet(prefix string, in, out, groups int) resnetPlan {
	return resnetPlan{prefix: prefix, in: in, out: out, groups: groups, eps: vaeNormEps, outScale: 1, hasShortcut: in != out}
}

// vaeMid is UNetMidBlock2D as the Encoder and Decoder build it: resnet, single-head
// attention (attention_head_dim = channels) with a group norm, resnet.
func vaeMid(prefix string, ch, groups int, addAttention bool) midPlan {
	var m midPlan
	m.resnets = append(m.resnets, vaeResnet(prefix+".resnets.0", ch, ch, groups))
	var a *attnPlan
	if addAttention {
		a = &attnPlan{prefix: prefix + ".attentions.0", channels: ch, heads: 1, headDim: ch, groups: groups, eps: vaeNormEps, rescale: 1,
			qkvBias: true, upcastSoftmax: true}
	}
	m.attns = append(m.attns, a)
	m.resnets = append(m.resnets, vaeResnet(prefix+".resnets.1", ch, ch, groups))
	return m
}

func conv1x1(prefix string, in, out int) *convPlan {
	return &convPlan{prefix: prefix, in: in, out: out, kernel: 1, stride: 1}
}

func newVAEPlan(cfg VAEConfig) *vaePlan {
	p := &vaePlan{cfg: cfg, enc: encoderPlan(cfg), dec: decoderPlan(cfg)}
	lc := cfg.LatentChannels
	if cfg.UseQuantConv {
		p.quant = conv1x1("quant_conv", 2*lc, 2*lc)
	}
	if cfg.UsePostQuantConv {
		p.postQuant = conv1x1("post_quant_conv", lc, lc)
	}
	return p
}

// encoderPlan is diffusers' Encoder (double_z): conv_in, DownEncoderBlock2D×n (resnets, and
// a downsampler padded (0,1,0,1) except in the last), mid block, norm, conv_out to
// 2·latent_channels (mean and log-variance).
func encoderPlan(cfg VAEConfig) coderPlan {
	boc, g := cfg.BlockOutChannels, cfg.NormNumGroups
	n := len(boc)
	e := coderPlan{prefix: "encoder", convIn: conv3("encoder.conv_in", cfg.InChannels, boc[0])}
	out := boc[0]
	for i := range boc {
		in := out
		out = boc[i]
		var d downPlan
		for j := range cfg.LayersPerBlock {
			rin := out
			if j == 0 {
				rin = in
			}
			d.resnets = append(d.resnets, vaeResnet(fmt.Sprintf("encoder.down_blocks.%d.resnets.%d", i, j), rin, out, g))
		}
		if i < n-1 {
			d.downsample = downsampler(fmt.Sprintf("encoder.down_blocks.%d.downsamplers.0.conv", i), out, 0)
		}
		e.downs = append(e.downs, d)
	}
	e.mid = vaeMid("encoder.mid_block", boc[n-1], g, cfg.MidBlockAddAttention)
	e.normOut, e.groups = boc[n-1], g
	e.convOut = conv3("encoder.conv_out", boc[n-1], 2*cfg.LatentChannels)
	return e
}

// decoderPlan is diffusers' Decoder: conv_in from latent_channels, mid block,
// UpDecoderBlock2D×n over the reversed channels (layers_per_block+1 resnets, and a
// nearest-2× upsampler with a conv except in the last), norm, conv_out.
func decoderPlan(cfg VAEConfig) coderPlan {
	boc, g := cfg.BlockOutChannels, cfg.NormNumGroups
	n := len(boc)
	d := coderPlan{prefix: "decoder", midFirst: true, convIn: conv3("decoder.conv_in", cfg.LatentChannels, boc[n-1])}
	d.mid = vaeMid("decoder.mid_block", boc[n-1], g, cfg.MidBlockAddAttention)
	out := boc[n-1]
	for i := range n {
		prev := out
		out = boc[n-1-i]
		var u upPlan
		for j := range cfg.LayersPerBlock + 1 {
			rin := out
			if j == 0 {
				rin = prev
			}
			u.resnets = append(u.resnets, vaeResnet(fmt.Sprintf("decoder.up_blocks.%d.resnets.%d", i, j), rin, out, g))
		}
		if i < n-1 {
			c := conv3(fmt.Sprintf("decoder.up_blocks.%d.upsamplers.0.conv", i), out, out)
			u.upsample = &c
		}
		d.ups = append(d.ups, u)
	}
	d.normOut, d.groups = boc[0], g
	d.convOut = conv3("decoder.conv_out", boc[0], cfg.OutChannels)
	return d
}

// params lists the VAE's state dict in AutoencoderKL's module order: encoder (conv_in,
// down_blocks, mid_block, conv_norm_out, conv_out), decoder (conv_in, up_blocks,
// mid_block, …), quant_conv, post_quant_conv. In a mid block the attention comes first,
// as UNetMidBlock2D registers its attentions before its resnets.
func (p *vaePlan) params() []paramSpec {
	var l specList
	for _, c := range []*coderPlan{&p.enc, &p.dec} {
		l.conv(c.convIn)
		for _, d := range c.downs {
			for _, r := range d.resnets {
				l.resnet(r)
			}
			if d.downsample != nil {
				l.conv(*d.downsample)
			}
		}
		for _, u := range c.ups {
			for _, r := range u.resnets {
				l.resnet(r)
			}
			if u.upsample != nil {
				l.conv(*u.upsample)
			}
		}
		for _, a := range c.mid.attns {
			if a != nil {
				l.attn(*a)
			}
		}
		for _, r := range c.mid.resnets {
			l.resnet(r)
		}
		l.norm(c.prefix+".conv_norm_out", c.normOut)
		l.conv(c.convOut)
	}
	if p.quant != nil {
		l.conv(*p.quant)
	}
	if p.postQuant != nil {
		l.conv(*p.postQuant)
	}
	return l
}
