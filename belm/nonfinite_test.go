package belm_test

import (
	"math"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
)

// constModel returns the constant c as ε whatever x (c = NaN: a model whose weights are NaN).
type constModel struct{ c float64 }

func (m constModel) Eps(_ *model.Scope, x *Node, _ belm.Time, _ *Node) *Node {
	return Add(MulScalar(x, 0), Scalar(x.Graph(), x.DType(), m.c))
}

// powModel is ε = σ·x + (x^p − x^p), p = 2 or 4: σ·x while x^p is finite, NaN once it
// overflows, as a network's ε of a latent that has blown up. x² overflows (|x| > 1.8e19 in
// float32) only where the runner's Σx² of x does too; x⁴ well before (|x| > 4.3e9 in float32,
// 1.2e77 in float64), where Σx² still gives rms |x|.
type powModel struct{ p int }

func (m powModel) Eps(_ *model.Scope, x *Node, tm belm.Time, _ *Node) *Node {
	pow := func() *Node {
		if m.p == 4 {
			return Mul(Mul(x, x), Mul(x, x))
		}
		return Mul(x, x)
	}
	return Add(Mul(x, tm.Sigma), Sub(pow(), pow()))
}

// sampleErr samples with the named sampler from noise·scale on the N-step SD grid.
func sampleErr(t *testing.T, m belm.Model, dt dtypes.DType, name string, n int, scale float64) error {
	t.Helper()
	s, err := belm.ParseSampler(name, belm.DefaultSamplerOptions)
	if err != nil {
		t.Fatal(err)
	}
	x := belm.Normal(11, 8*dim)
	for i := range x {
		x[i] *= scale
	}
	g := grids(t, belm.SDConfig, n)[0]
	_, err = runner(t, m, dt).Sample(s, g, belm.State{Level: n, Latents: []*tensors.Tensor{tensorOf(t, x, dt)}})
	return err
}

// A non-finite value after a step is reported by its cause: the model (NaN ε of a sane
// input), the sampler (ε NaN of a latent that has diverged), the latent overflowing, or the
// latent given.
func TestNonFiniteCause(t *testing.T) {
	for _, dt := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
		// A NaN model under every sampler, also those whose step graphs keep no ε (ddim,
		// edict): the model is blamed, with the size of its input (noise: rms ≈ 1).
		for _, name := range []string{"ddim", "edict", "bdia", "belm"} {
			err := sampleErr(t, constModel{math.NaN()}, dt, name, 10, 1)
			if err == nil || !strings.Contains(err.Error(), "step 0 ") ||
				!strings.Contains(err.Error(), "the model returned NaN or Inf for a finite input of rms |x| = 1.0") {
				t.Errorf("%s %s, NaN model: %v", dt, name, err)
			}
		}
		// NaN or Inf in the latent given, or a finite one beyond what Σx² holds: neither the
		// model nor the sampler.
		huge := map[dtypes.DType]float64{dtypes.Float32: 1e30, dtypes.Float64: 1e200}[dt]
		for _, name := range []string{"ddim", "edict", "belm"} {
			for _, tc := range []struct {
				m     belm.Model
				scale float64
				want  string
			}{
				{constModel{0}, math.NaN(), "the starting latent contains NaN or Inf"},
				{constModel{0}, math.Inf(1), "ε of the starting latent is NaN or Inf, and that latent has rms |x| > "},
				{powModel{2}, huge, "ε of the starting latent is NaN or Inf, and that latent has rms |x| > "},
			} {
				if err := sampleErr(t, tc.m, dt, name, 10, tc.scale); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s %s, input ×%g: %v", dt, name, tc.scale, err)
				}
			}
		}
		// A finite starting latent far beyond the O(1) scale whose ε is NaN (x⁴ overflows):
		// its scale is blamed, with its rms.
		large := map[dtypes.DType]float64{dtypes.Float32: 1e12, dtypes.Float64: 1e100}[dt]
		if err := sampleErr(t, powModel{4}, dt, "belm", 10, large); err == nil || !strings.Contains(err.Error(), "ε of the starting latent is NaN or Inf, and that latent has rms |x| = 1.0") {
			t.Errorf("%s large starting latent: %v", dt, err)
		}
	}
	// belm8 diverges on its own (Dahlquist-unstable): the latent grows huge but finite, then
	// ε of it is NaN (powModel) or the latent overflows (the linear Gaussian model): the
	// sampler is blamed, never the model.
	for _, tc := range []struct {
		m belm.Model
		n int
	}{{powModel{2}, 20}, {powModel{2}, 50}, {powModel{4}, 20}, {gaussian(t), 50}} {
		err := sampleErr(t, tc.m, dtypes.Float32, "belm8", tc.n, 1)
		if err == nil {
			t.Fatalf("belm8 N=%d %T float32: no blow-up", tc.n, tc.m)
		}
		msg := err.Error()
		if strings.Contains(msg, "model returned") || !strings.Contains(msg, "8-step BELM is not zero-stable") ||
			!(strings.Contains(msg, "the sampler diverged: the latent had grown to rms |x| ") || strings.Contains(msg, "the latent overflowed to Inf/NaN")) {
			t.Errorf("belm8 N=%d %T float32: %v", tc.n, tc.m, err)
		}
		if _, ok := tc.m.(powModel); ok && !strings.Contains(msg, "diverged") {
			t.Errorf("belm8 N=%d %v float32: ε is NaN of a diverged latent, got %v", tc.n, tc.m, err)
		}
	}
	// Finite ε of 1e37…3e38 in float32: its check does not overflow, so ε is never called
	// NaN/Inf; the latent it drives may overflow, and is reported so.
	for _, c := range []float64{1e37, 1e38, -3e38} {
		for _, name := range []string{"ddim", "edict", "bdia", "belm"} {
			err := sampleErr(t, constModel{c}, dtypes.Float32, name, 10, 1)
			if err != nil && (strings.Contains(err.Error(), "model returned") || strings.Contains(err.Error(), "ε of") ||
				!strings.Contains(err.Error(), "the latent overflowed to Inf/NaN")) {
				t.Errorf("float32 ε = %g, %s: %v", c, name, err)
			}
		}
	}
}
