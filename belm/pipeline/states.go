package pipeline

import (
	"fmt"

	"github.com/belmlab/workbench/belm"
)

// SplitState splits a batched state into one state per batch element.
func SplitState(st belm.State) ([]belm.State, error) {
	if len(st.Latents) == 0 || st.X() == nil || st.X().Shape().Rank() == 0 {
		return nil, fmt.Errorf("split: the state has no batched latent")
	}
	b := st.X().Shape().Dimensions[0]
	out := make([]belm.State, b)
	for i := range out {
		out[i] = belm.State{Level: st.Level, Dir: st.Dir}
	}
	for _, l := range st.Latents {
		v, err := belm.Values(l)
		if err != nil {
			return nil, err
		}
		dims := l.Shape().Dimensions
		n := len(v) / b
		one := append([]int{1}, dims[1:]...)
		for i := range out {
			t, err := belm.NewTensor(v[i*n:(i+1)*n], l.DType(), one...)
			if err != nil {
				return nil, err
			}
			out[i].Latents = append(out[i].Latents, t)
		}
	}
	return out, nil
}

// InterpolateStates returns the state whose batch holds, for each weight w, the slerp of
// the states a and b (batch 1 each, at the same level): every latent of the state is
// interpolated with its counterpart (for O-BELM and BDIA the pair (x_N, x_{N−1}), for
// EDICT both chains), so w = 0 and w = 1 sample back to exactly a's and b's images.
// perChannel selects the reference script's per-channel slerp (belm.SlerpPerChannel)
// instead of the paper's whole-vector one (Eq. 64, belm.Slerp). It is the one
// interpolation of the workbench: study.InterpolateImages and InterpolateNoises use it.
func InterpolateStates(a, b belm.State, weights []float64, perChannel bool) (belm.State, error) {
	if a.Level != b.Level || len(a.Latents) != len(b.Latents) {
		return belm.State{}, fmt.Errorf("cannot interpolate states at levels %d and %d with %d and %d latents", a.Level, b.Level, len(a.Latents), len(b.Latents))
	}
	if len(weights) == 0 {
		return belm.State{}, fmt.Errorf("no interpolation weights")
	}
	out := belm.State{Level: a.Level, Dir: a.Dir}
	for j := range a.Latents {
		za, err := belm.Values(a.Latents[j])
		if err != nil {
			return belm.State{}, err
		}
		zb, err := belm.Values(b.Latents[j])
		if err != nil {
			return belm.State{}, err
		}
		dims := a.Latents[j].Shape().Dimensions
		if len(dims) < 2 || dims[0] != 1 || len(za) != len(zb) {
			return belm.State{}, fmt.Errorf("interpolation needs two single latents of the same shape, got %v and %v", dims, b.Latents[j].Shape().Dimensions)
		}
		all := make([]float64, 0, len(weights)*len(za))
		for _, w := range weights {
			var z []float64
			if perChannel {
				z, err = belm.SlerpPerChannel(w, za, zb, dims[1])
			} else {
				z, err = belm.Slerp(w, za, zb)
			}
			if err != nil {
				return belm.State{}, err
			}
			all = append(all, z...)
		}
		t, err := belm.NewTensor(all, a.Latents[j].DType(), append([]int{len(weights)}, dims[1:]...)...)
		if err != nil {
			return belm.State{}, err
		}
		out.Latents = append(out.Latents, t)
	}
	return out, nil
}

// InterpolationWeights returns k+1 equally spaced weights 0, 1/k, …, 1 (the reference's 11
// for k = 10).
func InterpolationWeights(k int) []float64 {
	w := make([]float64, k+1)
	for i := range w {
		w[i] = float64(i) / float64(k)
	}
	return w
}
