package belm_test

import (
	"fmt"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
)

// cheapModel is ε = σ·x: one multiply, so a benchmark measures the sampler's own work (the
// step graph's arithmetic, the execution call, the finiteness check and the host-side
// coefficients), not a network.
type cheapModel struct{}

func (cheapModel) Eps(_ *model.Scope, x *Node, tm belm.Time, _ *Node) *Node { return Mul(x, tm.Sigma) }

var benchShape = []int{8, 3, 32, 32}

func benchNoise(b *testing.B, dt dtypes.DType) *tensors.Tensor {
	n := 8 * 3 * 32 * 32
	x, err := belm.NewTensor(belm.Normal(1, n), dt, benchShape...)
	if err != nil {
		b.Fatal(err)
	}
	return x
}

// benchSetup returns a runner with the cheap model, the named sampler, the 100-step DDPM
// grid and a noise state.
func benchSetup(b *testing.B, name string, dt dtypes.DType) (*belm.Runner, belm.Sampler, *belm.Grid, *tensors.Tensor) {
	r, err := belm.NewRunner(cheapModel{}, "", dt)
	if err != nil {
		b.Fatal(err)
	}
	s, err := belm.ParseSampler(name, belm.DefaultSamplerOptions)
	if err != nil {
		b.Fatal(err)
	}
	sched, _ := belm.NewSchedule(belm.DDPMConfig)
	g, _ := sched.Grid(100)
	return r, s, g, benchNoise(b, dt)
}

// BenchmarkStep: one sampling step on a [8,3,32,32] state (the arithmetic alone).
func BenchmarkStep(b *testing.B) {
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		for _, name := range []string{"ddim", "bdia", "belm", "edict"} {
			b.Run(fmt.Sprintf("%s/%s", name, dt), func(b *testing.B) {
				r, s, g, x := benchSetup(b, name, dt)
				// The state after two steps, so every benchmarked step is a full-window step.
				st, err := r.Run(s, g, belm.State{Level: 100, Latents: []*tensors.Tensor{x}}, 98)
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := r.Run(s, g, st, 97); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPass100: a whole 100-step sampling pass of 8 images [8,3,32,32].
func BenchmarkPass100(b *testing.B) {
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		for _, name := range []string{"ddim", "bdia", "belm", "edict"} {
			b.Run(fmt.Sprintf("%s/%s", name, dt), func(b *testing.B) {
				r, s, g, x := benchSetup(b, name, dt)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := r.Sample(s, g, belm.State{Level: 100, Latents: []*tensors.Tensor{x}}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
