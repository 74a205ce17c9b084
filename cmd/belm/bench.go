package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm/backends"
	"github.com/belmlab/workbench/belm/bench"
	"github.com/belmlab/workbench/belm/unet"
)

func init() {
	register("bench", "benchmark the UNet forward, sampler steps and passes on each backend (go vs onnx)", runBench)
}

func runBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	be := fs.String("backends", strings.Join(bench.DefaultBackends(), ","), "comma-separated backends to compare, options kept with theirs: go,onnx:cpu,threads=1 (onnx needs -tags onnx)")
	sections := fs.String("sections", strings.Join(bench.AllSections, ","), "comma-separated: "+strings.Join(bench.AllSections, ", "))
	batches := fs.String("batches", "1,8,64", "UNet forward batch sizes")
	samplers := fs.String("sampler_type", "ddim,edict,bdia,belm", "samplers of the step and pass benchmarks")
	steps := fs.Int("num_inference_steps", 100, "steps of a sampling pass")
	images := fs.Int("images", 8, "batch of the step, pass and overhead benchmarks")
	dur := fs.Duration("duration", 2*time.Second, "minimum measuring time of each benchmark (go-benchmarks)")
	passUNet := fs.String("pass_unet", "", "comma-separated backends whose sampling pass runs the full UNet (slow on go); the others use ε = σ·x")
	config := fs.String("unet_config", "", "a diffusers UNet2DModel config.json (default: ddpm-cifar10-32, random weights)")
	dtype := fs.String("dtype", "float32", "float32 | float64 (float64: go only)")
	format := fs.String("format", "table", "table | json (json: the results after the tables)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bes, err1 := backends.SplitList(*be)
	passBes, err2 := backends.SplitList(*passUNet)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	o := bench.Options{Backends: bes, Sections: splitList(*sections), Samplers: splitList(*samplers),
		Steps: *steps, Images: *images, Duration: *dur, PassUNet: passBes,
		Log: func(s string) { fmt.Fprintln(os.Stderr, s) }}
	for _, b := range splitList(*batches) {
		n, err := strconv.Atoi(b)
		if err != nil || n <= 0 {
			return fmt.Errorf("--batches: %q is not a positive integer", b)
		}
		o.Batches = append(o.Batches, n)
	}
	switch *dtype {
	case "float32":
		o.DType = dtypes.Float32
	case "float64":
		o.DType = dtypes.Float64
	default:
		return fmt.Errorf("--dtype %q: use float32 or float64", *dtype)
	}
	if *config != "" {
		c, err := unet.LoadConfig(*config)
		if err != nil {
			return err
		}
		o.Config = &c
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
