package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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

// runTrain is train_unconditional.py for Fashion-MNIST: flags keep diffusers' names.
func runTrain(args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	def := train.DefaultConfig()
	cfg := def
	dataDir := fs.String("data_dir", fashionmnist.Dir(), "folder of the Fashion-MNIST .gz files (Debian: "+fashionmnist.InstallHint+"; $"+fashionmnist.EnvDir+")")
	split := fs.String("split", "train", "train | test")
	modelConfig := fs.String("model_config", "", "a UNet2DModel config.json (default: the built-in Fashion-MNIST model, sample_size 28)")
	resolution := fs.Int("resolution", 0, "image size: 28, or 32 (28 padded with background); default the model's sample_size")
	fs.IntVar(&cfg.BatchSize, "train_batch_size", def.BatchSize, "batch size")
	fs.Float64Var(&cfg.LearningRate, "learning_rate", def.LearningRate, "peak learning rate")
	fs.IntVar(&cfg.LRWarmupSteps, "lr_warmup_steps", def.LRWarmupSteps, "linear learning-rate warm-up steps (then constant)")
	fs.Float64Var(&cfg.AdamBeta1, "adam_beta1", def.AdamBeta1, "Adam β₁")
	fs.Float64Var(&cfg.AdamBeta2, "adam_beta2", def.AdamBeta2, "Adam β₂")
	fs.Float64Var(&cfg.AdamWeightDecay, "adam_weight_decay", def.AdamWeightDecay, "decoupled weight decay (AdamW)")
	fs.Float64Var(&cfg.AdamEpsilon, "adam_epsilon", def.AdamEpsilon, "Adam ε")
	fs.Float64Var(&cfg.EMADecay, "ema_max_decay", def.EMADecay, "EMA decay (reached after warm-up: min(decay, (1+k)/(10+k)))")
	fs.Float64Var(&cfg.EMADecay, "ema_decay", def.EMADecay, "alias of --ema_max_decay")
	fs.Float64Var(&cfg.MaxGradNorm, "max_grad_norm", def.MaxGradNorm, "clip the gradient to this global norm (0: no clipping)")
	fs.Uint64Var(&cfg.Seed, "seed", def.Seed, "seed of the weights, data order, timesteps, noise and evaluation noise")
	fs.IntVar(&cfg.NumEvalImages, "num_eval_images", def.NumEvalImages, "size of the fixed evaluation noise batch saved with checkpoints")
	maxSteps := fs.Int("max_train_steps", 40000, "train until this many optimisation steps are done")
	fs.IntVar(maxSteps, "num_train_steps", 40000, "alias of --max_train_steps")
	outDir := fs.String("output_dir", "out/fashion-mnist", "checkpoints (checkpoint-N.safetensors) and the EMA model folder (model/)")
	ckptSteps := fs.Int("checkpointing_steps", 1000, "write a checkpoint (and export the EMA model) every this many steps")
	keep := fs.Int("checkpoints_total_limit", 3, "keep at most this many checkpoints (0: all)")
	resume := fs.String("resume_from_checkpoint", "", `a checkpoint file, or "latest" (the newest in --output_dir); model and optimiser flags then come from the checkpoint`)
	fs.StringVar(resume, "resume", "", "alias of --resume_from_checkpoint")
	backend := fs.String("backend", "", "GoMLX backend: go | onnx | xla (default $GOMLX_BACKEND or go)")
	logSteps := fs.Int("logging_steps", 50, "print a progress line every this many steps when stderr is not a terminal")
	quiet := fs.Bool("quiet", false, "no progress output")
	gridSteps := fs.Int("eval_inference_steps", 20, "with each checkpoint, write samples-<step>.png: O-BELM samples of the EMA model from the fixed evaluation noise in this many steps (0: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	sp, err := fashionmnist.ParseSplit(*split)
	if err != nil {
		return err
	}
	ds, err := fashionmnist.Load(*dataDir, sp)
	if err != nil {
		return err
	}

	var tr *train.Trainer
	if *resume != "" {
		path := *resume
		if path == "latest" {
			if path, err = train.Latest(*outDir); err != nil {
				return err
			}
			if path == "" {
				return fmt.Errorf("--resume_from_checkpoint latest: no checkpoint in %s", *outDir)
			}
		}
		st, err := train.ReadState(path)
		if err != nil {
			return err
		}
		if tr, err = train.Resume(path, train.FashionMNIST(ds, padFor(st.Config.UNet, ds)), *backend); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "resumed from %s at step %d (model and optimiser settings from the checkpoint)\n", path, tr.Step())
	} else {
		if *modelConfig != "" {
			if cfg.UNet, err = unet.LoadConfig(*modelConfig); err != nil {
				return err
			}
		}
		if *resolution != 0 {
			r := *resolution
			cfg.UNet.SampleSize = &r
		}
		if cfg.UNet.SampleSize == nil {
			return errors.New("the model config has no sample_size: give --resolution")
		}
		if s := *cfg.UNet.SampleSize; s < ds.H || (s-ds.H)%2 != 0 || ds.H != ds.W {
			return fmt.Errorf("resolution %d: the images are %d×%d; use %d or %d + an even padding (32)", s, ds.H, ds.W, ds.H, ds.H)
		}
		if cfg.UNet.InChannels != 1 {
			return fmt.Errorf("Fashion-MNIST has 1 channel, the model config takes in_channels=%d", cfg.UNet.InChannels)
		}
		if latest, _ := train.Latest(*outDir); latest != "" {
			return fmt.Errorf("%s already holds checkpoints (%s): pass --resume_from_checkpoint latest, or another --output_dir", *outDir, filepath.Base(latest))
		}
		if tr, err = train.New(cfg, train.FashionMNIST(ds, padFor(cfg.UNet, ds)), *backend); err != nil {
			return err
		}
	}
	c := tr.Config()
	fmt.Fprintf(os.Stderr, "training %d-parameter UNet2DModel (%s, sample_size %d) on %d images, batch %d, lr %g, backend %s, seed %d; steps %d → %d\n",
		tr.UNet().NumParameters(), joinInts(c.UNet.BlockOutChannels), *c.UNet.SampleSize, ds.Len(), c.BatchSize, c.LearningRate,
		tr.Backend().Name(), c.Seed, tr.Step(), *maxSteps)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	defer signal.Stop(stop)

	save := func() error {
		path := filepath.Join(*outDir, train.CheckpointName(tr.Step()))
		if err := tr.SaveCheckpoint(path); err != nil {
			return err
		}
		if err := tr.ExportEMA(filepath.Join(*outDir, "model")); err != nil {
			return err
		}
		if *gridSteps > 0 {
			if err := evalGrid(tr, *backend, *gridSteps, filepath.Join(*outDir, fmt.Sprintf("samples-%d.png", tr.Step()))); err != nil {
				return err
			}
		}
		if *keep > 0 {
			cps, err := train.Checkpoints(*outDir)
			if err != nil {
				return err
			}
			for len(cps) > *keep {
				os.Remove(cps[0])
				cps = cps[1:]
			}
		}
		return nil
	}
	var out io.Writer = os.Stderr
	if *quiet {
		out = io.Discard
	}
	pl := newTrainProgress(out, tr.Step(), *maxSteps, *logSteps)
	saved := tr.Step()
	for tr.Step() < *maxSteps {
		select {
		case <-stop:
			fmt.Fprintf(os.Stderr, "\ninterrupted at step %d: saving a checkpoint\n", tr.Step())
			return save()
		default:
		}
		st, err := tr.TrainStep()
		if err != nil {
			return err
		}
		pl.update(st)
		if *ckptSteps > 0 && st.Step%*ckptSteps == 0 {
			if err := save(); err != nil {
				return err
			}
			saved = st.Step
		}
	}
	pl.done()
	if saved != tr.Step() {
		if err := save(); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "EMA model: %s (load with --model_id %s)\n", filepath.Join(*outDir, "model"), filepath.Join(*outDir, "model"))
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
