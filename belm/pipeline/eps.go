package pipeline

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
)

// Forwarder is a network evaluated at per-image network timesteps (*unet.UNet's Forward:
// t a scalar or [B]), what Eps needs. Its weights are given by belm.StoreProvider.
type Forwarder interface {
	Forward(scope *model.Scope, x, t *graph.Node) *graph.Node
}

// Eps evaluates the network on x [B, latent shape…] at the network timesteps t (a scalar or
// [B]) in the pipeline's dtype, on its backend (x and t are converted to that dtype). The
// network must be an unconditional Forwarder (a UNet2DModel; a conditional UNet takes its
// context through EpsOut); its raw output is returned, whatever its prediction type.
func (p *Pipeline) Eps(x, t *tensors.Tensor) (*tensors.Tensor, error) {
	forward, err := p.forwarder(false)
	if err != nil {
		return nil, err
	}
	xt, tt, err := p.epsInputs(x, t)
	if err != nil {
		return nil, err
	}
	if p.epsExec == nil {
		store := model.NewStore()
		if sp, ok := p.Net.(belm.StoreProvider); ok && sp.Store() != nil {
			store = sp.Store()
		}
		p.epsExec, err = model.NewExec(p.Runner.Backend(), store, func(scope *model.Scope, x, t *graph.Node) *graph.Node {
			return forward(scope, x, t, nil)
		})
		if err != nil {
			return nil, err
		}
	}
	out, err := p.epsExec.Exec(xt, tt)
	if err != nil {
		return nil, fmt.Errorf("evaluating the model: %w", err)
	}
	return out[0], nil
}

// epsInputs checks x and t and converts them to the pipeline's dtype, t broadcast to [B].
func (p *Pipeline) epsInputs(x, t *tensors.Tensor) (*tensors.Tensor, *tensors.Tensor, error) {
	xv, err := belm.Values(x)
	if err != nil {
		return nil, nil, fmt.Errorf("x: %w", err)
	}
	tv, err := belm.Values(t)
	if err != nil {
		return nil, nil, fmt.Errorf("t: %w", err)
	}
	dims := x.Shape().Dimensions
	want := p.LatentShape()
	if len(dims) != len(want)+1 || (len(want) > 0 && dims[1] != want[0]) {
		return nil, nil, fmt.Errorf("x has shape %v: want [batch, %d, H, W]", dims, want[0])
	}
	if len(tv) != 1 && len(tv) != dims[0] {
		return nil, nil, fmt.Errorf("t has %d values: want 1 or the batch size %d", len(tv), dims[0])
	}
	for len(tv) < dims[0] {
		tv = append(tv, tv[0])
	}
	xt, err := belm.NewTensor(xv, p.DType(), dims...)
	if err != nil {
		return nil, nil, err
	}
	tt, err := belm.NewTensor(tv, p.DType(), len(tv))
	return xt, tt, err
}

// CondForwarder is a network that may be conditioned on a context at per-image timesteps
// (*unet.UNet: a UNet2DConditionModel is Conditional, and ForwardCond takes its
// encoder_hidden_states [B, L, D]).
type CondForwarder interface {
	Conditional() bool
	ForwardCond(scope *model.Scope, x, t, context *graph.Node) *graph.Node
}

// forwarder is the network's forward function for EpsOut, checking that a context is given
// exactly when the network is conditional.
func (p *Pipeline) forwarder(withContext bool) (func(scope *model.Scope, x, t, c *graph.Node) *graph.Node, error) {
	if cf, ok := p.Net.(CondForwarder); ok && cf.Conditional() {
		if !withContext {
			return nil, fmt.Errorf("the model is a conditional UNet (UNet2DConditionModel): give its encoder_hidden_states [batch, tokens, cross_attention_dim]")
		}
		return cf.ForwardCond, nil
	}
	f, ok := p.Net.(Forwarder)
	if !ok {
		return nil, fmt.Errorf("the model (%T) cannot be evaluated at per-image timesteps: EpsOut takes a UNet", p.Net)
	}
	if withContext {
		return nil, fmt.Errorf("the model is unconditional: it takes no encoder_hidden_states")
	}
	return func(scope *model.Scope, x, t, _ *graph.Node) *graph.Node { return f.Forward(scope, x, t) }, nil
}

// EpsOut evaluates the network as Eps does and returns its raw output and ε, converted from
// v or x̂₀ by the scheduler's prediction type (belm.EpsFromPrediction, with α_t and σ_t of
// each image's timestep, which must then be integral). context is the conditioning of a
// conditional UNet (encoder_hidden_states [B, L, D], converted to the pipeline's dtype); nil
// for an unconditional network.
func (p *Pipeline) EpsOut(x, t, context *tensors.Tensor) (out, eps *tensors.Tensor, err error) {
	xt, tt, err := p.epsInputs(x, t)
	if err != nil {
		return nil, nil, err
	}
	alpha, sigma, err := p.timeLevels(tt)
	if err != nil {
		return nil, nil, err
	}
	inputs := []any{xt, tt, alpha, sigma}
	forward, err := p.forwarder(context != nil)
	if err != nil {
		return nil, nil, err
	}
	if context != nil {
		ct, err := p.contextInput(context, xt.Shape().Dimensions[0])
		if err != nil {
			return nil, nil, err
		}
		inputs = append(inputs, ct)
	}
	store := model.NewStore()
	if sp, ok := p.Net.(belm.StoreProvider); ok && sp.Store() != nil {
		store = sp.Store()
	}
	pt := p.Schedule.Config.PredictionType
	exec, err := model.NewExec(p.Runner.Backend(), store, func(scope *model.Scope, in []*graph.Node) []*graph.Node {
		var c *graph.Node
		if len(in) > 4 {
			c = in[4]
		}
		o := forward(scope, in[0], in[1], c)
		perImage := func(v *graph.Node) *graph.Node {
			return graph.BroadcastToShape(graph.Reshape(v, append([]int{v.Shape().Dimensions[0]}, ones(o.Rank()-1)...)...), o.Shape())
		}
		return []*graph.Node{o, belm.EpsFromPrediction(pt, o, in[0], belm.Time{Alpha: perImage(in[2]), Sigma: perImage(in[3])})}
	})
	if err != nil {
		return nil, nil, err
	}
	res, err := exec.Exec(inputs...)
	if err != nil {
		return nil, nil, fmt.Errorf("evaluating the model: %w", err)
	}
	return res[0], res[1], nil
}

func ones(n int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// timeLevels is α_t and σ_t of each timestep of tt ([B]), from the schedule: a
// non-integral timestep is an error unless the model predicts ε (when they are unused).
func (p *Pipeline) timeLevels(tt *tensors.Tensor) (alpha, sigma *tensors.Tensor, err error) {
	tv, err := belm.Values(tt)
	if err != nil {
		return nil, nil, err
	}
	a, s := make([]float64, len(tv)), make([]float64, len(tv))
	for i, t := range tv {
		k := int(math.Round(t))
		if k < 0 || k >= len(p.Schedule.AlphasCumprod) || float64(k) != t && p.Schedule.Config.PredictionType != "epsilon" {
			return nil, nil, fmt.Errorf("timestep %g: a %s model's output converts to ε at integral timesteps in [0, %d)", t, p.Schedule.Config.PredictionType, len(p.Schedule.AlphasCumprod))
		}
		lv := p.Schedule.Level(k)
		a[i], s[i] = lv.Alpha, lv.Sigma
	}
	if alpha, err = belm.NewTensor(a, p.DType(), len(a)); err != nil {
		return nil, nil, err
	}
	sigma, err = belm.NewTensor(s, p.DType(), len(s))
	return alpha, sigma, err
}

// contextInput checks a conditioning tensor's batch and converts it to the pipeline's dtype.
func (p *Pipeline) contextInput(c *tensors.Tensor, batch int) (*tensors.Tensor, error) {
	dims := c.Shape().Dimensions
	if len(dims) != 3 || dims[0] != batch {
		return nil, fmt.Errorf("encoder_hidden_states has shape %v: want [%d, tokens, cross_attention_dim]", dims, batch)
	}
	v, err := belm.Values(c)
	if err != nil {
		return nil, err
	}
	return belm.NewTensor(v, p.DType(), dims...)
}
