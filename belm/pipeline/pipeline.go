// Package pipeline runs the samplers and their inversions on a diffusers UNet2DModel
// checkpoint (google/ddpm-cifar10-32, google/ddpm-ema-celebahq-256, …): what the reference
// scripts do (spec §4), as plain functions shared by the CLI (belm sample, interpolate,
// reconstruct, eps) and the notebooks.
//
//	p, err := pipeline.Load("google/ddpm-cifar10-32", pipeline.Options{Backend: "onnx"})
//	s, err := p.Sampler("belm", belm.DefaultSamplerOptions, true)
//	x0, err := p.Sample(s, 20, pipeline.Noise(1, p.Size(4)), 4)
//
// Latents are flat float64 slices in NCHW order (the model's [B, C, H, W]); images are in
// [−1, 1] as the model sees them. Noise is drawn on the host (belm.Normal), so a seed gives
// the same samples on every backend.
package pipeline

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/hub"
	"github.com/belmlab/workbench/belm/unet"
)

// Options configure Load.
type Options struct {
	// DType is the computation dtype: Float32 (the default, what the reference scripts use)
	// or Float64 (exact inversion to ~1e-14; go backend only).
	DType dtypes.DType
	// Backend is the GoMLX backend: "go", "onnx", … ("": $GOMLX_BACKEND or go).
	Backend string
	// Float64Schedule computes ᾱ in float64 even when DType is Float32. By default a
	// float32 pipeline computes it as diffusers does (float32 linspace and cumprod, bit
	// for bit) and a float64 one in float64.
	Float64Schedule bool
	// UNet options (e.g. unet.WithFloat32Sinusoid(false)).
	UNet []unet.Option
}

// Pipeline is a loaded model with its scheduler and a runner.
type Pipeline struct {
	Model     *hub.Model // where it was found (nil for New)
	UNet      *unet.UNet
	Scheduler belm.SchedulerConfig
	// SchedulerDefaulted is true when the model folder had no scheduler_config.json and
	// the DDPM configuration of google/ddpm-cifar10-32 was used.
	SchedulerDefaulted bool
	Schedule           *belm.Schedule
	Runner             *belm.Runner

	epsExec *model.Exec
}

// Load resolves modelID (a folder or a Hub id: see hub.Resolve), loads its UNet and
// scheduler configuration and starts a runner on the asked backend.
func Load(modelID string, o Options) (*Pipeline, error) {
	m, err := hub.Resolve(modelID)
	if err != nil {
		return nil, err
	}
	sc, defaulted, err := m.Scheduler()
	if err != nil {
		return nil, err
	}
	u, err := unet.Load(m.UNetDir, append([]unet.Option{unet.WithDType(dtypes.Float32)}, o.UNet...)...)
	if err != nil {
		return nil, err
	}
	p, err := New(u, sc, o)
	if err != nil {
		return nil, err
	}
	p.Model, p.SchedulerDefaulted = m, defaulted
	return p, nil
}

// New builds a pipeline from a loaded UNet and a scheduler configuration.
func New(u *unet.UNet, sc belm.SchedulerConfig, o Options) (*Pipeline, error) {
	dt := o.DType
	if dt == dtypes.InvalidDType {
		dt = dtypes.Float32
	}
	sc = sc.Defaults()
	sc.Float32 = dt == dtypes.Float32 && !o.Float64Schedule
	if err := belm.ValidatePrediction(sc.PredictionType); err != nil {
		return nil, err
	}
	cfg := u.Config()
	if cfg.SampleSize == nil || *cfg.SampleSize <= 0 {
		return nil, fmt.Errorf("the UNet's config.json has no sample_size: set it to the image size the model was trained on (32 for CIFAR-10)")
	}
	sched, err := belm.NewSchedule(sc)
	if err != nil {
		return nil, err
	}
	var m belm.Model = u
	if sc.PredictionType != "epsilon" {
		m = predictor{u, sc.PredictionType}
	}
	r, err := belm.NewRunner(m, o.Backend, dt)
	if err != nil {
		return nil, err
	}
	return &Pipeline{UNet: u, Scheduler: sc, Schedule: sched, Runner: r}, nil
}

// predictor is a UNet whose output is not ε (v_prediction or sample).
type predictor struct {
	*unet.UNet
	pt string
}

func (p predictor) PredictionType() string { return p.pt }

// DType is the computation dtype.
func (p *Pipeline) DType() dtypes.DType { return p.Runner.DType() }

// Channels, Height and Width are the model's image dimensions.
func (p *Pipeline) Channels() int { return p.UNet.Config().InChannels }

// SampleSize is the model's image side (config sample_size).
func (p *Pipeline) SampleSize() int { return *p.UNet.Config().SampleSize }

// Shape is the latent shape of a batch: [batch, C, S, S].
func (p *Pipeline) Shape(batch int) []int {
	s := p.SampleSize()
	return []int{batch, p.Channels(), s, s}
}

// Size is the number of values of a batch of latents.
func (p *Pipeline) Size(batch int) int {
	s := p.SampleSize()
	return batch * p.Channels() * s * s
}

// Noise returns n standard normal values drawn from seed (belm.Normal): the same on every
// backend.
func Noise(seed uint64, n int) []float64 { return belm.Normal(seed, n) }

// Grid is the sampling grid of N steps of the model's schedule.
func (p *Pipeline) Grid(n int) (*belm.Grid, error) {
	if n < 1 {
		return nil, fmt.Errorf("--num_inference_steps must be ≥ 1, got %d", n)
	}
	if n > p.Scheduler.NumTrainTimesteps {
		return nil, fmt.Errorf("--num_inference_steps %d exceeds the model's %d training timesteps", n, p.Scheduler.NumTrainTimesteps)
	}
	return p.Schedule.Grid(n)
}

// Sampler parses a --sampler_type name (belm.ParseSampler). With sampling true, ddim is
// the DDIMPipeline's DDIM, which clips x̂₀ when the scheduler config says clip_sample (as
// the reference CIFAR-10 / CelebA-HQ scripts sample); otherwise, for inversion and
// reconstruction, DDIM is the plain linear map.
func (p *Pipeline) Sampler(name string, o belm.SamplerOptions, sampling bool) (belm.Sampler, error) {
	s, err := belm.ParseSampler(name, o)
	if err != nil {
		return nil, err
	}
	if d, ok := s.(belm.DDIM); ok && sampling && p.Scheduler.ClipSample {
		d.Clip = p.Scheduler.ClipSampleRange
		return d, nil
	}
	return s, nil
}

func (p *Pipeline) tensor(v []float64, batch int) (*tensors.Tensor, error) {
	if len(v) != p.Size(batch) {
		return nil, fmt.Errorf("%d values for a batch of %d latents %v (want %d)", len(v), batch, p.Shape(batch), p.Size(batch))
	}
	return belm.NewTensor(v, p.DType(), p.Shape(batch)...)
}

// Sample runs s for n steps from the noise x_N (batch latents) down to x_0 and returns
// x_0 (unclipped; images are x_0 clamped to [−1, 1]).
func (p *Pipeline) Sample(s belm.Sampler, n int, noise []float64, batch int) ([]float64, error) {
	g, err := p.Grid(n)
	if err != nil {
		return nil, err
	}
	x, err := p.tensor(noise, batch)
	if err != nil {
		return nil, err
	}
	out, err := p.Runner.Sample(s, g, belm.State{Level: g.N(), Latents: []*tensors.Tensor{x}})
	if err != nil {
		return nil, err
	}
	return belm.Values(out)
}

// Invert runs s for n steps from the images x0 (batch latents in [−1, 1]) up to the noise
// and returns the state to sample back from.
func (p *Pipeline) Invert(s belm.Sampler, n int, x0 []float64, batch int) (belm.State, error) {
	g, err := p.Grid(n)
	if err != nil {
		return belm.State{}, err
	}
	x, err := p.tensor(x0, batch)
	if err != nil {
		return belm.State{}, err
	}
	return p.Runner.Invert(s, g, x, g.N())
}

// SampleFrom samples from an inverted (or interpolated) state down to x_0.
func (p *Pipeline) SampleFrom(s belm.Sampler, n int, st belm.State) ([]float64, error) {
	g, err := p.Grid(n)
	if err != nil {
		return nil, err
	}
	out, err := p.Runner.Sample(s, g, st)
	if err != nil {
		return nil, err
	}
	return belm.Values(out)
}

// Reconstruct inverts x0 with s and samples back; it returns the reconstruction and the
// inverted noise x_N.
func (p *Pipeline) Reconstruct(s belm.Sampler, n int, x0 []float64, batch int) (recon, xN []float64, err error) {
	st, err := p.Invert(s, n, x0, batch)
	if err != nil {
		return nil, nil, err
	}
	if xN, err = belm.Values(st.X()); err != nil {
		return nil, nil, err
	}
	recon, err = p.SampleFrom(s, n, st)
	return recon, xN, err
}

// Eps evaluates the UNet on x [B, C, H, W] at the network timesteps t (a scalar or [B])
// in the pipeline's dtype, on its backend (x and t are converted to that dtype).
func (p *Pipeline) Eps(x, t *tensors.Tensor) (*tensors.Tensor, error) {
	xv, err := belm.Values(x)
	if err != nil {
		return nil, fmt.Errorf("x: %w", err)
	}
	tv, err := belm.Values(t)
	if err != nil {
		return nil, fmt.Errorf("t: %w", err)
	}
	dims := x.Shape().Dimensions
	if len(dims) != 4 || dims[1] != p.Channels() {
		return nil, fmt.Errorf("x has shape %v: want [batch, %d, H, W]", dims, p.Channels())
	}
	if len(tv) != 1 && len(tv) != dims[0] {
		return nil, fmt.Errorf("t has %d values: want 1 or the batch size %d", len(tv), dims[0])
	}
	if len(tv) == 1 {
		tv = append(make([]float64, 0, dims[0]), tv[0])
		for len(tv) < dims[0] {
			tv = append(tv, tv[0])
		}
	}
	xt, err := belm.NewTensor(xv, p.DType(), dims...)
	if err != nil {
		return nil, err
	}
	tt, err := belm.NewTensor(tv, p.DType(), len(tv))
	if err != nil {
		return nil, err
	}
	if p.epsExec == nil {
		p.epsExec, err = model.NewExec(p.Runner.Backend(), p.UNet.Store(), func(scope *model.Scope, x, t *Node) *Node {
			return p.UNet.Forward(scope, x, t)
		})
		if err != nil {
			return nil, err
		}
	}
	out, err := p.epsExec.Exec(xt, tt)
	if err != nil {
		return nil, fmt.Errorf("evaluating the UNet: %w", err)
	}
	return out[0], nil
}

// SplitState splits a batched state into one state per batch element.
func SplitState(st belm.State) ([]belm.State, error) {
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
// instead of the paper's whole-vector one (Eq. 64, belm.Slerp).
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
		if dims[0] != 1 || len(za) != len(zb) {
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

// NoiseState is the state of a single noise latent z (batch 1) at the top of n steps.
func (p *Pipeline) NoiseState(z []float64, n int) (belm.State, error) {
	t, err := p.tensor(z, 1)
	if err != nil {
		return belm.State{}, err
	}
	return belm.State{Level: n, Latents: []*tensors.Tensor{t}}, nil
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

// Errors are the reconstruction errors of one image (or their average).
type Errors struct {
	// Latent is the mean squared difference of the latents (the reconstruction, unclipped,
	// against the input), the reference's mse1; for a pixel-space UNet the latent is the
	// image in [−1, 1].
	Latent float64 `json:"mse_latent"`
	// PM1 is the mean squared pixel difference on the [−1, 1] scale, the reconstruction
	// clamped to [−1, 1]: the paper's Table 2 metric.
	PM1 float64 `json:"mse_pm1"`
	// Unit is the mean squared pixel difference on the [0, 1] scale between the 8-bit
	// output image and the (8-bit, resized) input: the reference code's mse2 (≈ PM1/4).
	Unit float64 `json:"mse_01"`
}

// ReconstructionErrors returns the errors of each image of a batch (n values per image).
func ReconstructionErrors(x0, recon []float64, batch int) []Errors {
	n := len(x0) / batch
	out := make([]Errors, batch)
	for b := range out {
		var e Errors
		for i := b * n; i < (b+1)*n; i++ {
			d := recon[i] - x0[i]
			e.Latent += d * d
			c := math.Max(-1, math.Min(1, recon[i]))
			d = c - x0[i]
			e.PM1 += d * d
			d = float64(Quantize(recon[i]))/255 - (x0[i]+1)/2
			e.Unit += d * d
		}
		e.Latent /= float64(n)
		e.PM1 /= float64(n)
		e.Unit /= float64(n)
		out[b] = e
	}
	return out
}

// Mean averages errors.
func Mean(es []Errors) Errors {
	var m Errors
	for _, e := range es {
		m.Latent += e.Latent
		m.PM1 += e.PM1
		m.Unit += e.Unit
	}
	if k := float64(len(es)); k > 0 {
		m.Latent /= k
		m.PM1 /= k
		m.Unit /= k
	}
	return m
}
