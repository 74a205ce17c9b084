package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/study"
)

func init() {
	register("loss", "held-out ε-prediction loss of a UNet2DModel by timestep, on test images (how far training has come at each noise level)", runLoss)
}

// lossResult is what belm loss prints with --format json.
type lossResult struct {
	ModelID string               `json:"model_id"`
	Source  string               `json:"source"`
	DType   string               `json:"dtype"`
	Backend string               `json:"backend"`
	Seed    uint64               `json:"seed"`
	Rows    []study.DenoisingRow `json:"rows"`
}

// runLoss is study.DenoisingError: the DDPM training loss at fixed timesteps on held-out
// images, with the same noises for every model (compare two checkpoints with one seed).
func runLoss(args []string) error {
	fs := newFlagSet("loss")
	var mf modelFlags
	mf.register(fs, modelDefaults{"data/fashion-mnist", "float32", belm.DefaultSamplerOptions})
	var src imageSource
	src.register(fs, "the held-out images")
	testNum := fs.Int("test_num", 1000, between(1, 1<<30), "at most this many images")
	ts := fs.Ints("timesteps", "1,10,50,100,250,500,750,999", between(0, 1e6), 1, "comma-separated network timesteps t")
	batch := fs.Int("batch_size", 100, between(1, 1<<20), "images per batch (batch k gets the noise of seed+k at every t)")
	seed := fs.Uint64("seed", 0, "seed of the first batch's noise")
	format := fs.formatFlag("the table on stdout")
	if err := fs.parse(args); err != nil {
		return err
	}
	if !src.given() {
		return usagef("--directory or --dataset is required: the held-out images (e.g. --dataset fashion-mnist)")
	}
	p, err := mf.load()
	if err != nil {
		return err
	}
	if err := mf.checkBatch(p, *batch, fmt.Sprintf("--batch_size %d", *batch)); err != nil {
		return err
	}
	imgs, err := src.open(p, *testNum)
	if err != nil {
		return err
	}
	start := time.Now()
	rows, err := study.DenoisingError(context.Background(), p, study.DenoisingConfig{Images: imgs, Timesteps: *ts, BatchSize: *batch, Seed: *seed})
	if err != nil {
		return err
	}
	res := lossResult{ModelID: mf.modelID, Source: src.String(), DType: p.DType().String(),
		Backend: p.Runner.Backend().Name(), Seed: *seed, Rows: rows}
	if *format == "json" {
		return writeJSON(os.Stdout, res)
	}
	fmt.Printf("%s, %d images of %s, %s on %s, noise seed %d (%s)\n", res.ModelID, len(imgs.Names), res.Source,
		res.DType, res.Backend, res.Seed, time.Since(start).Round(time.Millisecond))
	fmt.Printf("%6s  %10s\n", "t", "ε-MSE")
	for _, r := range rows {
		fmt.Printf("%6d  %10.4g\n", r.T, r.MSE)
	}
	return nil
}
