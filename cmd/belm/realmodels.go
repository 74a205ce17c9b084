package main

// The reference scripts on diffusers UNet2DModel checkpoints (spec §4): sample (cifar10.py /
// celeba.py), interpolate (interpolate.py), reconstruct (reconstruction.py on a pixel-space
// model), and eps, which evaluates the model on given inputs to check the port against any
// other implementation. The experiments are package belm/study's, on a belm/pipeline.

import (
	"fmt"
	"image"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/backends"
	"github.com/belmlab/workbench/belm/hub"
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/belmlab/workbench/belm/sd"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/viz"
)

func init() {
	register("sample", "sample images from a diffusers UNet2DModel (google/ddpm-cifar10-32, …): PNGs and a grid per batch", runSample)
	register("interpolate", "slerp between two noises (or two inverted images) and sample: one 11-wide grid per pair", runInterpolate)
	register("eps", "evaluate a UNet (UNet2DModel, or UNet2DConditionModel with encoder_hidden_states) on the tensors of a safetensors file; write its output and ε", runEps)
}

// modelFlags are the flags of the commands that run a real model.
type modelFlags struct {
	modelID    string
	dtype      *string
	backend    string
	gamma, p   float64
	clipSample *string
	quiet      bool
	sdf        *sdFlags  // the Stable Diffusion flags of the commands that take them (nil: none)
	sd         *sd.Model // set by load when the model is a Stable Diffusion folder
}

// modelDefaults are the defaults of modelFlags that differ between commands.
type modelDefaults struct {
	modelID, dtype string
	options        belm.SamplerOptions
}

var defaultModel = modelDefaults{"google/ddpm-cifar10-32", "float32", belm.DefaultSamplerOptions}

func (m *modelFlags) register(fs *flagSet, def modelDefaults) {
	fs.StringVar(&m.modelID, "model_id", def.modelID, "a diffusers model folder, or a Hub id (looked up in the Hugging Face cache, downloaded when online)")
	m.dtype = dtypeFlag(fs, def.dtype, " (float64: go backend only)")
	fs.StringVar(&m.backend, "backend", "", "GoMLX backend: go | onnx | xla (default $GOMLX_BACKEND or go; onnx needs -tags onnx)")
	samplerOptionFlags(fs, &m.gamma, &m.p, def.options)
	m.clipSample = fs.Choice("clip_sample", "config", []string{"config", "true", "false"}, "clip DDIM's x̂₀ to [−1, 1] when sampling: config (scheduler_config.json's clip_sample, as DDIMPipeline does)")
	fs.BoolVar(&m.quiet, "quiet", false, "no progress bar and no notes on stderr")
}

func (m *modelFlags) options() belm.SamplerOptions {
	return belm.SamplerOptions{BDIAGamma: m.gamma, EDICTP: m.p}
}

func (m *modelFlags) load() (*pipeline.Pipeline, error) {
	dt, err := parseDType(*m.dtype)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	p, err := m.loadPipeline(dt)
	if err != nil {
		return nil, err
	}
	if *m.clipSample != "config" {
		p.SetClipSample(*m.clipSample == "true")
	}
	if !m.quiet {
		fmt.Fprintf(os.Stderr, "model %s (%s: %s), %d parameters, %d×%d×%d, %s on %s, loaded in %s\n",
			m.modelID, p.Model.Source, p.Model.UNetDir, p.UNet.NumParameters(), p.Channels(), p.SampleSize(), p.SampleSize(),
			p.DType(), p.Runner.Backend().Name(), time.Since(start).Round(time.Millisecond))
		if !builtWithSIMD && strings.Contains(strings.ToLower(p.Runner.Backend().Name()), "go") {
			fmt.Fprintf(os.Stderr, "note: this belm was built without GOEXPERIMENT=simd, so the go backend's matrix products run ~6× slower: build with make, or GOEXPERIMENT=simd go run ./cmd/belm …\n")
		}
		if p.SchedulerDefaulted {
			fmt.Fprintf(os.Stderr, "note: %s has no scheduler_config.json: using google/ddpm-cifar10-32's (linear betas 1e-4…0.02, 1000 steps, leading spacing, clip_sample)\n", p.Model.Dir)
		}
	}
	return p, nil
}

// loadPipeline loads the model: a Stable Diffusion folder through package sd (its
// conditioning set from the SD flags), any other diffusers UNet folder through pipeline.Load.
func (m *modelFlags) loadPipeline(dt dtypes.DType) (*pipeline.Pipeline, error) {
	if h, err := hub.Resolve(m.modelID); err != nil || !sd.IsStableDiffusion(h) {
		return pipeline.Load(m.modelID, pipeline.Options{DType: dt, Backend: m.backend})
	}
	f := m.sdf
	if f == nil {
		f = &sdFlags{guidance: 1}
	}
	var err error
	if m.sd, err = sd.Load(m.modelID, f.options(dt, m.backend)); err != nil {
		return nil, err
	}
	if err := m.sd.Condition(f.prompt, f.negative, f.guidance); err != nil {
		return nil, err
	}
	return m.sd.Pipeline, nil
}

// progress is the progress bar of a study on stderr (nil with --quiet).
func (m *modelFlags) progress() study.Progress {
	if m.quiet {
		return nil
	}
	return newProgress(os.Stderr).update
}

// start is how every command that runs a model begins, before any work: check the output
// folder (against the input folder, if any), load the model, refuse a batch (named by
// batchFlag, e.g. "--batch_size 8") whose UNet forward would not fit in memory.
func (m *modelFlags) start(saveDir, inputDir string, batch int, batchFlag string) (*pipeline.Pipeline, error) {
	if err := checkOutputDir("save_dir", saveDir, inputDir); err != nil {
		return nil, err
	}
	p, err := m.load()
	if err != nil {
		return nil, err
	}
	return p, m.checkBatch(p, batch, batchFlag)
}

// checkBatch refuses a batch of images whose work would not fit in memory (before any
// work): the UNet forward of the batch (twice it with guidance) and, for Stable Diffusion,
// the VAE's decode of the batch and the other parts' weights.
func (m *modelFlags) checkBatch(p *pipeline.Pipeline, batch int, flags string) error {
	if cfg := strings.ToLower(backends.Resolve(m.backend)); strings.Contains(cfg, "cuda") || strings.Contains(cfg, "rocm") {
		return nil // activations live in the accelerator's memory, which this check does not see
	}
	if m.sd != nil {
		return checkMemory(fmt.Sprintf("%s (a UNet forward of %d latents, then a VAE decode of %d images of %d×%d)", flags, m.sdf.unetBatch(batch), batch, p.SampleSize(), p.SampleSize()),
			float64(m.sd.EstimateBytes(m.sdf.unetBatch(batch), batch)))
	}
	return checkMemory(fmt.Sprintf("%s (a UNet forward of %d images of %d×%d×%d)", flags, batch, p.Channels(), p.SampleSize(), p.SampleSize()),
		float64(p.EstimateBytes(batch)))
}

func savePNG(img image.Image, path string) error { return viz.SaveImagePNG(img, path) }

// gridOf tiles a batch of images in [−1, 1].
func gridOf(p *pipeline.Pipeline, x []float64, batch, cols int) (*image.RGBA, error) {
	s := p.SampleSize()
	return viz.ImageGrid(viz.Images{Data: x, Shape: [4]int{batch, p.Channels(), s, s}, Layout: viz.NCHW, Range: viz.MinusOneOne},
		viz.GridOptions{Cols: cols})
}

// runSample is cifar10.py / celeba.py (study.Samples): batch k is the noise of seed k,
// its PNGs and grid written as soon as it is sampled.
func runSample(args []string) error {
	fs := newFlagSet("sample")
	var mf modelFlags
	mf.register(fs, defaultModel)
	sampler := fs.NonEmpty("sampler_type", "belm", "one of: "+registeredSamplers())
	n := fs.Int("num_inference_steps", 20, between(1, 1000), "number of steps N")
	batch := fs.Int("batch_size", 16, between(1, 1<<20), "images per batch (reference: 1024 for CIFAR-10, 128 for CelebA-HQ)")
	testNum := fs.Int("test_num", 1, between(1, 1<<30), "number of batches, one per seed (reference: 1000)")
	seed := fs.Uint64("seed", 1, "seed of the first batch; batch k uses seed+k (noise drawn on the host: the same on every backend)")
	startIndex := fs.Int("start_index", 0, atLeast(0), "added to the seeds (the reference's --start_index)")
	saveDir := fs.String("save_dir", "out/samples", "folder for the PNGs")
	var sh shard
	sh.register(fs) // the shards' files together are the whole run's: no merge needed
	if err := fs.parse(args); err != nil {
		return err
	}
	p, err := mf.start(*saveDir, "", *batch, fmt.Sprintf("--batch_size %d", *batch))
	if err != nil {
		return err
	}
	sams, err := p.Samplers([]string{*sampler}, mf.options(), true, *n)
	if err != nil {
		return err
	}
	var seeds []uint64
	for k := 0; k < *testNum; k++ {
		if sh.has(k) {
			seeds = append(seeds, *seed+uint64(*startIndex)+uint64(k))
		}
	}
	stop := newStopper(func() string { return "the batches finished are in " + *saveDir })
	defer stop.stop()
	start, files := time.Now(), 0
	_, err = study.Samples(stop.context(), p, study.SamplesConfig{Samplers: sams, N: *n, BatchSize: *batch, Seeds: seeds, Progress: mf.progress(),
		Batch: func(b study.SampleBatch) error {
			k, err := saveSamples(p, *saveDir, b)
			files += k
			return err
		}})
	if err != nil {
		return stop.interrupted(err, fmt.Sprintf("the batches finished are in %s", *saveDir))
	}
	if !mf.quiet {
		fmt.Fprintf(os.Stderr, "%d images (%d NFE) in %s → %s\n", files, p.Runner.NFE(), time.Since(start).Round(time.Millisecond), *saveDir)
	}
	return nil
}

// saveSamples writes a batch's images and their grid as the reference names them; it
// returns the number of images written.
func saveSamples(p *pipeline.Pipeline, dir string, b study.SampleBatch) (int, error) {
	k := len(b.Images) / p.ImageSize(1)
	imgs, err := p.Images(b.Images, k)
	if err != nil {
		return 0, err
	}
	prefix := fmt.Sprintf("%s_inference%d_seed%d", b.Sampler, b.N, b.Seed)
	for i, img := range imgs {
		if err := savePNG(img, filepath.Join(dir, fmt.Sprintf("%s_%d.png", prefix, i))); err != nil {
			return i, err
		}
	}
	grid, err := gridOf(p, b.Images, k, 0)
	if err != nil {
		return k, err
	}
	return k, savePNG(grid, filepath.Join(dir, prefix+"_grid.png"))
}

// interpFlags are the flags of belm interpolate.
type interpFlags struct {
	mf                      modelFlags
	src                     imageSource
	sampler, slerp, saveDir *string
	n, testNum, weights     *int
	seed                    *uint64
}

func (f *interpFlags) register(fs *flagSet) {
	f.mf.register(fs, defaultModel)
	f.sampler = fs.NonEmpty("sampler_type", "belm", "the sampler (the reference always uses belm); exact ones (belm, edict, bdia) reproduce the endpoints of image pairs")
	f.n = fs.Int("num_inference_steps", 20, between(1, 1000), "number of steps N")
	f.testNum = fs.Int("test_num", 2, between(1, 1<<20), "number of pairs (seeds, or image pairs with --directory / --dataset)")
	f.seed = fs.Uint64("seed", 1, "pair k draws its two noises from seed+k")
	f.src.register(fs, "interpolate between inverted images (pairs 1–2, 3–4, …) instead of noises")
	f.slerp = fs.Choice("slerp", "whole", []string{"whole", "per_channel"}, "whole (paper Eq. 64) | per_channel (the reference script's)")
	f.weights = fs.Int("num_weights", 11, between(2, 1000), "interpolation weights per row, 0 … 1")
	f.saveDir = fs.String("save_dir", "out/interpolate", "folder for the grids")
}

// runInterpolate is interpolate.py (study.InterpolateNoises), or the same between
// inverted images (study.InterpolateImages): a grid per pair, written as it is sampled,
// and one of every pair.
func runInterpolate(args []string) error {
	fs := newFlagSet("interpolate")
	var f interpFlags
	f.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	// One row of --num_weights images is sampled as a batch.
	p, err := f.mf.start(*f.saveDir, f.src.directory, *f.weights, fmt.Sprintf("--num_weights %d", *f.weights))
	if err != nil {
		return err
	}
	s, err := p.Sampler(*f.sampler, f.mf.options(), !f.src.given())
	if err != nil {
		return err
	}
	cfg := study.InterpolationConfig{Sampler: s, N: *f.n, Weights: pipeline.InterpolationWeights(*f.weights - 1), PerChannel: *f.slerp == "per_channel", Progress: f.mf.progress()}
	stop := newStopper(func() string { return "the grids finished are in " + *f.saveDir })
	defer stop.stop()
	var res study.InterpolationResult
	var labels []string
	cfg.Row = func(r study.InterpolationRow) error {
		return f.saveGrid(p, cfg.Weights, r.Images, 1, fmt.Sprintf("%s_%s_inter_%s_%d.png", labels[r.Pair], s.Name(), *f.slerp, *f.n))
	}
	if f.src.given() {
		var x []float64
		if x, labels, err = imagePairs(p, &f.src, *f.testNum); err == nil {
			res, err = study.InterpolateImages(stop.context(), p, cfg, x)
		}
	} else {
		var z []float64
		z, labels = noisePairs(p, *f.seed, *f.testNum)
		res, err = study.InterpolateNoises(stop.context(), p, cfg, z)
	}
	if err != nil {
		return stop.interrupted(err, fmt.Sprintf("the grids finished are in %s", *f.saveDir))
	}
	if res.Pairs > 1 { // every pair in one grid, a row each
		return f.saveGrid(p, cfg.Weights, res.Images, res.Pairs, fmt.Sprintf("all_%s_inter_%s_%d.png", s.Name(), *f.slerp, *f.n))
	}
	return nil
}

// saveGrid writes the interpolation grid of x (rows pairs of len(weights) images) as name.
func (f *interpFlags) saveGrid(p *pipeline.Pipeline, weights, x []float64, rows int, name string) error {
	sz := p.SampleSize()
	grid, err := viz.InterpolationGrid(viz.Images{Data: x, Shape: [4]int{rows * len(weights), p.Channels(), sz, sz}, Layout: viz.NCHW, Range: viz.MinusOneOne},
		weights, viz.GridOptions{})
	if err != nil {
		return err
	}
	path := filepath.Join(*f.saveDir, name)
	if err := savePNG(grid, path); err != nil {
		return err
	}
	if !f.mf.quiet {
		fmt.Fprintf(os.Stderr, "%s\n", path)
	}
	return nil
}

// imagePairs loads the images of src as pairs (1–2, 3–4, …; at most testNum pairs), with a
// label per pair.
func imagePairs(p *pipeline.Pipeline, src *imageSource, testNum int) ([]float64, []string, error) {
	imgs, err := src.open(p, 2*testNum)
	if err != nil {
		return nil, nil, err
	}
	if len(imgs.Names)%2 != 0 {
		return nil, nil, fmt.Errorf("%d images: interpolation takes pairs (1–2, 3–4, …); give an even number (--test_num %d takes up to %d)", len(imgs.Names), testNum, 2*testNum)
	}
	x, err := imgs.Load(0, len(imgs.Names))
	labels := make([]string, len(imgs.Names)/2)
	for k := range labels {
		labels[k] = fmt.Sprintf("pair%d", k)
	}
	return x, labels, err
}

// noisePairs draws the testNum pairs of noises, pair k from seed+k, with a label per pair.
func noisePairs(p *pipeline.Pipeline, seed uint64, testNum int) ([]float64, []string) {
	var z []float64
	var labels []string
	for k := 0; k < testNum; k++ {
		sd := seed + uint64(k)
		z = append(z, pipeline.Noise(sd, 2*p.Size(1))...)
		labels = append(labels, fmt.Sprintf("seed%d", sd))
	}
	return z, labels
}

// readEpsInput reads x (in *dtype; "" picks the dtype of x, and sets it) and the network
// timesteps t (float or int64) of belm eps's input file.
func readEpsInput(in, xName, tName string, dtype *string) (*tensors.Tensor, []float64, error) {
	f, err := safetensors.Open(in)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, ok := f.Info(xName)
	if !ok {
		return nil, nil, fmt.Errorf("%s has no tensor %q (names: %s): pass --x NAME", in, xName, strings.Join(f.Names(), ", "))
	}
	if *dtype == "" {
		*dtype = "float32"
		if info.DType == safetensors.F64 {
			*dtype = "float64"
		}
	}
	dt, err := parseDType(*dtype)
	if err != nil {
		return nil, nil, err
	}
	x, err := f.Tensor(xName, dt)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", in, err)
	}
	var tv []float64
	if ti, ok := f.Info(tName); ok && ti.DType == "I64" {
		iv, _, err := f.Int64(tName)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", in, err)
		}
		for _, v := range iv {
			tv = append(tv, float64(v))
		}
	} else if tv, _, err = f.Float64(tName); err != nil {
		return nil, nil, fmt.Errorf("%s has no usable tensor %q (%v): pass --t NAME (float or int64 timesteps)", in, tName, err)
	}
	return x, tv, nil
}

// finiteValues is an error when a tensor holds NaN or ±Inf, naming how many and the first.
func finiteValues(t *tensors.Tensor, what string) error {
	v, err := belm.Values(t)
	if err != nil {
		return err
	}
	bad, first := 0, -1
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if bad++; first < 0 {
				first = i
			}
		}
	}
	if bad == 0 {
		return nil
	}
	return fmt.Errorf("%s holds %d NaN or Inf values of %d (the first at flat index %d: %g)", what, bad, len(v), first, v[first])
}

// writeEps writes the named tensors to a safetensors file, in dt.
func writeEps(path string, named map[string]*tensors.Tensor, dt dtypes.DType, meta map[string]string) error {
	var sts []safetensors.Tensor
	for _, name := range slices.Sorted(maps.Keys(named)) {
		vals, err := belm.Values(named[name])
		if err != nil {
			return err
		}
		dims := named[name].Shape().Dimensions
		st := safetensors.FromFloat64(name, dims, vals)
		if dt != dtypes.Float64 {
			v32 := make([]float32, len(vals))
			for i, v := range vals {
				v32[i] = float32(v)
			}
			st = safetensors.FromFloat32(name, dims, v32)
		}
		sts = append(sts, st)
	}
	return safetensors.Write(path, sts, meta)
}

// readContext reads the conditional UNet's encoder_hidden_states from the input file: nil
// for an unconditional model, an error when a conditional one has none or an unconditional
// one is given some.
func readContext(in, name string, p *pipeline.Pipeline) (*tensors.Tensor, error) {
	f, err := safetensors.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	_, has := f.Info(name)
	cond := p.UNet != nil && p.UNet.Conditional()
	switch {
	case cond && !has:
		return nil, fmt.Errorf("%s has no tensor %q: the model is a conditional UNet, which needs its text embeddings [batch, tokens, %d] (pass --encoder_hidden_states NAME)", in, name, p.UNet.CrossAttentionDim())
	case !cond && has:
		return nil, fmt.Errorf("%s has a tensor %q, but the model is an unconditional UNet2DModel, which takes no text embeddings: drop it, or pass the conditional UNet's folder", in, name)
	case !cond:
		return nil, nil
	}
	c, err := f.Tensor(name, p.DType())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in, err)
	}
	return c, finiteValues(c, fmt.Sprintf("%s: tensor %q", in, name))
}

// runEps evaluates the model on the x and t of a safetensors file and writes eps.
func runEps(args []string) error {
	fs := newFlagSet("eps")
	var mf modelFlags
	def := defaultModel
	def.dtype = "" // the dtype of x
	mf.register(fs, def)
	in := fs.String("input", "", "safetensors file with x [B, C, H, W], t (a scalar or [B]: network timesteps) and, for a conditional UNet, encoder_hidden_states")
	out := fs.String("output", "", "safetensors file to write to: out (the network's raw output) and eps (ε, converted for v_prediction and sample models), in the computation's dtype")
	xName := fs.String("x", "x", "name of the x tensor in --input")
	tName := fs.String("t", "t", "name of the t tensor in --input")
	cName := fs.String("encoder_hidden_states", "encoder_hidden_states", "name of the text embeddings [B, tokens, cross_attention_dim] in --input (a conditional UNet's)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return usagef("--input and --output are required: belm eps --model_id DIR --input in.safetensors --output eps.safetensors")
	}
	if err := checkOutputFile("output", *out, *in); err != nil {
		return err
	}
	x, tv, err := readEpsInput(*in, *xName, *tName, mf.dtype)
	if err != nil {
		return err
	}
	dt := x.DType()
	if err := finiteValues(x, fmt.Sprintf("%s: tensor %q", *in, *xName)); err != nil {
		return err
	}
	p, err := mf.load()
	if err != nil {
		return err
	}
	T := p.Schedule.Config.NumTrainTimesteps
	for i, v := range tv {
		if !(v >= 0 && v <= float64(T-1)) {
			return fmt.Errorf("%s: %s[%d] = %g is not a timestep of the model: network times lie in [0, %d] (num_train_timesteps %d)", *in, *tName, i, v, T-1, T)
		}
	}
	if dims := x.Shape().Dimensions; len(dims) > 0 {
		if err := mf.checkBatch(p, dims[0], fmt.Sprintf("%s's batch of %d", *in, dims[0])); err != nil {
			return err
		}
	}
	context, err := readContext(*in, *cName, p)
	if err != nil {
		return err
	}
	t := tensors.FromFlatDataAndDimensions(tv, len(tv))
	start := time.Now()
	raw, eps, err := p.EpsOut(x, t, context)
	if err != nil {
		return err
	}
	if err := finiteValues(raw, "the model's output"); err != nil {
		return fmt.Errorf("%w for finite inputs: the weights of %s may hold NaN or Inf, or be in another format than their config says (nothing written)", err, mf.modelID)
	}
	meta := map[string]string{"model_id": mf.modelID, "dtype": dt.String(), "backend": p.Runner.Backend().Name(), "input": *in,
		"prediction_type": p.Schedule.Config.PredictionType}
	if err := writeEps(*out, map[string]*tensors.Tensor{"out": raw, "eps": eps}, dt, meta); err != nil {
		return err
	}
	dims := eps.Shape().Dimensions
	if !mf.quiet {
		fmt.Fprintf(os.Stderr, "eps %v (%s) in %s → %s\n", dims, dt, time.Since(start).Round(time.Millisecond), *out)
	}
	return nil
}
