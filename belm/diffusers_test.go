package belm_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/safetensors"
)

// replay is an ε-model that returns a stored tensor (a variable of its store), so a
// sampler step can be checked against reference trajectories given their stored ε.
type replay struct {
	store *model.Store
	v     *model.Variable
}

func newReplay(init *tensors.Tensor) *replay {
	s := model.NewStore()
	return &replay{store: s, v: s.RootScope().VariableWithValue("eps", init)}
}

func (m *replay) Store() *model.Store { return m.store }
func (m *replay) Eps(_ *model.Scope, x *Node, _ belm.Time, _ *Node) *Node {
	return m.v.NodeValue(x.Graph())
}

// DDIM and DDIM inversion reproduce diffusers' DDIMScheduler / DDIMInverseScheduler step by
// step, given the stored ε (testdata copied from ../shared/fixtures/diffusers; diffusers
// v0.31.0, linear betas, leading spacing, N=10, set_alpha_to_one). Tolerances from the
// fixture's README: float64 ≤ 1e-12 relative (the schedule matches to 7e-16), float32 ≤ 1e-6
// relative (float32 rounding of a few operations; |x| reaches 180). Both variants: clip_sample
// true (x̂₀ clipped to [−1, 1]) and false.
func TestDiffusersDDIMTrajectories(t *testing.T) {
	f, err := safetensors.Open("testdata/ddim_trajectories.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range []struct {
		name  string
		dtype dtypes.DType
		f32   bool
		tol   float64
	}{{"f64", dtypes.Float64, false, 1e-12}, {"f32", dtypes.Float32, true, 1e-6}} {
		cfg := belm.DDPMConfig
		cfg.Float32 = p.f32
		sched, err := belm.NewSchedule(cfg)
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := f.Float64("alphas_cumprod_" + p.name)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range want {
			if d := math.Abs(sched.AlphasCumprod[i] - v); (p.f32 && d != 0) || d > 1e-15 {
				t.Fatalf("%s: ᾱ[%d] = %.17g, diffusers %.17g", p.name, i, sched.AlphasCumprod[i], v)
			}
		}
		g, err := sched.Grid(10)
		if err != nil {
			t.Fatal(err)
		}
		for _, variant := range []string{"hubcfg", "noclip"} {
			s := belm.DDIM{}
			if variant == "hubcfg" {
				s.Clip = 1
			}
			for _, kind := range []string{"sample", "invert"} {
				key := fmt.Sprintf("%s.%s.%s", variant, kind, p.name)
				xs, err := f.Tensor(key+".xs", p.dtype)
				if err != nil {
					t.Fatal(err)
				}
				eps, err := f.Tensor(key+".eps", p.dtype)
				if err != nil {
					t.Fatal(err)
				}
				xsV, _ := belm.Values(xs)
				epsV, _ := belm.Values(eps)
				n := 3 * 8 * 8
				first, _ := belm.NewTensor(epsV[:n], p.dtype, 1, 3, 8, 8)
				m := newReplay(first)
				r, err := belm.NewRunner(m, "go", p.dtype)
				if err != nil {
					t.Fatal(err)
				}
				worst := 0.0
				for i := 0; i < 10; i++ {
					e, _ := belm.NewTensor(epsV[i*n:(i+1)*n], p.dtype, 1, 3, 8, 8)
					if err := m.v.SetValue(e); err != nil {
						t.Fatal(err)
					}
					x, _ := belm.NewTensor(xsV[i*n:(i+1)*n], p.dtype, 1, 3, 8, 8)
					from, to := 10-i, 9-i
					if kind == "invert" {
						from, to = i, i+1
					}
					st, err := r.Run(s, g, belm.State{Level: from, Latents: []*tensors.Tensor{x}}, to)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := belm.Values(st.X())
					ref := xsV[(i+1)*n : (i+2)*n]
					worst = math.Max(worst, belm.Compare(got, ref, 0).MaxAbs)
				}
				t.Logf("%s: worst step error %.2e (relative to max|x|)", key, worst)
				if worst > p.tol {
					t.Errorf("%s: step error %.2e > %.0e", key, worst, p.tol)
				}
			}
		}
	}
}
