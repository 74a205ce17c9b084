// Package train trains a diffusers UNet2DModel (the project's port, belm/unet) as a DDPM
// ε-predictor, the way diffusers' examples/unconditional_image_generation/train_unconditional.py
// does, and exports its EMA weights as a diffusers model folder that unet.Load, hub.Resolve
// and pipeline.Load read.
//
// # One step
//
// For a batch x₀ of images in [−1, 1], timesteps t uniform in {0, …, T−1} and noise ε ~ N(0, I):
//
//	x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε        (ᾱ from belm.NewSchedule: DDPM linear betas 1e-4…0.02)
//	L   = mean (ε_θ(x_t, t) − ε)²
//	g   = ∇L, clipped to global norm ≤ MaxGradNorm   (torch.nn.utils.clip_grad_norm_: g·min(1, c/(‖g‖+1e-6)))
//	AdamW (nn.AdamW, PyTorch's formula: decoupled weight decay, ε outside the square root of the debiased v)
//	EMA   θ̄ ← θ̄ − (1−d_k)(θ̄ − θ),  d_k = min(EMADecay, (1+k)/(10+k))   (diffusers' EMAModel, k = step − 1)
//
// The whole step — forward, backward, clipping, Adam, EMA — is one compiled graph; the
// weights, Adam's moments and the EMA weights are variables of the UNet's model.Store,
// updated in place by the graph.
//
// # Determinism
//
// Everything random is drawn on the host from counter-based seeds: step k's timesteps and
// noise come from PCG(Seed, k), the data order of epoch e from PCG(Seed, e) (Batcher),
// the initial weights from Seed, the evaluation noise from PCG(Seed, evalStream). A run is
// therefore a function of its Config, and the state a checkpoint must hold is the tensors,
// the step and the data position: a resumed run continues with the same losses, bit for bit,
// on the same backend (TestResumeIsBitExact).
//
// # Checkpoints
//
// A checkpoint is one safetensors file (checkpoint-<step>.safetensors, written atomically):
// tensors "model/<name>", "ema/<name>", "adam_m/<name>", "adam_v/<name>" (diffusers
// state-dict names) and "eval_noise", and the metadata entry "belm_train" holding the JSON
// State (config, step, data position). The format is version 1 since the first run:
// TestResumeFormatV1 resumes a checkpoint written by the code of that time.
//
// # Data
//
// A run trains on any Images; the adapters of real data sets live with the data
// (data/fashionmnist's *Dataset, and Dataset.Padded for a larger model), never here: this
// package knows no data set.
package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/backends"
	"github.com/belmlab/workbench/belm/nn"
	"github.com/belmlab/workbench/belm/unet"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Config is a training run's configuration: everything that determines its result.
type Config struct {
	UNet      unet.Config          `json:"unet"`
	Scheduler belm.SchedulerConfig `json:"scheduler"`

	BatchSize       int     `json:"train_batch_size"`
	LearningRate    float64 `json:"learning_rate"`
	LRWarmupSteps   int     `json:"lr_warmup_steps"` // linear warm-up from 0, then constant
	AdamBeta1       float64 `json:"adam_beta1"`
	AdamBeta2       float64 `json:"adam_beta2"`
	AdamEpsilon     float64 `json:"adam_epsilon"`
	AdamWeightDecay float64 `json:"adam_weight_decay"`
	EMADecay        float64 `json:"ema_max_decay"` // 0: the EMA follows the weights
	MaxGradNorm     float64 `json:"max_grad_norm"` // ≤ 0: no clipping
	Seed            uint64  `json:"seed"`
	NumEvalImages   int     `json:"num_eval_images"` // size of the fixed evaluation noise batch
}

// DefaultConfig is train_unconditional.py's optimiser defaults (AdamW, β = (0.95, 0.999),
// ε 1e-8, weight decay 1e-6, clip 1.0, 500 warm-up steps) with a larger
// learning rate (4e-4 instead of 1e-4) and EMA decay (0.999 instead of 0.9999: a horizon
// of ~1,000 steps suits runs of a few thousand) for a small model and a short run, on the DDPM linear
// schedule, for the model of FashionMNISTUNet.
func DefaultConfig() Config {
	return Config{
		UNet:            FashionMNISTUNet(),
		Scheduler:       DDPMScheduler(),
		BatchSize:       64,
		LearningRate:    4e-4,
		LRWarmupSteps:   500,
		AdamBeta1:       0.95,
		AdamBeta2:       0.999,
		AdamEpsilon:     1e-8,
		AdamWeightDecay: 1e-6,
		EMADecay:        0.999,
		MaxGradNorm:     1,
		Seed:            0,
		NumEvalImages:   16,
	}
}

// DDPMScheduler is the training schedule: 1000 steps of linear betas 1e-4…0.02, ε-prediction
// (belm.DDPMConfig with diffusers' DDPMScheduler defaults filled in).
func DDPMScheduler() belm.SchedulerConfig {
	c := belm.DDPMConfig
	c.PredictionType = "epsilon"
	c.ClipSample = true
	c.ClipSampleRange = 1
	return c.Defaults()
}

func intPtr(v int) *int { return &v }

// FashionMNISTUNet is the model chosen for Fashion-MNIST on a 2-core CPU (see
// data/fashion-mnist/README.md for the measurements behind it): 28×28×1 images (no padding:
// two downsamplings, 28 → 14 → 7), block_out_channels (32, 64, 64), one resnet per block,
// self-attention at 14×14 and in the 7×7 mid block, GroupNorm with 8 groups.
func FashionMNISTUNet() unet.Config {
	c := unet.DefaultConfig()
	c.ClassName = "UNet2DModel"
	c.SampleSize = intPtr(28) // fashionmnist.Size (data/fashionmnist's tests check they agree)
	c.InChannels, c.OutChannels = 1, 1
	c.DownBlockTypes = []string{"DownBlock2D", "AttnDownBlock2D", "DownBlock2D"}
	c.UpBlockTypes = []string{"UpBlock2D", "AttnUpBlock2D", "UpBlock2D"}
	c.BlockOutChannels = []int{32, 64, 64}
	c.LayersPerBlock = 1
	c.AttentionHeadDim = intPtr(32)
	c.NormNumGroups = intPtr(8)
	c.NormEps = 1e-5
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []string
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Sprintf("train_batch_size %d < 1", c.BatchSize))
	}
	if !(c.LearningRate > 0) {
		errs = append(errs, fmt.Sprintf("learning_rate %g must be > 0", c.LearningRate))
	}
	if c.LRWarmupSteps < 0 {
		errs = append(errs, "lr_warmup_steps < 0")
	}
	if !(c.AdamBeta1 >= 0 && c.AdamBeta1 < 1 && c.AdamBeta2 >= 0 && c.AdamBeta2 < 1) {
		errs = append(errs, fmt.Sprintf("adam betas (%g, %g) must be in [0, 1)", c.AdamBeta1, c.AdamBeta2))
	}
	if !(c.AdamEpsilon > 0) || c.AdamWeightDecay < 0 {
		errs = append(errs, "adam_epsilon must be > 0 and adam_weight_decay ≥ 0")
	}
	if !(c.EMADecay >= 0 && c.EMADecay < 1) {
		errs = append(errs, fmt.Sprintf("ema_max_decay %g must be in [0, 1)", c.EMADecay))
	}
	if c.NumEvalImages < 0 {
		errs = append(errs, "num_eval_images < 0")
	}
	if c.UNet.SampleSize == nil {
		errs = append(errs, "the UNet config needs a sample_size (the training image size)")
	}
	if err := c.UNet.Validate(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("train: invalid config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Images is a training set: Len images of the model's shape [C, S, S] (S = sample_size).
// data/fashionmnist's *Dataset (28×28) and Dataset.Padded (e.g. 32×32) are ones.
type Images interface {
	Len() int
	// Batch returns the images at indices, a flat NCHW float32 batch in [−1, 1].
	Batch(indices []int) []float32
}

// LabelledImages is a training set of a classifier (belm/quality): Images with a class
// label each.
type LabelledImages interface {
	Images
	// BatchLabels returns the labels (0…classes−1) of the images at indices.
	BatchLabels(indices []int) []int
}

// State is the non-tensor part of a checkpoint.
type State struct {
	FormatVersion int          `json:"format_version"`
	Config        Config       `json:"config"`
	Step          int          `json:"step"` // optimisation steps done
	Data          BatcherState `json:"data"`
	DataLen       int          `json:"data_len"`
}

// StepStats is what one step reports.
type StepStats struct {
	Step     int     // the step just done (1 for the first)
	Loss     float64 // the batch's mean squared ε error, before the update
	GradNorm float64 // the global gradient norm, before clipping
	LR       float64 // the learning rate used
}

// Trainer holds a run: the UNet (its store holds weights, moments and EMA), the data
// stream and the compiled step graph.
type Trainer struct {
	cfg       Config
	backend   compute.Backend
	u         *unet.UNet
	names     []string
	params    []*model.Variable
	m, v, ema []*model.Variable
	sched     *belm.Schedule
	data      Images
	batcher   *Batcher
	step      int
	evalNoise []float32
	exec      *model.Exec
}

// Variable scopes of the optimiser state in the UNet's store.
const (
	scopeM   = "/train/adam_m"
	scopeV   = "/train/adam_v"
	scopeEMA = "/train/ema"
)

// evalStream is the PCG stream of the evaluation noise (steps use streams 1, 2, …).
const evalStream = 0xe7a1

// New starts a run from random weights (seeded by cfg.Seed) on the given backend
// ("" = $GOMLX_BACKEND or go).
func New(cfg Config, data Images, backend string) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, err := unet.NewRandom(cfg.UNet, int64(cfg.Seed), dtypes.Float32, unet.WithDifferentiableStrides(true))
	if err != nil {
		return nil, err
	}
	return newTrainer(cfg, u, data, backend)
}

func newTrainer(cfg Config, u *unet.UNet, data Images, backend string) (*Trainer, error) {
	if data == nil || data.Len() < cfg.BatchSize {
		return nil, fmt.Errorf("train: the training set has %d images, fewer than a batch of %d", lenOf(data), cfg.BatchSize)
	}
	sched, err := belm.NewSchedule(cfg.Scheduler)
	if err != nil {
		return nil, err
	}
	t0 := &Trainer{}
	be, err := t0.backendFor(backend)
	if err != nil {
		return nil, err
	}
	batcher, err := NewBatcher(data.Len(), cfg.BatchSize, cfg.Seed)
	if err != nil {
		return nil, err
	}
	t := &Trainer{cfg: cfg, backend: be, u: u, names: u.ParameterNames(), sched: sched, data: data, batcher: batcher}
	store := u.Store()
	for _, name := range t.names {
		p := store.GetVariable(varPath("", name))
		if p == nil {
			return nil, fmt.Errorf("train: internal error: no variable for %q", name)
		}
		val, err := p.Value()
		if err != nil {
			return nil, err
		}
		dims := val.Shape().Dimensions
		vals, err := tensors.CopyFlatData[float32](val)
		if err != nil {
			return nil, fmt.Errorf("train: weight %q: %w", name, err)
		}
		zeros := make([]float32, len(vals))
		mk := func(scope string, v []float32) (*model.Variable, error) {
			nv, err := store.CreateVariable(varPath(scope, name), tensors.FromFlatDataAndDimensions(v, dims...))
			if err != nil {
				return nil, err
			}
			// Not marked SetTrainable(false): on the onnx backend (compute-onnx v0.1.5, GoMLX
			// v0.28.8) updates of non-trainable variables made in the graph were not kept from
			// one execution to the next (Adam's moments and the EMA restarted from their initial
			// values every step; TestOnnxTraining catches it). Gradients are taken explicitly
			// w.r.t. t.params, so the flag changes nothing else here.
			return nv, nil
		}
		m, err1 := mk(scopeM, zeros)
		v, err2 := mk(scopeV, append([]float32(nil), zeros...))
		e, err3 := mk(scopeEMA, vals)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		t.params, t.m, t.v, t.ema = append(t.params, p), append(t.m, m), append(t.v, v), append(t.ema, e)
	}
	t.evalNoise = normal32(rand.New(rand.NewPCG(cfg.Seed, evalStream)), cfg.NumEvalImages*t.imageSize())
	return t, nil
}

// backendFor opens a backend (a method so that tests share the error handling).
func (*Trainer) backendFor(name string) (compute.Backend, error) { return backends.New(name) }

func lenOf(d Images) int {
	if d == nil {
		return 0
	}
	return d.Len()
}

// varPath is the store path of a state-dict name under scope ("" = the UNet's own weights).
func varPath(scope, name string) string {
	return model.JoinPath(model.JoinPath("/", scope), strings.ReplaceAll(name, ".", "/"))
}

func (t *Trainer) imageSize() int {
	s := *t.cfg.UNet.SampleSize
	return t.cfg.UNet.InChannels * s * s
}

// Config returns the run's configuration.
func (t *Trainer) Config() Config { return t.cfg }

// Step returns the number of optimisation steps done.
func (t *Trainer) Step() int { return t.step }

// UNet returns the model being trained (its store holds the current weights).
func (t *Trainer) UNet() *unet.UNet { return t.u }

// Backend returns the backend the step graph runs on.
func (t *Trainer) Backend() compute.Backend { return t.backend }

// EvalNoise returns the fixed evaluation noise, [NumEvalImages, C, S, S] flat (drawn from
// the seed, saved in every checkpoint), so sample grids of different checkpoints compare.
func (t *Trainer) EvalNoise() []float32 { return append([]float32(nil), t.evalNoise...) }

// LearningRateAt is the learning rate of step k (1-based): linear warm-up, then constant.
func (c Config) LearningRateAt(k int) float64 {
	if c.LRWarmupSteps > 0 && k < c.LRWarmupSteps {
		return c.LearningRate * float64(k) / float64(c.LRWarmupSteps)
	}
	return c.LearningRate
}

// EMADecayAt is diffusers' EMAModel decay at optimisation step k (1-based):
// min(EMADecay, (1+s)/(10+s)) with s = k−1.
func (c Config) EMADecayAt(k int) float64 {
	s := float64(k - 1)
	return min(c.EMADecay, (1+s)/(10+s))
}

// normal32 draws n standard normals.
func normal32(r *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64())
	}
	return out
}

// batchInputs draws step k's inputs (k 1-based): the images, timesteps, noise and the
// schedule's √ᾱ_t and √(1−ᾱ_t), all from PCG(Seed, k) and the batcher.
func (t *Trainer) batchInputs(k int) (x0, noise []float32, ts []int32, a, s []float32) {
	b := t.cfg.BatchSize
	x0 = t.data.Batch(t.batcher.Next())
	r := rand.New(rand.NewPCG(t.cfg.Seed, uint64(k)))
	nT := len(t.sched.AlphasCumprod)
	ts, a, s = make([]int32, b), make([]float32, b), make([]float32, b)
	for i := range ts {
		ti := r.IntN(nT)
		ab := t.sched.AlphasCumprod[ti]
		ts[i], a[i], s[i] = int32(ti), float32(math.Sqrt(ab)), float32(math.Sqrt(1-ab))
	}
	noise = normal32(r, len(x0))
	return
}

// Hyper-parameter vector fed to the step graph each step.
const (
	hLR = iota
	hBC1
	hBC2
	hEMA
	hN
)

// stepGraph is the training step: loss, gradients, clipping, AdamW, EMA.
func (t *Trainer) stepGraph(scope *model.Scope, in []*Node) []*Node {
	x0, noise, ts, a, s, hyper := in[0], in[1], in[2], in[3], in[4], in[5]
	g := x0.Graph()
	bcast := func(v *Node) *Node { return Reshape(v, v.Shape().Dimensions[0], 1, 1, 1) }
	xt := Add(Mul(bcast(a), x0), Mul(bcast(s), noise))
	eps := t.u.Forward(scope, xt, ts)
	loss := ReduceAllMean(Square(Sub(eps, noise)))

	nodes := make([]*Node, len(t.params))
	for i, p := range t.params {
		nodes[i] = p.NodeValue(g)
	}
	grads := Gradient(loss, nodes...)
	h := func(i int) *Node { return Reshape(Slice(hyper, AxisElem(i))) }
	lr, bc1, bc2, decay := h(hLR), h(hBC1), h(hBC2), h(hEMA)
	m, v := make([]*Node, len(t.params)), make([]*Node, len(t.params))
	for i := range t.params {
		m[i], v[i] = t.m[i].NodeValue(g), t.v[i].NodeValue(g)
	}
	w, m, v, gnorm := t.cfg.AdamW().Step(nodes, grads, m, v, lr, bc1, bc2)
	for i, p := range t.params {
		e := t.ema[i].NodeValue(g)
		e = Sub(e, Mul(OneMinus(decay), Sub(e, w[i])))
		t.m[i].SetNodeValue(m[i])
		t.v[i].SetNodeValue(v[i])
		p.SetNodeValue(w[i])
		t.ema[i].SetNodeValue(e)
	}
	return []*Node{loss, gnorm}
}

// AdamW is the optimiser of a Config (with its gradient clipping).
func (c Config) AdamW() nn.AdamW {
	return nn.AdamW{Beta1: c.AdamBeta1, Beta2: c.AdamBeta2, Epsilon: c.AdamEpsilon, WeightDecay: c.AdamWeightDecay, MaxGradNorm: c.MaxGradNorm}
}

// TrainStep runs one optimisation step.
func (t *Trainer) TrainStep() (StepStats, error) {
	if t.exec == nil {
		e, err := model.NewExec(t.backend, t.u.Store(), t.stepGraph)
		if err != nil {
			return StepStats{}, err
		}
		t.exec = e
	}
	k := t.step + 1
	x0, noise, ts, a, s := t.batchInputs(k)
	b, sz := t.cfg.BatchSize, *t.cfg.UNet.SampleSize
	ch := t.cfg.UNet.InChannels
	lr := t.cfg.LearningRateAt(k)
	hyper := make([]float32, hN)
	hyper[hLR] = float32(lr)
	bc1, bc2 := t.cfg.AdamW().BiasCorrections(k)
	hyper[hBC1], hyper[hBC2] = float32(bc1), float32(bc2)
	hyper[hEMA] = float32(t.cfg.EMADecayAt(k))
	out, err := t.exec.Exec(
		tensors.FromFlatDataAndDimensions(x0, b, ch, sz, sz),
		tensors.FromFlatDataAndDimensions(noise, b, ch, sz, sz),
		tensors.FromFlatDataAndDimensions(ts, b),
		tensors.FromFlatDataAndDimensions(a, b),
		tensors.FromFlatDataAndDimensions(s, b),
		tensors.FromFlatDataAndDimensions(hyper, hN))
	if err != nil {
		return StepStats{}, fmt.Errorf("train: step %d: %w", k, err)
	}
	loss, gn := scalar(out[0]), scalar(out[1])
	for _, o := range out {
		o.FinalizeAll()
	}
	t.step = k
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(gn) || math.IsInf(gn, 0) {
		return StepStats{}, fmt.Errorf("train: step %d: the loss (%g) or the gradient norm (%g) is not finite", k, loss, gn)
	}
	return StepStats{Step: k, Loss: loss, GradNorm: gn, LR: lr}, nil
}

func scalar(t *tensors.Tensor) float64 {
	v, err := tensors.CopyFlatData[float32](t)
	if err != nil || len(v) != 1 {
		return math.NaN()
	}
	return float64(v[0])
}

// values copies variables' float32 values.
func values(vs []*model.Variable) ([][]float32, error) {
	out := make([][]float32, len(vs))
	for i, v := range vs {
		val, err := v.Value()
		if err != nil {
			return nil, err
		}
		if out[i], err = tensors.CopyFlatData[float32](val); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EMAWeights returns the EMA weights by state-dict name.
func (t *Trainer) EMAWeights() (unet.TensorMap, error) { return t.weightMap(t.ema) }

// Weights returns the current (raw, non-EMA) weights by state-dict name.
func (t *Trainer) Weights() (unet.TensorMap, error) { return t.weightMap(t.params) }

func (t *Trainer) weightMap(vs []*model.Variable) (unet.TensorMap, error) {
	vals, err := values(vs)
	if err != nil {
		return nil, err
	}
	m := unet.TensorMap{}
	for i, name := range t.names {
		m[name] = tensors.FromFlatDataAndDimensions(vals[i], vs[i].Shape().Dimensions...)
	}
	return m, nil
}

// EMAUNet returns a UNet holding the EMA weights (a model of its own, for sampling).
func (t *Trainer) EMAUNet() (*unet.UNet, error) {
	m, err := t.EMAWeights()
	if err != nil {
		return nil, err
	}
	return unet.New(t.cfg.UNet, m)
}

// State returns the non-tensor state (what the checkpoint's metadata holds).
func (t *Trainer) State() State {
	return State{FormatVersion: 1, Config: t.cfg, Step: t.step, Data: t.batcher.State(), DataLen: t.data.Len()}
}

func (s State) marshal() (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("train: encoding the checkpoint state: %w", err)
	}
	return string(b), nil
}
