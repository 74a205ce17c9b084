package pipeline

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
)

// Conditioner is the conditioning of a pipeline's passes: class labels, text embeddings,
// with a classifier-free-guidance weight. The pipeline sets it on its runner
// (belm.Runner.SetConditioning) before every pass — inversion and sampling alike — so both
// directions evaluate the same ε, which exact inversion needs (spec §2.8).
type Conditioner interface {
	// Condition returns the conditioning of a batch of batch latents in dtype: cond (leading
	// axis batch; its meaning is the model's), uncond (nil: no guidance) and the guidance
	// weight w (guidance is on iff uncond != nil and w > 1).
	Condition(batch int, dtype dtypes.DType) (cond, uncond *tensors.Tensor, w float64, err error)
}

// Fixed gives every latent of a batch the same conditioning: Cond, of Shape (default
// [len(Cond)]) — a class's one-hot weights, a prompt's embedding. With Uncond (the same
// shape) and W > 1 it is classifier-free guidance, ε = ε(uncond) + W·(ε(cond) − ε(uncond)).
type Fixed struct {
	Cond, Uncond []float64
	Shape        []int
	W            float64
}

// Condition implements Conditioner.
func (f Fixed) Condition(batch int, dtype dtypes.DType) (cond, uncond *tensors.Tensor, w float64, err error) {
	shape := f.Shape
	if len(shape) == 0 {
		shape = []int{len(f.Cond)}
	}
	if len(f.Cond) == 0 || len(f.Cond) != prod(shape) || f.Uncond != nil && len(f.Uncond) != len(f.Cond) {
		return nil, nil, 0, fmt.Errorf("conditioning of %d values (unconditional %d) for shape %v: give Cond (and Uncond) of that shape", len(f.Cond), len(f.Uncond), shape)
	}
	dims := append([]int{batch}, shape...)
	if cond, err = belm.NewTensor(repeat(f.Cond, batch), dtype, dims...); err != nil {
		return nil, nil, 0, err
	}
	if f.Uncond != nil {
		if uncond, err = belm.NewTensor(repeat(f.Uncond, batch), dtype, dims...); err != nil {
			return nil, nil, 0, err
		}
	}
	return cond, uncond, f.W, nil
}

func repeat(v []float64, n int) []float64 {
	out := make([]float64, 0, n*len(v))
	for range n {
		out = append(out, v...)
	}
	return out
}

// condition sets the conditioning of a pass over batch latents on the runner (nothing
// without a Conditioner).
func (p *Pipeline) condition(batch int) error {
	if p.Conditioner == nil {
		return nil
	}
	cond, uncond, w, err := p.Conditioner.Condition(batch, p.DType())
	if err != nil {
		return fmt.Errorf("conditioning: %w", err)
	}
	if cond != nil && (cond.Shape().Rank() == 0 || cond.Shape().Dimensions[0] != batch) {
		return fmt.Errorf("conditioning: %s for a batch of %d: its leading axis must be the batch", cond.Shape(), batch)
	}
	return p.Runner.SetConditioning(cond, uncond, w)
}
