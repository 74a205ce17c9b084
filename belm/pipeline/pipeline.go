// Package pipeline runs the samplers and their inversions on a model: what the reference
// scripts do (spec §4), as plain functions shared by the CLI (belm sample, interpolate,
// reconstruct, eps, edit, txt2img), the studies (package study) and the notebooks.
//
// A pipeline is an ε-model (any belm.Model: a diffusers UNet2DModel, an analytic model, …)
// with one scheduler configuration and a runner, plus
//
//   - a Codec between the images and the latents the model works on: the identity for
//     pixel-space models (Identity), a VAE for latent diffusion;
//   - optionally a Conditioner (class labels, text embeddings, a CFG weight), applied before
//     every pass, so that inversion and sampling see the same ε (spec §2.8).
//
// Load reads a diffusers UNet2DModel folder or Hub id (a Stable Diffusion folder loads
// through belm/sd, which builds the same Pipeline with a VAE codec and prompts); New takes
// any model.
//
//	p, err := pipeline.Load("google/ddpm-cifar10-32", pipeline.Options{Backend: "onnx"})
//	s, err := p.Sampler("belm", belm.DefaultSamplerOptions, true)
//	x0, err := p.Sample(s, 20, pipeline.Noise(1, p.Size(4)), 4)
//
// Latents are flat float64 slices in the model's layout ([B, C, H, W] for a UNet: NCHW);
// images are flat NCHW values in [−1, 1]. Noise is drawn on the host (belm.Normal), so a
// seed gives the same samples on every backend.
package pipeline

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/hub"
	"github.com/belmlab/workbench/belm/unet"
)

// Options configure Load and New.
type Options struct {
	// DType is the computation dtype: Float32 (the default, what the reference scripts use)
	// or Float64 (exact inversion to ~1e-14; go backend only).
	DType dtypes.DType
	// Backend is the GoMLX backend: "go", "onnx", … ("": $GOMLX_BACKEND or go).
	Backend string
	// Float64Schedule computes ᾱ in float64 even when DType is Float32. By default a
	// float32 pipeline computes it as diffusers does (float32 linspace and cumprod, bit
	// for bit) and a float64 one in float64 — unless the scheduler configuration itself
	// asks for float32 (SchedulerConfig.Float32), which is then kept.
	Float64Schedule bool
	// UNet options (e.g. unet.WithFloat32Sinusoid(false)), for Load.
	UNet []unet.Option
	// Codec maps images to latents and back. nil: the identity on the image shape of the
	// model's UNet config (in_channels × sample_size²); a model without one needs a Codec.
	Codec Codec
	// Conditioner, if set, conditions every pass (see Conditioner).
	Conditioner Conditioner
}

// Pipeline is a loaded model with its codec, conditioning, scheduler and a runner.
type Pipeline struct {
	Model *hub.Model // where it was found (nil for New)
	// Net is the ε-model (as given: before any conversion of its prediction type).
	Net belm.Model
	// UNet is Net when it is a diffusers UNet2DModel (Load, or New with a *unet.UNet), else
	// nil: for callers that read its config or parameter count.
	UNet        *unet.UNet
	Codec       Codec
	Conditioner Conditioner // nil: unconditional
	// SchedulerDefaulted is true when the model folder had no scheduler_config.json and
	// the DDPM configuration of google/ddpm-cifar10-32 was used.
	SchedulerDefaulted bool
	// Schedule is ᾱ of the scheduler configuration; Schedule.Config is that configuration
	// (defaults filled in), the one place the pipeline and its samplers read it from.
	Schedule *belm.Schedule
	Runner   *belm.Runner

	epsExec *model.Exec
}

// Configured is a network with a diffusers UNet2DModel configuration (*unet.UNet): the
// pipeline takes its image shape from it (in_channels × sample_size²) and EstimateBytes
// walks its forward pass.
type Configured interface {
	Config() unet.Config
}

// Parameterized is a network with weights (*unet.UNet): EstimateBytes counts them.
type Parameterized interface {
	NumParameters() int
	DType() dtypes.DType
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
	if u.Conditional() {
		return nil, fmt.Errorf("%s is a UNet2DConditionModel, a text-conditioned latent model: load its Stable Diffusion folder (unet/, vae/, text_encoder/, tokenizer/) with belm/sd", modelID)
	}
	p, err := New(u, sc, o)
	if err != nil {
		return nil, err
	}
	p.Model, p.SchedulerDefaulted = m, defaulted
	return p, nil
}

// New builds a pipeline from an ε-model (a loaded UNet, an analytic model, …) and a
// scheduler configuration. A model that predicts v or x̂₀ says so in the configuration's
// prediction_type.
func New(m belm.Model, sc belm.SchedulerConfig, o Options) (*Pipeline, error) {
	dt := o.DType
	if dt == dtypes.InvalidDType {
		dt = dtypes.Float32
	}
	sc.Float32 = sc.Float32 || dt == dtypes.Float32 && !o.Float64Schedule
	sc = sc.Defaults()
	if err := belm.ValidatePrediction(sc.PredictionType); err != nil {
		return nil, err
	}
	codec, err := codecFor(m, o.Codec)
	if err != nil {
		return nil, err
	}
	sched, err := belm.NewSchedule(sc)
	if err != nil {
		return nil, err
	}
	net := m
	if sc.PredictionType != "epsilon" {
		net = predictor{m, sc.PredictionType}
	}
	r, err := belm.NewRunner(net, o.Backend, dt)
	if err != nil {
		return nil, err
	}
	u, _ := m.(*unet.UNet)
	return &Pipeline{Net: m, UNet: u, Codec: codec, Conditioner: o.Conditioner, Schedule: sched, Runner: r}, nil
}

// codecFor is the given codec, or the identity on the image shape of m's UNet config.
func codecFor(m belm.Model, c Codec) (Codec, error) {
	if c != nil {
		return c, checkShapes(c)
	}
	cm, ok := m.(Configured)
	if !ok {
		return nil, fmt.Errorf("the model (%T) has no UNet config to take its image shape from: give pipeline.Options.Codec (pipeline.Identity{Shape: …} for a pixel-space model)", m)
	}
	cfg := cm.Config()
	if cfg.SampleSize == nil || *cfg.SampleSize <= 0 {
		return nil, fmt.Errorf("the UNet's config.json has no sample_size: set it to the image size the model was trained on (32 for CIFAR-10)")
	}
	s := *cfg.SampleSize
	return Identity{Shape: []int{cfg.InChannels, s, s}}, nil
}

// predictor is a model whose output is not ε (v_prediction or sample); the runner converts
// it. Its weights stay the model's (Store).
type predictor struct {
	belm.Model
	pt string
}

func (p predictor) PredictionType() string { return p.pt }

// Store is the wrapped model's store (nil if it has none).
func (p predictor) Store() *model.Store {
	if sp, ok := p.Model.(belm.StoreProvider); ok {
		return sp.Store()
	}
	return nil
}

// DType is the computation dtype.
func (p *Pipeline) DType() dtypes.DType { return p.Runner.DType() }

// LatentShape is the shape of one latent (without the batch axis).
func (p *Pipeline) LatentShape() []int { return p.Codec.LatentShape() }

// ImageShape is the shape [C, H, W] of one image.
func (p *Pipeline) ImageShape() []int { return p.Codec.ImageShape() }

// Channels is the number of channels of an image (1 for an image shape that is not [C, H, W]).
func (p *Pipeline) Channels() int {
	if s := p.ImageShape(); len(s) == 3 {
		return s[0]
	}
	return 1
}

// SampleSize is an image's side (its height; the models here make square images), 0 for
// an image shape that is not [C, H, W].
func (p *Pipeline) SampleSize() int {
	if s := p.ImageShape(); len(s) == 3 {
		return s[1]
	}
	return 0
}

// Shape is the latent shape of a batch: [batch, LatentShape()…].
func (p *Pipeline) Shape(batch int) []int { return append([]int{batch}, p.LatentShape()...) }

// Size is the number of values of a batch of latents.
func (p *Pipeline) Size(batch int) int { return batch * prod(p.LatentShape()) }

// ImageSize is the number of values of a batch of images.
func (p *Pipeline) ImageSize(batch int) int { return batch * prod(p.ImageShape()) }

func prod(v []int) int {
	n := 1
	for _, x := range v {
		n *= x
	}
	return n
}

// Noise returns n standard normal values drawn from seed (belm.Normal): the same on every
// backend.
func Noise(seed uint64, n int) []float64 { return belm.Normal(seed, n) }

// Grid is the sampling grid of N steps of the model's schedule.
func (p *Pipeline) Grid(n int) (*belm.Grid, error) {
	if n < 1 {
		return nil, fmt.Errorf("--num_inference_steps must be ≥ 1, got %d", n)
	}
	if n > p.Schedule.Config.NumTrainTimesteps {
		return nil, fmt.Errorf("--num_inference_steps %d exceeds the model's %d training timesteps", n, p.Schedule.Config.NumTrainTimesteps)
	}
	return p.Schedule.Grid(n)
}

// SetClipSample turns DDIM's x̂₀ clipping when sampling on or off (clip_sample; the range
// stays clip_sample_range, 1 when unset). Samplers made afterwards follow it.
func (p *Pipeline) SetClipSample(on bool) {
	c := &p.Schedule.Config
	c.ClipSample = on
	if c.ClipSampleRange == 0 {
		c.ClipSampleRange = 1
	}
}

// Sampler parses a --sampler_type name (belm.ParseSampler) and configures it for the
// pipeline's scheduler (belm.ScheduleAware): with sampling true, ddim is the DDIMPipeline's
// DDIM, which clips x̂₀ when the scheduler config says clip_sample (as the reference
// CIFAR-10 / CelebA-HQ scripts sample); otherwise, for inversion and reconstruction, DDIM is
// the plain linear map. When the scheduler config says set_alpha_to_one false (Stable
// Diffusion 1.x ships it), DDIM's last step lands on ᾱ₀ = alphas_cumprod[0] instead of the
// clean endpoint, in both directions, as diffusers does; the BELM family keeps the
// reference's clean endpoint α = 1 (belm.DDIM.Final).
func (p *Pipeline) Sampler(name string, o belm.SamplerOptions, sampling bool) (belm.Sampler, error) {
	s, err := belm.ParseSampler(name, o)
	if err != nil {
		return nil, err
	}
	if a, ok := s.(belm.ScheduleAware); ok {
		return a.ForSchedule(p.Schedule, sampling), nil
	}
	return s, nil
}

// Samplers parses each name with Sampler and checks every step count N on the schedule:
// what a study needs before any work.
func (p *Pipeline) Samplers(names []string, o belm.SamplerOptions, sampling bool, ns ...int) ([]belm.Sampler, error) {
	var out []belm.Sampler
	for _, name := range names {
		s, err := p.Sampler(name, o, sampling)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	for _, n := range ns {
		if _, err := p.Grid(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (p *Pipeline) tensor(v []float64, batch int) (*tensors.Tensor, error) {
	if len(v) != p.Size(batch) {
		return nil, fmt.Errorf("%d values for a batch of %d latents %v (want %d)", len(v), batch, p.Shape(batch), p.Size(batch))
	}
	return belm.NewTensor(v, p.DType(), p.Shape(batch)...)
}

// Sample runs s for n steps from the noise x_N (batch latents) down to x_0 and returns
// x_0 (unclipped latents; Decode turns them into images).
func (p *Pipeline) Sample(s belm.Sampler, n int, noise []float64, batch int) ([]float64, error) {
	x, err := p.tensor(noise, batch)
	if err != nil {
		return nil, err
	}
	return p.SampleFrom(s, n, belm.State{Level: n, Latents: []*tensors.Tensor{x}})
}

// Invert runs s for n steps from the clean latents x0 (batch of them; for a pixel-space
// model the images in [−1, 1]) up to the noise and returns the state to sample back from.
func (p *Pipeline) Invert(s belm.Sampler, n int, x0 []float64, batch int) (belm.State, error) {
	return p.InvertPartial(s, n, 0, x0, batch)
}

// InvertPartial is the reference editing script's partial inversion (freeze_step F, spec
// §2.7): it runs only the first n − freeze inverse steps of the n-step grid and returns the
// state at level n − freeze; SampleFrom then samples the remaining n − freeze steps back.
// freeze 0 is a full inversion.
func (p *Pipeline) InvertPartial(s belm.Sampler, n, freeze int, x0 []float64, batch int) (belm.State, error) {
	g, err := p.Grid(n)
	if err != nil {
		return belm.State{}, err
	}
	if freeze < 0 || freeze >= n {
		return belm.State{}, fmt.Errorf("--freeze_step %d must be in [0, %d) for %d steps: it is the number of the noisiest steps left out of the inversion", freeze, n, n)
	}
	x, err := p.tensor(x0, batch)
	if err != nil {
		return belm.State{}, err
	}
	if err := p.condition(batch); err != nil {
		return belm.State{}, err
	}
	return p.Runner.Invert(s, g, x, g.N()-freeze)
}

// SampleFrom samples from an inverted (or interpolated) state down to x_0.
func (p *Pipeline) SampleFrom(s belm.Sampler, n int, st belm.State) ([]float64, error) {
	g, err := p.Grid(n)
	if err != nil {
		return nil, err
	}
	if len(st.Latents) == 0 || st.X() == nil {
		return nil, fmt.Errorf("sampling from an empty state: give the noise or an inverted state")
	}
	if err := p.condition(st.X().Shape().Dimensions[0]); err != nil {
		return nil, err
	}
	out, err := p.Runner.Sample(s, g, st)
	if err != nil {
		return nil, err
	}
	return belm.Values(out)
}

// Reconstruct inverts the latents x0 with s and samples back; it returns the reconstructed
// latents and the inverted noise x_N.
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

// NoiseState is the state of a single noise latent z (batch 1) at the top of n steps.
func (p *Pipeline) NoiseState(z []float64, n int) (belm.State, error) {
	t, err := p.tensor(z, 1)
	if err != nil {
		return belm.State{}, err
	}
	return belm.State{Level: n, Latents: []*tensors.Tensor{t}}, nil
}
