package unet

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	gnn "github.com/gomlx/gomlx/ml/nn"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/belmlab/workbench/belm/nn"
)

// The graph is built channels-first (NCHW) end to end, diffusers' own layout: weights are
// used as stored (convolution kernels [out, in, kh, kw]), the state needs no transposes,
// and ONNX Runtime's Conv is NCHW natively. On the pure-Go backend convolutions are not
// its Convolve op (a direct loop, ~0.6 GFLOP/s whatever the layout) but patches + one
// matmul, built per convolution by belm/nn (see there and BENCHMARKS.md).
//
// Only ops that the onnx backend implements are used: SiLU is x·Logistic(x) (ONNX Sigmoid),
// GroupNorm is GoMLX's fused LayerNorm over each group (ONNX LayerNormalization; decomposed
// where a backend lacks it, with the decomposed gradient) followed by the per-channel
// affine, nearest upsampling is a concatenation + broadcast. Off the pure-Go backend the weights
// of an inference graph are constants (WithInlineWeights).

// builder builds one forward graph.
type builder struct {
	u     *UNet   // the UNet being built (nil for the VAE)
	ps    *params // the weights of the model being built
	scope *model.Scope
	g     *Graph
	dtype dtypes.DType
	dbg   map[string]*Node // nil unless a test asks for intermediate activations
	ctx   *Node            // encoder_hidden_states [B, L, cross_attention_dim] (conditional UNet)
}

func (b *builder) debug(name string, n *Node) {
	if b.dbg != nil {
		b.dbg[name] = n
	}
}

// w returns the parameter with the given diffusers name as a node of the graph's dtype.
// Parameters are variables of b.scope (path: the scope's path + the name with "." → "/");
// a variable missing from the scope's store is created there from the loaded weights,
// so the UNet also works inside a store other than its own. Off the pure-Go backend, an
// inference graph takes the variable's current value as a constant (WithInlineWeights).
func (b *builder) w(name string) *Node {
	fullPath := model.JoinPath(b.scope.Scope(), strings.ReplaceAll(name, ".", "/"))
	store := b.scope.Store()
	v := store.GetVariable(fullPath)
	if v == nil {
		t, ok := b.ps.weights[name]
		if !ok {
			exceptions.Panicf("%s: internal error: no weight %q", b.ps.what, name)
		}
		var err error
		v, err = store.CreateVariable(fullPath, t)
		if err != nil {
			panic(fmt.Errorf("%s: creating variable for %q: %w", b.ps.what, name, err))
		}
	}
	if want := b.ps.shapes[name]; !slices.Equal(v.Shape().Dimensions, want) {
		exceptions.Panicf("%s: variable %q has shape %v, the model needs %v", b.ps.what, fullPath, v.Shape().Dimensions, want)
	}
	var n *Node
	if b.ps.inline(b.g.Backend()) {
		n = ConstTensor(b.g, v.MustValue())
	} else {
		n = v.NodeValue(b.g)
	}
	if n.DType() != b.dtype {
		n = ConvertDType(n, b.dtype)
	}
	return n
}

// silu is x·sigmoid(x).
func silu(x *Node) *Node {
	return Mul(x, Logistic(x))
}

// linear applies a PyTorch Linear (weight [out, in]) to x [B, …, in].
func (b *builder) linear(prefix string, x *Node) *Node {
	return nn.Linear(x, b.w(prefix+".weight"), b.w(prefix+".bias"))
}

// linearNoBias applies a PyTorch Linear with bias=False.
func (b *builder) linearNoBias(prefix string, x *Node) *Node {
	return DotGeneral(x, []int{x.Rank() - 1}, nil, b.w(prefix+".weight"), []int{1}, nil)
}

// groupNorm is torch.nn.GroupNorm (affine) on x [B, C, …].
func (b *builder) groupNorm(prefix string, groups int, eps float64, x *Node) *Node {
	dims := x.Shape().Dimensions
	batch, ch := dims[0], dims[1]
	rest := x.Shape().Size() / (batch * ch)
	xr := Reshape(x, batch, groups, (ch/groups)*rest)
	y := gnn.LayerNorm(xr, []int{2}, eps, nil, nil, nil)
	y = Reshape(y, dims...)
	return Add(Mul(y, nn.ChannelVector(b.w(prefix+".weight"), len(dims))), nn.ChannelVector(b.w(prefix+".bias"), len(dims)))
}

// resnet is ResnetBlock2D; tembAct is the time embedding after the nonlinearity, nil for
// a block without one (temb_channels=None; r.tembDim is then 0).
func (b *builder) resnet(r resnetPlan, x, tembAct *Node) *Node {
	h := silu(b.groupNorm(r.prefix+".norm1", r.groups, r.eps, x))
	h = b.conv(conv3(r.prefix+".conv1", r.in, r.out), h)
	if tembAct == nil { // temb_channels=None (the VAE's blocks)
		h = b.groupNorm(r.prefix+".norm2", r.groups, r.eps, h)
	} else if temb := b.linear(r.prefix+".time_emb_proj", tembAct); r.scaleShift { // [B, 2·out]
		scale := Slice(temb, AxisRange(), AxisRange(0, r.out))
		shift := Slice(temb, AxisRange(), AxisRange(r.out, 2*r.out))
		h = b.groupNorm(r.prefix+".norm2", r.groups, r.eps, h)
		h = Add(Mul(h, OnePlus(ExpandAxes(scale, 2, 3))), ExpandAxes(shift, 2, 3))
	} else { // [B, out]
		h = Add(h, ExpandAxes(temb, 2, 3))
		h = b.groupNorm(r.prefix+".norm2", r.groups, r.eps, h)
	}
	h = silu(h)
	h = b.conv(conv3(r.prefix+".conv2", r.out, r.out), h)
	shortcut := x
	if r.hasShortcut {
		shortcut = b.conv(convPlan{prefix: r.prefix + ".conv_shortcut", in: r.in, out: r.out, kernel: 1, stride: 1}, x)
	}
	out := Add(shortcut, h)
	if r.outScale != 1 {
		out = DivScalar(out, r.outScale)
	}
	return out
}

// attention is diffusers' Attention as built by the UNet2D blocks (_from_deprecated_attn_block:
// group norm, q/k/v projections, softmax(q·kᵀ/√d)·v per head, output projection, residual,
// division by rescale_output_factor), on x [B, C, H, W].
func (b *builder) attention(a attnPlan, x *Node) *Node {
	dims := x.Shape().Dimensions
	batch, ch, n := dims[0], dims[1], dims[2]*dims[3]
	h := Reshape(x, batch, ch, n)
	if a.groups > 0 {
		h = b.groupNorm(a.prefix+".group_norm", a.groups, a.eps, h)
	}
	h = Transpose(h, 1, 2)   // [B, N, C]
	o := b.attend(a, h, nil) // [B, N, C]
	o = Reshape(Transpose(o, 1, 2), dims...)
	out := Add(o, x)
	if a.rescale != 1 {
		out = DivScalar(out, a.rescale)
	}
	return out
}

// attend is the core of diffusers' Attention (AttnProcessor): q from h [B, N, C], k and v
// from ctx [B, M, C_ctx] (nil: h, self-attention), softmax(q·kᵀ/√d)·v per head, then
// to_out.0, [B, N, C]; no residual.
//
// In a float64 graph with WithFloat32Softmax (PyTorch 1.x's numerics), upcast_softmax
// takes the float32 softmax of torchSoftmax32, and upcast_attention (SD2.1) also rounds q
// and k to float32 and takes the scores in float32 (PyTorch's baddbmm differs in its
// summation order: ~1 ulp of float32). In float32 graphs both are no-ops.
func (b *builder) attend(a attnPlan, h, ctx *Node) *Node {
	if ctx == nil {
		ctx = h
	}
	batch, n, m := h.Shape().Dimensions[0], h.Shape().Dimensions[1], ctx.Shape().Dimensions[1]
	proj := b.linear
	if !a.qkvBias {
		proj = b.linearNoBias
	}
	q := Reshape(proj(a.prefix+".to_q", h), batch, n, a.heads, a.headDim)
	k := Reshape(proj(a.prefix+".to_k", ctx), batch, m, a.heads, a.headDim)
	v := Reshape(proj(a.prefix+".to_v", ctx), batch, m, a.heads, a.headDim)
	f32 := b.ps.opts.float32Softmax && b.dtype == dtypes.Float64
	if f32 && a.upcastAttention {
		q, k = ConvertDType(q, dtypes.Float32), ConvertDType(k, dtypes.Float32)
	}
	// scores[b, h, i, j] = scale · Σ_d q[b, i, h, d]·k[b, j, h, d]
	scores := DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2})
	scores = MulScalar(scores, 1/math.Sqrt(float64(a.headDim)))
	var probs *Node
	if f32 && (a.upcastSoftmax || a.upcastAttention) {
		probs = torchSoftmax32(ConvertDType(scores, b.dtype))
	} else {
		probs = Softmax(scores, -1)
	}
	// o[b, h, i, d] = Σ_j probs[b, h, i, j]·v[b, j, h, d]
	o := DotGeneral(probs, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2})
	o = Reshape(TransposeAllAxes(o, 0, 2, 1, 3), batch, n, a.inner())
	return b.linear(a.prefix+".to_out.0", o)
}

// upsampleNearest2x doubles H and W by repetition (F.interpolate(scale_factor=2, mode="nearest")):
// each value is doubled along a new last axis by a Concatenate, then each doubled row
// (2W contiguous values) repeated by a broadcast. Broadcasting the size-1 last axis
// directly made ONNX Runtime's Expand copy one float at a time (~1 GB/s: 4 % of the
// Fashion-MNIST forward, its profile).
func upsampleNearest2x(x *Node) *Node {
	d := x.Shape().Dimensions
	y := Reshape(x, d[0], d[1], d[2], 1, d[3], 1)
	y = Concatenate([]*Node{y, y}, 5)
	y = BroadcastToDims(y, d[0], d[1], d[2], 2, d[3], 2)
	return Reshape(y, d[0], d[1], 2*d[2], 2*d[3])
}

// timestepEmbedding is diffusers' get_timestep_embedding (Timesteps module) of t [B]:
// [sin(t·f), cos(t·f)] (or cos first with flip_sin_to_cos), f_k = exp(−ln(10⁴)·k/(half−shift)).
// With float32Sinusoid it is computed in float32 (as diffusers does, whatever the model's
// dtype) and then converted to the graph's dtype.
func (b *builder) timestepEmbedding(t *Node) *Node {
	cfg := b.u.cfg
	dim := b.u.plan.timeProjDim
	half := dim / 2
	sdt := b.dtype
	if b.u.opts.float32Sinusoid {
		sdt = dtypes.Float32
	}
	g := b.g
	t = ConvertDType(t, sdt)
	batch := t.Shape().Dimensions[0]
	var freqs *Node
	if sdt == dtypes.Float32 {
		freqs = Const(g, sinusoidFreqs32(half, cfg.FreqShift))
	} else {
		freqs = ConvertDType(Const(g, sinusoidFreqs64(half, cfg.FreqShift)), sdt)
	}
	args := Mul(ExpandAxes(t, 1), ExpandAxes(freqs, 0)) // [B, half]
	parts := b.sinCos(t, args)
	if cfg.FlipSinToCos {
		parts[0], parts[1] = parts[1], parts[0]
	}
	if dim%2 == 1 {
		parts = append(parts, Zeros(g, shapes.Make(sdt, batch, 1)))
	}
	emb := Concatenate(parts, 1)
	return ConvertDType(emb, b.dtype)
}

// forward is UNet2DModel.forward (UNet2DConditionModel.forward with the context b.ctx)
// on x [B, C, H, W] and timesteps t (scalar or [B]).
func (b *builder) forward(x, t *Node) *Node {
	p := b.u.plan
	cfg := b.u.cfg
	t = b.checkInputs(x, t)
	if cfg.CenterInputSample {
		x = AddScalar(MulScalar(x, 2), -1)
	}
	tproj := b.timestepEmbedding(t)
	b.debug("t_proj", tproj)
	emb := b.linear("time_embedding.linear_2", silu(b.linear("time_embedding.linear_1", tproj)))
	b.debug("t_emb", emb)
	embAct := silu(emb) // every resnet applies the nonlinearity to temb before its projection

	h := b.conv(p.convIn, x)
	b.debug("conv_in", h)
	h, skips := b.downPath(h, embAct)
	h = b.midPath(h, embAct)
	h = b.upPath(h, embAct, skips)
	h = silu(b.groupNorm("conv_norm_out", p.normOut, cfg.NormEps, h))
	return b.conv(p.convOut, h)
}

// checkInputs checks x's and t's shapes (and the context's, for a conditional model)
// and returns t as [B].
func (b *builder) checkInputs(x, t *Node) *Node {
	p := b.u.plan
	cfg := b.u.cfg
	if x.Rank() != 4 {
		exceptions.Panicf("unet: x must be [B, C, H, W], got shape %s", x.Shape())
	}
	dims := x.Shape().Dimensions
	batch := dims[0]
	if dims[1] != cfg.InChannels {
		exceptions.Panicf("unet: x has %d channels (shape %s), the model takes in_channels=%d", dims[1], x.Shape(), cfg.InChannels)
	}
	if f := 1 << p.numDown; dims[2]%f != 0 || dims[3]%f != 0 {
		exceptions.Panicf("unet: x's height and width (shape %s) must be multiples of %d (%d downsamplings)", x.Shape(), f, p.numDown)
	}
	if b.ctx != nil {
		b.ctx = b.u.checkContext(b.ctx, batch, b.dtype)
	}
	switch t.Rank() {
	case 0:
		t = BroadcastToDims(t, batch)
	case 1:
		if t.Shape().Dimensions[0] != batch {
			exceptions.Panicf("unet: timesteps have shape %s, want a scalar or [%d]", t.Shape(), batch)
		}
	default:
		exceptions.Panicf("unet: timesteps have shape %s, want a scalar or [%d]", t.Shape(), batch)
	}
	return t
}

// blockAttn applies the attention layer j of a block (attns or xfs; none when both are nil).
func (b *builder) blockAttn(attns []attnPlan, xfs []transformerPlan, j int, h *Node) *Node {
	if attns != nil {
		h = b.attention(attns[j], h)
	}
	if xfs != nil {
		h = b.transformer(xfs[j], h)
	}
	return h
}

// downPath runs the down blocks, returning their output and the skip connections.
func (b *builder) downPath(h, embAct *Node) (*Node, []*Node) {
	skips := []*Node{h}
	for i, d := range b.u.plan.downs {
		for j, r := range d.resnets {
			h = b.resnet(r, h, embAct)
			b.debug(r.prefix, h)
			h = b.blockAttn(d.attns, d.xfs, j, h)
			skips = append(skips, h)
		}
		if d.downsample != nil {
			h = b.conv(*d.downsample, h)
			skips = append(skips, h)
		}
		b.debug(fmt.Sprintf("down_blocks.%d", i), h)
	}
	return h, skips
}

// midPath runs the mid block: resnets[0], then (attention, resnet) pairs; nothing when
// there is no mid block.
func (b *builder) midPath(h, embAct *Node) *Node {
	mid := b.u.plan.mid
	for j, r := range mid.resnets {
		if j > 0 && j-1 < len(mid.attns) && mid.attns[j-1] != nil {
			h = b.attention(*mid.attns[j-1], h)
		}
		if j > 0 && j-1 < len(mid.xfs) {
			h = b.transformer(*mid.xfs[j-1], h)
		}
		h = b.resnet(r, h, embAct)
	}
	b.debug("mid_block", h)
	return h
}

// upPath runs the up blocks, each resnet taking the previous output concatenated with a
// skip connection popped from skips.
func (b *builder) upPath(h, embAct *Node, skips []*Node) *Node {
	for i, u := range b.u.plan.ups {
		for j, r := range u.resnets {
			skip := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			h = Concatenate([]*Node{h, skip}, 1)
			h = b.resnet(r, h, embAct)
			b.debug(r.prefix, h)
			h = b.blockAttn(u.attns, u.xfs, j, h)
		}
		if u.upsample != nil {
			h = b.conv(*u.upsample, upsampleNearest2x(h))
		}
		b.debug(fmt.Sprintf("up_blocks.%d", i), h)
	}
	return h
}
