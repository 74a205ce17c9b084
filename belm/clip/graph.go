package clip

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/support/exceptions"

	"github.com/belmlab/workbench/belm/nn"
)

// Forward is CLIPTextModel(ids).last_hidden_state: ids is [B, L] of an integer dtype
// (L ≤ max_position_embeddings), the result [B, L, hidden_size] in the model's dtype.
// Weights are variables of scope (nil: the model's own store, root scope); when scope's
// store lacks them they are created there, so the text encoder can be part of a larger
// graph. The graph cannot check the ids' range: an id ≥ vocab_size gives an undefined
// embedding, so check them first (CheckIDs; Encode does).
func (m *TextModel) Forward(scope *model.Scope, ids *Node) *Node {
	out, _ := m.build(scope, ids)
	return out
}

// build returns last_hidden_state and the hidden states transformers reports with
// output_hidden_states: the embeddings, then each layer's output (before the final norm).
func (m *TextModel) build(scope *model.Scope, ids *Node) (*Node, []*Node) {
	if scope == nil {
		scope = m.store.RootScope()
	}
	if !ids.DType().IsInt() || ids.Rank() != 2 {
		exceptions.Panicf("clip: token ids must be an integer tensor [batch, length], got %s", ids.Shape())
	}
	if n := ids.Shape().Dimensions[1]; n > m.cfg.MaxPositionEmbeddings {
		exceptions.Panicf("clip: %d token ids per prompt, the text encoder has %d positions", n, m.cfg.MaxPositionEmbeddings)
	}
	b := &builder{m: m, scope: scope, g: ids.Graph(), dtype: m.dtype}
	h := b.embed(ids)
	hidden := []*Node{h}
	mask := b.causalMask(ids.Shape().Dimensions[1])
	for l := range m.cfg.NumHiddenLayers {
		h = b.layer(fmt.Sprintf("text_model.encoder.layers.%d.", l), h, mask)
		hidden = append(hidden, h)
	}
	return b.layerNorm("text_model.final_layer_norm", h), hidden
}

// builder builds one forward graph.
type builder struct {
	m     *TextModel
	scope *model.Scope
	g     *Graph
	dtype dtypes.DType
}

// w returns the parameter with the given state-dict name as a node of the graph's dtype,
// creating its variable in the scope's store if that store lacks it.
func (b *builder) w(name string) *Node {
	path := model.JoinPath(b.scope.Scope(), varPath(name))
	store := b.scope.Store()
	v := store.GetVariable(path)
	if v == nil {
		t, ok := b.m.weights[name]
		if !ok {
			exceptions.Panicf("clip: internal error: no weight %q", name)
		}
		var err error
		if v, err = store.CreateVariable(path, t); err != nil {
			panic(fmt.Errorf("clip: creating variable for %q: %w", name, err))
		}
	}
	if want := b.m.shapes[name]; !slices.Equal(v.Shape().Dimensions, want) {
		exceptions.Panicf("clip: variable %q has shape %v, the model needs %v", path, v.Shape().Dimensions, want)
	}
	n := v.NodeValue(b.g)
	if n.DType() != b.dtype {
		n = ConvertDType(n, b.dtype)
	}
	return n
}

// embed is CLIPTextEmbeddings: token embedding + position embedding of 0…L−1.
func (b *builder) embed(ids *Node) *Node {
	n := ids.Shape().Dimensions[1]
	tok := Gather(b.w("text_model.embeddings.token_embedding.weight"), ExpandAxes(ids, -1)) // [B, L, H]
	pos := Slice(b.w("text_model.embeddings.position_embedding.weight"), AxisRange(0, n))   // [L, H]
	return Add(tok, ExpandAxes(pos, 0))
}

// causalMask is true where position i may attend to j (j ≤ i), shaped [1, 1, L, L].
func (b *builder) causalMask(n int) *Node {
	s := shapes.Make(dtypes.Int32, 1, 1, n, n)
	return GreaterOrEqual(Iota(b.g, s, 2), Iota(b.g, s, 3))
}

// layer is CLIPEncoderLayer (pre-LN): h + attn(ln1(h)), then + mlp(ln2(·)).
func (b *builder) layer(p string, h, mask *Node) *Node {
	h = Add(h, b.attention(p+"self_attn", b.layerNorm(p+"layer_norm1", h), mask))
	x := b.linear(p+"mlp.fc1", b.layerNorm(p+"layer_norm2", h))
	return Add(h, b.linear(p+"mlp.fc2", b.activation(x)))
}

// attention is CLIPAttention with the causal mask: softmax(q·kᵀ + mask)·v per head, q
// scaled by head_dim^−0.5 after its projection. Masked scores are the dtype's lowest
// finite value (transformers adds finfo.min): their probabilities are exactly 0 either way.
func (b *builder) attention(p string, x, mask *Node) *Node {
	dims := x.Shape().Dimensions
	batch, n, heads, hd := dims[0], dims[1], b.m.cfg.NumAttentionHeads, b.m.cfg.HeadDim()
	split := func(t *Node) *Node { return Reshape(t, batch, n, heads, hd) }
	q := split(MulScalar(b.linear(p+".q_proj", x), 1/math.Sqrt(float64(hd))))
	k := split(b.linear(p+".k_proj", x))
	v := split(b.linear(p+".v_proj", x))
	// scores[b, h, i, j] = Σ_d q[b, i, h, d]·k[b, j, h, d]
	scores := DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2})
	lowest := Scalar(b.g, b.dtype, lowestFinite(b.dtype))
	scores = Where(BroadcastToDims(mask, batch, heads, n, n), scores, lowest)
	probs := Softmax(scores, -1)
	// o[b, h, i, d] = Σ_j probs[b, h, i, j]·v[b, j, h, d]
	o := DotGeneral(probs, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2})
	o = Reshape(TransposeAllAxes(o, 0, 2, 1, 3), batch, n, heads*hd)
	return b.linear(p+".out_proj", o)
}

func lowestFinite(dt dtypes.DType) float64 {
	if dt == dtypes.Float32 {
		return -math.MaxFloat32
	}
	return -math.MaxFloat64
}

// activation is the MLP's hidden_act: quick_gelu x·σ(1.702x), written x/(1+exp(−1.702x)),
// or gelu 0.5·x·(1+erf(x/√2)).
func (b *builder) activation(x *Node) *Node {
	switch b.m.cfg.HiddenAct {
	case "quick_gelu":
		return Div(x, OnePlus(Exp(MulScalar(x, -1.702))))
	case "gelu":
		return nn.GELU(x)
	}
	exceptions.Panicf("clip: unsupported hidden_act %q", b.m.cfg.HiddenAct)
	return nil
}

// linear applies a PyTorch Linear (weight [out, in]).
func (b *builder) linear(p string, x *Node) *Node {
	return nn.Linear(x, b.w(p+".weight"), b.w(p+".bias"))
}

// layerNorm is torch.nn.LayerNorm over the last axis (biased variance).
func (b *builder) layerNorm(p string, x *Node) *Node {
	return nn.LayerNorm(x, b.w(p+".weight"), b.w(p+".bias"), b.m.cfg.LayerNormEps)
}
