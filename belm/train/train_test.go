package train

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/belmlab/workbench/belm/hub"
	"github.com/belmlab/workbench/belm/nn"
	"github.com/belmlab/workbench/belm/unet"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// tinyConfig is a 8×8, 1-channel UNet (two levels, attention in both paths and the mid
// block: every block type the real model has) with a short warm-up-free schedule.
func tinyConfig() Config {
	c := DefaultConfig()
	u := unet.DefaultConfig()
	u.ClassName = "UNet2DModel"
	u.SampleSize = intPtr(8)
	u.InChannels, u.OutChannels = 1, 1
	u.DownBlockTypes = []string{"DownBlock2D", "AttnDownBlock2D"}
	u.UpBlockTypes = []string{"AttnUpBlock2D", "UpBlock2D"}
	u.BlockOutChannels = []int{8, 16}
	u.LayersPerBlock = 1
	u.AttentionHeadDim = intPtr(8)
	u.NormNumGroups = intPtr(4)
	c.UNet = u
	c.BatchSize = 8
	c.LearningRate = 3e-3
	c.LRWarmupSteps = 0
	c.EMADecay = 0.9
	c.NumEvalImages = 2
	c.Seed = 3
	return c
}

// blobs is a toy image set: one bright 3×3 square on a dark 8×8 background per image.
type blobs struct{ n int }

func (b blobs) Len() int { return b.n }
func (b blobs) Batch(idx []int) []float32 {
	out := make([]float32, len(idx)*64)
	for k, i := range idx {
		r := rand.New(rand.NewPCG(uint64(i), 1))
		y0, x0 := r.IntN(6), r.IntN(6)
		for y := range 8 {
			for x := range 8 {
				v := float32(-1)
				if y >= y0 && y < y0+3 && x >= x0 && x < x0+3 {
					v = 1
				}
				out[k*64+y*8+x] = v
			}
		}
	}
	return out
}

func run(t *testing.T, tr *Trainer, n int) []float64 {
	t.Helper()
	var losses []float64
	for range n {
		st, err := tr.TrainStep()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, st.Loss)
	}
	return losses
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// TestLossDecreases: 40 steps on the toy set. The ε-MSE of a freshly initialised UNet is
// ≈ 1 (its output is small, the target has unit variance) and batches of 8 with random t
// make single losses noisy (±30 %), so the test compares means of 8 steps: the last 8
// must be below 0.7× the first 8. Measured (go, seed 3): 0.70 → 0.22, a ratio of 0.32.
func TestLossDecreases(t *testing.T) {
	tr, err := New(tinyConfig(), blobs{64}, "go")
	if err != nil {
		t.Fatal(err)
	}
	losses := run(t, tr, 40)
	first, last := mean(losses[:8]), mean(losses[32:])
	t.Logf("first 8 steps: %.4f, last 8: %.4f (all: %.3f)", first, last, losses)
	if !(last < 0.7*first) {
		t.Errorf("loss did not decrease: first 8 steps %.4f, last 8 %.4f", first, last)
	}
}

// TestResumeIsBitExact: train 6 steps, checkpoint, train 4 more; resume from the checkpoint
// in a fresh trainer and train 4: the same losses, gradient norms and final weights, bit for bit.
func TestResumeIsBitExact(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig()
	a, err := New(cfg, blobs{20}, "go") // 20 images, batch 8: the data stream crosses epochs
	if err != nil {
		t.Fatal(err)
	}
	run(t, a, 6)
	cp := filepath.Join(dir, CheckpointName(a.Step()))
	if err := a.SaveCheckpoint(cp); err != nil {
		t.Fatal(err)
	}
	var want []StepStats
	for range 4 {
		st, err := a.TrainStep()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, st)
	}
	b, err := Resume(cp, blobs{20}, "go")
	if err != nil {
		t.Fatal(err)
	}
	if b.Step() != 6 {
		t.Fatalf("resumed at step %d", b.Step())
	}
	for i := range want {
		st, err := b.TrainStep()
		if err != nil {
			t.Fatal(err)
		}
		if st != want[i] {
			t.Errorf("step %d: resumed %+v, uninterrupted %+v", st.Step, st, want[i])
		}
	}
	wa, _ := a.EMAWeights()
	wb, _ := b.EMAWeights()
	for name, ta := range wa {
		va, _ := tensors.CopyFlatData[float32](ta)
		vb, _ := tensors.CopyFlatData[float32](wb[name])
		for i := range va {
			if math.Float32bits(va[i]) != math.Float32bits(vb[i]) {
				t.Fatalf("EMA %s[%d]: %v vs %v", name, i, va[i], vb[i])
			}
		}
	}
	ea, eb := a.EvalNoise(), b.EvalNoise()
	for i := range ea {
		if ea[i] != eb[i] {
			t.Fatalf("eval noise differs at %d", i)
		}
	}
	// Latest finds it; a wrong data set is refused.
	if l, err := Latest(dir); err != nil || l != cp {
		t.Errorf("Latest = %q, %v", l, err)
	}
	if _, err := Resume(cp, blobs{21}, "go"); err == nil {
		t.Error("resuming on another data set was accepted")
	}
}

// TestExportLoads: the exported folder loads with unet.Load and hub.Resolve and gives the
// same ε as the in-memory EMA model.
func TestExportLoads(t *testing.T) {
	tr, err := New(tinyConfig(), blobs{32}, "go")
	if err != nil {
		t.Fatal(err)
	}
	run(t, tr, 3)
	dir := filepath.Join(t.TempDir(), "model")
	if err := tr.ExportEMA(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{unet.ConfigFile, unet.WeightsFile, SchedulerConfigFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	loaded, err := unet.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := tr.EMAUNet()
	if err != nil {
		t.Fatal(err)
	}
	m, err := hub.Resolve(dir)
	if err != nil {
		t.Fatal(err)
	}
	sc, defaulted, err := m.Scheduler()
	if err != nil || defaulted || sc.BetaSchedule != "linear" || sc.BetaEnd != 0.02 {
		t.Errorf("scheduler config: %+v defaulted=%v err=%v", sc, defaulted, err)
	}
	x := make([]float32, 2*64)
	r := rand.New(rand.NewPCG(9, 9))
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	eps := func(u *unet.UNet) []float32 {
		out, err := model.CallOnce(tr.Backend(), u.Store(), func(scope *model.Scope, x, tt *Node) *Node {
			return u.Forward(scope, x, tt)
		}, tensors.FromFlatDataAndDimensions(x, 2, 1, 8, 8), tensors.FromFlatDataAndDimensions([]int32{10, 900}, 2))
		if err != nil {
			t.Fatal(err)
		}
		v, _ := tensors.CopyFlatData[float32](out)
		return v
	}
	ea, eb := eps(loaded), eps(mem)
	for i := range ea {
		if ea[i] != eb[i] {
			t.Fatalf("ε[%d]: loaded %v, in memory %v", i, ea[i], eb[i])
		}
	}
	if loaded.DType() != dtypes.Float32 {
		t.Errorf("dtype %s", loaded.DType())
	}
}

// TestGradientClipping: with MaxGradNorm c, Adam's first step moves each weight by ≈ lr
// whatever the gradient's scale (m̂/√v̂ = ±1), so clipping is checked on the update of
// plain SGD-like first moments: after one step m = (1−β₁)·g·min(1, c/‖g‖), whose global
// norm must be (1−β₁)·min(‖g‖, c).
func TestGradientClipping(t *testing.T) {
	for _, c := range []float64{0, 1e-3} {
		cfg := tinyConfig()
		cfg.MaxGradNorm = c
		tr, err := New(cfg, blobs{16}, "go")
		if err != nil {
			t.Fatal(err)
		}
		st, err := tr.TrainStep()
		if err != nil {
			t.Fatal(err)
		}
		ms, err := values(tr.m)
		if err != nil {
			t.Fatal(err)
		}
		sq := 0.0
		for _, v := range ms {
			for _, x := range v {
				sq += float64(x) * float64(x)
			}
		}
		got := math.Sqrt(sq) / (1 - cfg.AdamBeta1)
		want := st.GradNorm
		if c > 0 {
			want = min(st.GradNorm, c)
		}
		t.Logf("max_grad_norm %g: ‖g‖ = %.4g, applied ‖g‖ = %.4g", c, st.GradNorm, got)
		if math.Abs(got-want) > 1e-4*want {
			t.Errorf("max_grad_norm %g: applied gradient norm %.6g, want %.6g (‖g‖ = %.6g)", c, got, want, st.GradNorm)
		}
		if c > 0 && !(st.GradNorm > 10*c) {
			t.Errorf("the test needs ‖g‖ ≫ c: ‖g‖ = %g", st.GradNorm)
		}
	}
}

// TestConvGradientsAgree: on the go backend the UNet's convolutions are patches + matmul
// (belm/nn/conv.go: strided slices for the stride-2 downsamplers, shifted rows for 3×3
// stride 1). Their gradients, taken by GoMLX's autodiff through Pad/Slice/Concatenate/
// DotGeneral, must equal those through the backend's own Convolve (ConvDirect), in float64.
func TestConvGradientsAgree(t *testing.T) {
	cfg := tinyConfig().UNet
	x := make([]float64, 2*64)
	w := make([]float64, 2*64)
	r := rand.New(rand.NewPCG(5, 5))
	for i := range x {
		x[i], w[i] = r.NormFloat64(), r.NormFloat64()
	}
	grads := func(alg nn.ConvAlgorithm) [][]float64 {
		prev := nn.SetConvAlgorithm(alg)
		defer nn.SetConvAlgorithm(prev)
		u, err := unet.NewRandom(cfg, 7, dtypes.Float64, unet.WithFloat32Softmax(false)) // the emulated float32 softmax rounds: no gradient
		if err != nil {
			t.Fatal(err)
		}
		names := u.ParameterNames()
		tr := &Trainer{}
		be, err := tr.backendFor("go")
		if err != nil {
			t.Fatal(err)
		}
		out, err := model.CallOnceN(be, u.Store(), func(scope *model.Scope, xn, wn, tn *Node) []*Node {
			eps := u.Forward(scope, xn, tn)
			loss := ReduceAllSum(Mul(eps, wn))
			var nodes []*Node
			for _, n := range names {
				nodes = append(nodes, u.Store().GetVariable(varPath("", n)).NodeValue(xn.Graph()))
			}
			return Gradient(loss, nodes...)
		}, tensors.FromFlatDataAndDimensions(x, 2, 1, 8, 8), tensors.FromFlatDataAndDimensions(w, 2, 1, 8, 8),
			tensors.FromFlatDataAndDimensions([]int32{3, 700}, 2))
		if err != nil {
			t.Fatal(err)
		}
		res := make([][]float64, len(out))
		for i, o := range out {
			res[i], _ = tensors.CopyFlatData[float64](o)
		}
		return res
	}
	a, b := grads(nn.ConvIm2col), grads(nn.ConvDirect)
	// Relative to the largest gradient entry: some gradients are exactly 0 in exact
	// arithmetic (a conv bias right before a GroupNorm) and only roundoff (~1e-17) here.
	scale := 0.0
	for i := range b {
		for _, v := range b[i] {
			scale = max(scale, math.Abs(v))
		}
	}
	worst := 0.0
	for i := range a {
		for j := range a[i] {
			worst = max(worst, math.Abs(a[i][j]-b[i][j])/scale)
		}
	}
	t.Logf("%d parameter gradients, worst relative difference im2col vs direct: %.2g", len(a), worst)
	if worst > 1e-10 {
		t.Errorf("im2col and direct convolution gradients differ by %.3g (relative)", worst)
	}
}
