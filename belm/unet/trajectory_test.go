package unet

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

// inverseTimestep is the UNet evaluated at diffusers' DDIMInverseScheduler timestep: that
// scheduler evaluates ε on the sample at level t−Δ at the *target* timestep t (Δ = 100 for
// N = 10, leading spacing), while the runner's DDIM inversion (paper Eq. 8, the reference
// code) evaluates it at the source level's timestep (network timestep 1 at the clean
// endpoint). Mapping source → target (1 → 0 at the clean endpoint, t → t+Δ elsewhere)
// replays diffusers' convention with the same runner.
type inverseTimestep struct {
	*UNet
	delta float64
}

func (m inverseTimestep) Eps(scope *model.Scope, x *Node, tm belm.Time, cond *Node) *Node {
	t := tm.T
	shifted := Where(Equal(t, Scalar(t.Graph(), t.DType(), 1)), ScalarZero(t.Graph(), t.DType()), AddScalar(t, m.delta))
	return m.UNet.Eps(scope, x, belm.Time{T: shifted, Alpha: tm.Alpha, Sigma: tm.Sigma}, cond)
}

// TestDDIMTrajectoryUNet runs whole DDIM sampling and inversion trajectories (N = 10, the
// DDPM schedule, clip_sample on and off) with the Go UNet driving the runner, against
// diffusers' (fixture ddim_trajectories, ../testdata): every latent of the trajectory.
// Tolerances (fixture README): float32 ≤ 1e-4·max(1, |x|); float64 ≤ 1e-10·max(1, |x|).
func TestDDIMTrajectoryUNet(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 8 trajectories of 10 UNet calls")
	}
	f, err := safetensors.Open("../testdata/ddim_trajectories.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range []struct {
		name  string
		dtype dtypes.DType
		tol   float64
	}{{"f32", dtypes.Float32, 1e-4}, {"f64", dtypes.Float64, 1e-10}} {
		cfg := belm.DDPMConfig
		cfg.Float32 = p.dtype == dtypes.Float32
		sched, err := belm.NewSchedule(cfg)
		if err != nil {
			t.Fatal(err)
		}
		g, err := sched.Grid(10)
		if err != nil {
			t.Fatal(err)
		}
		u := loadTiny(t)
		for _, variant := range []string{"hubcfg", "noclip"} {
			s := belm.DDIM{}
			if variant == "hubcfg" {
				s.Clip = 1
			}
			for _, kind := range []string{"sample", "invert"} {
				var m belm.Model = u
				if kind == "invert" {
					m = inverseTimestep{u, 100}
				}
				r, err := belm.NewRunner(m, "go", p.dtype)
				if err != nil {
					t.Fatal(err)
				}
				key := fmt.Sprintf("%s.%s.%s", variant, kind, p.name)
				xs, err := f.Tensor(key+".xs", p.dtype)
				if err != nil {
					t.Fatal(err)
				}
				xsV, _ := belm.Values(xs)
				const n = 3 * 8 * 8
				x, _ := belm.NewTensor(xsV[:n], p.dtype, 1, 3, 8, 8)
				st := belm.State{Level: 10, Latents: []*tensors.Tensor{x}}
				if kind == "invert" {
					st.Level = 0
				}
				worst, worstAt := 0.0, 0
				for i := 0; i < 10; i++ {
					to := st.Level - 1
					if kind == "invert" {
						to = st.Level + 1
					}
					st, err = r.Run(s, g, st, to)
					if err != nil {
						t.Fatal(err)
					}
					got, _ := belm.Values(st.X())
					ref := xsV[(i+1)*n : (i+2)*n]
					scale := 1.0
					for _, v := range ref {
						scale = math.Max(scale, math.Abs(v))
					}
					e := 0.0
					for j := range ref {
						e = math.Max(e, math.Abs(got[j]-ref[j])/scale)
					}
					if e > worst {
						worst, worstAt = e, i
					}
				}
				t.Logf("%s: worst error %.2e·max(1,|x|) at step %d", key, worst, worstAt)
				if worst > p.tol {
					t.Errorf("%s: error %.2e·max(1,|x|) at step %d > %.0e", key, worst, worstAt, p.tol)
				}
			}
		}
	}
}
