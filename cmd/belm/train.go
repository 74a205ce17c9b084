package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/train"
	"github.com/belmlab/workbench/belm/unet"
	"github.com/belmlab/workbench/data/fashionmnist"
)

func init() {
	register("train", "train a UNet2DModel (DDPM ε-prediction) on Fashion-MNIST; checkpoints, resume, EMA export", runTrain)
}

// trainFlags are the flags of belm train.
type trainFlags struct {
	cfg                         train.Config
	dataDir, split, modelConfig string
	resume, outDir, backend     string
	resolution, maxSteps        int
	ckptSteps, keep, logSteps   int
	gridSteps                   int
	quiet                       bool
}

func parseTrainFlags(args []string) (*trainFlags, error) {
	fs := newFlagSet("train")
	def := train.DefaultConfig()
	f := &trainFlags{cfg: def}
	cfg := &f.cfg
	fs.StringVar(&f.dataDir, "data_dir", fashionmnist.Dir(), "folder of the Fashion-MNIST .gz files (Debian: "+fashionmnist.InstallHint+"; $"+fashionmnist.EnvDir+")")
	fs.StringVar(&f.split, "split", "train", "train | test")
	fs.StringVar(&f.modelConfig, "model_config", "", "a UNet2DModel config.json (default: the built-in Fashion-MNIST model, sample_size 28)")
	fs.IntVar(&f.resolution, "resolution", 0, between(0, 1024), "image size: 28, or 32 (28 padded with background); default (0) the model's sample_size")
	fs.IntVar(&cfg.BatchSize, "train_batch_size", def.BatchSize, between(1, 1<<16), "batch size")
	fs.Float64Var(&cfg.LearningRate, "learning_rate", def.LearningRate, bounds{lo: 0, hi: 1, openLo: true}, "peak learning rate")
	fs.IntVar(&cfg.LRWarmupSteps, "lr_warmup_steps", def.LRWarmupSteps, atLeast(0), "linear learning-rate warm-up steps (then constant)")
	fs.Float64Var(&cfg.AdamBeta1, "adam_beta1", def.AdamBeta1, bounds{lo: 0, hi: 1, openHi: true}, "Adam β₁")
	fs.Float64Var(&cfg.AdamBeta2, "adam_beta2", def.AdamBeta2, bounds{lo: 0, hi: 1, openHi: true}, "Adam β₂")
	fs.Float64Var(&cfg.AdamWeightDecay, "adam_weight_decay", def.AdamWeightDecay, between(0, 1), "decoupled weight decay (AdamW)")
	fs.Float64Var(&cfg.AdamEpsilon, "adam_epsilon", def.AdamEpsilon, bounds{lo: 0, hi: 1, openLo: true}, "Adam ε")
	fs.Float64Var(&cfg.EMADecay, "ema_max_decay", def.EMADecay, between(0, 1), "EMA decay (reached after warm-up: min(decay, (1+k)/(10+k)))")
	fs.FlagSet.Float64Var(&cfg.EMADecay, "ema_decay", def.EMADecay, "alias of --ema_max_decay")
	fs.Float64Var(&cfg.MaxGradNorm, "max_grad_norm", def.MaxGradNorm, atLeast(0), "clip the gradient to this global norm (0: no clipping)")
	fs.Uint64Var(&cfg.Seed, "seed", def.Seed, "seed of the weights, data order, timesteps, noise and evaluation noise")
	fs.IntVar(&cfg.NumEvalImages, "num_eval_images", def.NumEvalImages, between(0, 1024), "size of the fixed evaluation noise batch saved with checkpoints")
	fs.IntVar(&f.maxSteps, "max_train_steps", 40000, atLeast(1), "train until this many optimisation steps are done")
	fs.FlagSet.IntVar(&f.maxSteps, "num_train_steps", 40000, "alias of --max_train_steps")
	fs.StringVar(&f.outDir, "output_dir", "out/fashion-mnist", "checkpoints (checkpoint-N.safetensors) and the EMA model folder (model/)")
	fs.IntVar(&f.ckptSteps, "checkpointing_steps", 1000, atLeast(0), "write a checkpoint (and export the EMA model) every this many steps (0: only at the end)")
	fs.IntVar(&f.keep, "checkpoints_total_limit", 3, atLeast(0), "keep at most this many checkpoints (0: all)")
	fs.StringVar(&f.resume, "resume_from_checkpoint", "", `a checkpoint file, or "latest" (the newest in --output_dir); model and optimiser flags then come from the checkpoint`)
	fs.FlagSet.StringVar(&f.resume, "resume", "", "alias of --resume_from_checkpoint")
	fs.StringVar(&f.backend, "backend", "", "GoMLX backend: go | onnx | xla (default $GOMLX_BACKEND or go)")
	fs.IntVar(&f.logSteps, "logging_steps", 50, atLeast(1), "print a progress line every this many steps when stderr is not a terminal")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress output")
	fs.IntVar(&f.gridSteps, "eval_inference_steps", 20, between(0, 1000), "with each checkpoint, write samples-<step>.png: O-BELM samples of the EMA model from the fixed evaluation noise in this many steps (0: none)")
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	if err := checkOutputDir("output_dir", f.outDir); err != nil {
		return nil, err
	}
	return f, nil
}

// runTrain is train_unconditional.py for Fashion-MNIST: flags keep diffusers' names.
// SIGINT or SIGTERM saves a checkpoint after the current step and exits with 130 / 143
// and the command that resumes; a second signal exits at once.
func runTrain(args []string) error {
	f, err := parseTrainFlags(args)
	if err != nil {
		return err
	}
	sp, err := fashionmnist.ParseSplit(f.split)
	if err != nil {
		return err
	}
	ds, err := fashionmnist.Load(f.dataDir, sp)
	if err != nil {
		return err
	}
	tr, err := f.trainer(ds)
	if err != nil {
		return err
	}
	if tr.Step() >= f.maxSteps {
		return usagef("the run is at step %d, --max_train_steps %d is reached: give a larger --max_train_steps to train on", tr.Step(), f.maxSteps)
	}
	if err := os.MkdirAll(f.outDir, 0o755); err != nil { // now, not at the first checkpoint
		return err
	}
	c := tr.Config()
	fmt.Fprintf(os.Stderr, "training %d-parameter UNet2DModel (%s, sample_size %d) on %d images, batch %d, lr %g, backend %s, seed %d; steps %d → %d\n",
		tr.UNet().NumParameters(), joinInts(c.UNet.BlockOutChannels), *c.UNet.SampleSize, ds.Len(), c.BatchSize, c.LearningRate,
		tr.Backend().Name(), c.Seed, tr.Step(), f.maxSteps)
	return f.loop(tr)
}

// trainer starts a new run or resumes one.
func (f *trainFlags) trainer(ds *fashionmnist.Dataset) (*train.Trainer, error) {
	if f.resume != "" {
		path := f.resume
		if path == "latest" {
			var err error
			if path, err = train.Latest(f.outDir); err != nil {
				return nil, err
			}
			if path == "" {
				return nil, fmt.Errorf("--resume_from_checkpoint latest: no checkpoint in %s", f.outDir)
			}
		}
		st, err := train.ReadState(path)
		if err != nil {
			return nil, err
		}
		data, err := ds.Padded(padFor(st.Config.UNet, ds))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		tr, err := train.Resume(path, data, f.backend)
		if err == nil {
			fmt.Fprintf(os.Stderr, "resumed from %s at step %d (model and optimiser settings from the checkpoint)\n", path, tr.Step())
		}
		return tr, err
	}
	cfg := f.cfg
	if f.modelConfig != "" {
		var err error
		if cfg.UNet, err = unet.LoadConfig(f.modelConfig); err != nil {
			return nil, err
		}
	}
	if f.resolution != 0 {
		r := f.resolution
		cfg.UNet.SampleSize = &r
	}
	if cfg.UNet.SampleSize == nil {
		return nil, errors.New("the model config has no sample_size: give --resolution")
	}
	if s := *cfg.UNet.SampleSize; s < ds.H || (s-ds.H)%2 != 0 || ds.H != ds.W {
		return nil, fmt.Errorf("resolution %d: the images are %d×%d; use %d or %d + an even padding (32)", s, ds.H, ds.W, ds.H, ds.H)
	}
	if cfg.UNet.InChannels != 1 {
		return nil, fmt.Errorf("Fashion-MNIST has 1 channel, the model config takes in_channels=%d", cfg.UNet.InChannels)
	}
	if latest, _ := train.Latest(f.outDir); latest != "" {
		return nil, fmt.Errorf("%s already holds checkpoints (%s): pass --resume_from_checkpoint latest, or another --output_dir", f.outDir, filepath.Base(latest))
	}
	data, err := ds.Padded(padFor(cfg.UNet, ds))
	if err != nil {
		return nil, err
	}
	return train.New(cfg, data, f.backend)
}

// save writes a checkpoint, the EMA model and (unless skipped) the evaluation grid, then
// prunes old checkpoints; it returns the checkpoint's path.
func (f *trainFlags) save(tr *train.Trainer, grid bool) (string, error) {
	path := filepath.Join(f.outDir, train.CheckpointName(tr.Step()))
	if err := tr.SaveCheckpoint(path); err != nil {
		return "", err
	}
	if err := tr.ExportEMA(filepath.Join(f.outDir, "model")); err != nil {
		return "", err
	}
	if grid && f.gridSteps > 0 {
		if err := evalGrid(tr, f.backend, f.gridSteps, filepath.Join(f.outDir, fmt.Sprintf("samples-%d.png", tr.Step()))); err != nil {
			return "", err
		}
	}
	if f.keep > 0 {
		cps, err := train.Checkpoints(f.outDir)
		if err != nil {
			return "", err
		}
		for len(cps) > f.keep {
			os.Remove(cps[0])
			cps = cps[1:]
		}
	}
	return path, nil
}

// loop trains to --max_train_steps, checkpointing, and stops cleanly on a signal.
func (f *trainFlags) loop(tr *train.Trainer) error {
	lastSaved := "none yet"
	if latest, _ := train.Latest(f.outDir); latest != "" {
		lastSaved = latest
	}
	var mu sync.Mutex // lastSaved is read by the second signal's handler
	stop := newStopper(func() string {
		mu.Lock()
		defer mu.Unlock()
		return "the last complete checkpoint is " + lastSaved
	})
	defer stop.stop()
	var out io.Writer = os.Stderr
	if f.quiet {
		out = io.Discard
	}
	pl := newTrainProgress(out, tr.Step(), f.maxSteps, f.logSteps)
	saved := tr.Step()
	for tr.Step() < f.maxSteps {
		if sig := stop.requested(); sig != 0 {
			pl.done()
			path := lastSaved
			if saved != tr.Step() { // not just saved by a checkpoint
				var err error
				if path, err = f.save(tr, false); err != nil {
					return err
				}
			}
			return interruptedError{sig, fmt.Sprintf("%s at step %d: saved %s and the EMA model (no evaluation grid); resume with\n  belm train --output_dir %s --resume_from_checkpoint latest --max_train_steps %d",
				syscall.Signal(sig), tr.Step(), path, shellJoin([]string{f.outDir}), f.maxSteps)}
		}
		st, err := tr.TrainStep()
		if err != nil {
			return err
		}
		pl.update(st)
		if f.ckptSteps > 0 && st.Step%f.ckptSteps == 0 {
			path, err := f.save(tr, true)
			if err != nil {
				return err
			}
			mu.Lock()
			lastSaved, saved = path, st.Step
			mu.Unlock()
		}
	}
	pl.done()
	if saved != tr.Step() {
		if _, err := f.save(tr, true); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "EMA model: %s (load with --model_id %s)\n", filepath.Join(f.outDir, "model"), filepath.Join(f.outDir, "model"))
	return nil
}

// evalGrid samples the fixed evaluation noise with the EMA weights (O-BELM, n steps, on the
// training backend) and writes the grid: grids of successive checkpoints show the same noises.
func evalGrid(tr *train.Trainer, backend string, n int, path string) error {
	u, err := tr.EMAUNet()
	if err != nil {
		return err
	}
	p, err := pipeline.New(u, tr.Config().Scheduler, pipeline.Options{Backend: backend})
	if err != nil {
		return err
	}
	s, err := p.Sampler("belm", belm.DefaultSamplerOptions, true)
	if err != nil {
		return err
	}
	noise32 := tr.EvalNoise()
	if len(noise32) == 0 {
		return nil
	}
	noise := make([]float64, len(noise32))
	for i, v := range noise32 {
		noise[i] = float64(v)
	}
	k := len(noise) / p.Size(1)
	x, err := p.Sample(s, n, noise, k)
	if err != nil {
		return fmt.Errorf("evaluation samples: %w", err)
	}
	grid, err := gridOf(p, x, k, k)
	if err != nil {
		return err
	}
	return savePNG(grid, path)
}

// padFor is the padding that brings the data to the model's sample_size.
func padFor(c unet.Config, ds *fashionmnist.Dataset) int { return (*c.SampleSize - ds.H) / 2 }

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return "(" + strings.Join(s, ", ") + ")"
}

// trainProgress prints "step k/N loss (running mean) |g| lr steps/s eta": rewritten in place
// on a terminal, one line every logEvery steps otherwise.
type trainProgress struct {
	w             io.Writer
	tty           bool
	start, total  int
	logEvery      int
	t0            time.Time
	ema, lastLoss float64
	n             int
}

func newTrainProgress(w io.Writer, start, total, logEvery int) *trainProgress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &trainProgress{w: w, tty: tty, start: start, total: total, logEvery: max(1, logEvery), t0: time.Now()}
}

func (p *trainProgress) update(st train.StepStats) {
	p.n++
	if p.n == 1 {
		p.ema = st.Loss
		p.t0 = time.Now() // the first step compiles the graph: rates count from its end
	} else {
		p.ema = 0.98*p.ema + 0.02*st.Loss
	}
	if !p.tty && st.Step%p.logEvery != 0 && st.Step != p.total {
		return
	}
	rate, eta := 0.0, "?"
	if p.n > 1 {
		rate = float64(p.n-1) / time.Since(p.t0).Seconds()
		eta = (time.Duration(float64(p.total-st.Step)/rate) * time.Second).String()
	}
	line := fmt.Sprintf("step %d/%d  loss %.4f (avg %.4f)  |g| %.3f  lr %.2g  %.2f steps/s  eta %s",
		st.Step, p.total, st.Loss, p.ema, st.GradNorm, st.LR, rate, eta)
	if p.tty {
		fmt.Fprintf(p.w, "\r%-100s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *trainProgress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
