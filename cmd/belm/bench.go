package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm/backends"
	"github.com/belmlab/workbench/belm/unet"
	"github.com/belmlab/workbench/internal/bench"
)

func init() {
	register("bench", "benchmark the UNet forward, sampler steps and passes on each backend (go vs onnx)", runBench)
}

func runBench(args []string) error {
	fs := newFlagSet("bench")
	be := fs.NonEmpty("backends", strings.Join(bench.DefaultBackends(), ","), "comma-separated backends to compare, options kept with theirs: go,onnx:cpu,threads=1 (onnx needs -tags onnx)")
	sections := fs.NonEmpty("sections", strings.Join(bench.AllSections, ","), "comma-separated: "+strings.Join(bench.AllSections, ", ")+
		"; opt-in: "+strings.Join(bench.OptInSections, ", ")+" (Stable Diffusion 1.5 at 512×512, random weights: minutes a backend, ~10 GB)")
	batches := fs.Ints("batches", "1,8,64", between(1, 4096), 1, "UNet forward batch sizes")
	samplers := fs.NonEmpty("sampler_type", "ddim,edict,bdia,belm", "samplers of the step and pass benchmarks")
	steps := fs.Int("num_inference_steps", 100, between(1, 1000), "steps of a sampling pass")
	images := fs.Int("images", 8, between(1, 4096), "batch of the step, pass and overhead benchmarks")
	dur := fs.Duration("duration", 2*time.Second, "minimum measuring time of each benchmark (go-benchmarks)")
	passUNet := fs.String("pass_unet", "", "comma-separated backends whose sampling pass runs the full UNet (slow on go); the others use ε = σ·x")
	config := fs.String("unet_config", "", "a diffusers UNet2DModel config.json (default: ddpm-cifar10-32, random weights)")
	dtype := fs.Choice("dtype", "float32", []string{"float32", "float64"}, "precision (float64: go only)")
	format := fs.formatFlag("json: the results after the tables")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof); the go backend's own ops show by name")
	fs.check(func() error {
		if *dur <= 0 {
			return fmt.Errorf("--duration %s: must be > 0", *dur)
		}
		for _, s := range splitList(*sections) {
			if !bench.Known(s) {
				return fmt.Errorf("--sections: unknown section %q (known: %s)", s, strings.Join(append(slices.Clone(bench.AllSections), bench.OptInSections...), ", "))
			}
		}
		return nil
	})
	if err := fs.parse(args); err != nil {
		return err
	}
	bes, err1 := backends.SplitList(*be)
	passBes, err2 := backends.SplitList(*passUNet)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	o := bench.Options{Backends: bes, Sections: splitList(*sections), Samplers: splitList(*samplers),
		Steps: *steps, Images: *images, Duration: *dur, PassUNet: passBes, Batches: *batches,
		Log: func(s string) { fmt.Fprintln(os.Stderr, s) }}
	o.DType = dtypes.Float32
	if *dtype == "float64" {
		o.DType = dtypes.Float64
	}
	if *config != "" {
		c, err := unet.LoadConfig(*config)
		if err != nil {
			return err
		}
		o.Config = &c
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	rep, err := bench.Run(o)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeJSON(os.Stdout, map[string]any{"machine": rep.Machine, "results": rep.Sorted(), "overhead": rep.Overhead})
	}
	return nil
}

// startCPUProfile starts runtime/pprof's CPU profile into path; stop ends it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
