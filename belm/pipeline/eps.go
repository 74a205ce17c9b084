package pipeline

import (
	"fmt"

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
// network must be a Forwarder (a UNet2DModel); its raw output is returned, whatever its
// prediction type.
func (p *Pipeline) Eps(x, t *tensors.Tensor) (*tensors.Tensor, error) {
	f, ok := p.Net.(Forwarder)
	if !ok {
		return nil, fmt.Errorf("the model (%T) cannot be evaluated at per-image timesteps: Eps takes a network with Forward(scope, x, t), such as a UNet2DModel", p.Net)
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
			return f.Forward(scope, x, t)
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
