package belm_test

import (
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
)

// A k-step BELM whose order conditions are singular is an error naming the system, the
// sampler, the step and its levels, and the fix; not NaN coefficients that surface later as
// an overflowed latent. The grid, built by hand past NewGrid, repeats σ̄ = 0 at levels 0 and
// 1: the full 3-step relation over levels 0…3 then has h₁ = 0 and node s₁ = 0, so the column
// of b₁ in the order conditions is zero.
func TestBELMSingularOrderConditions(t *testing.T) {
	levels := []belm.Level{belm.Clean, belm.Clean, belm.LevelAt(1), belm.LevelAt(2), belm.LevelAt(3)}
	g := &belm.Grid{Levels: levels, Net: levels}
	want := []string{"3-step BELM at levels 0…3", "singular system", "distinct", "NewGrid", "belm (O-BELM)"}
	_, _, err := belm.BELMCoefficients(g, 0, 3)
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Fatalf("BELMCoefficients on a repeated level: %v; want it to say %q", err, w)
		}
	}
	s, _ := belm.NewBELM(3)
	if _, err := s.Relation(g, 0, 3, belm.Sampling).Solve(0); err == nil || !strings.Contains(err.Error(), "singular") {
		t.Errorf("Relation.Solve: %v", err)
	}
	noise := tensorOf(t, belm.Normal(60, 8*dim), dtypes.Float64)
	_, err = runner(t, gaussian(t), dtypes.Float64).Sample(s, g, belm.State{Level: 4, Latents: []*tensors.Tensor{noise}})
	want = append(want, "belm3 sampling, step 3")
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "overflow") {
			t.Fatalf("sampling on a repeated level: %v; want it to say %q", err, w)
		}
	}
	t.Log(err)
}
