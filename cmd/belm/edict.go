package main

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/study"
)

func init() {
	register("edict", "why invertible EDICT does not denoise at small N: the chains' gap per step, per p, N and variant (study.EDICTStudy)", runEDICT)
}

// edictResult is one belm edict: each run's summary and steps.
type edictResult struct {
	ModelID, DType, Backend string
	Batch                   int
	Seed                    uint64
	Runs                    []study.EDICTRun
}

// runEDICT is study.EDICTStudy: EDICT's two chains sampled from the same noise at each
// p, N and variant (Eq. 9, or the reference's FID variant whose first call is ε(x)),
// with DDIM from that noise beside them, one table row per run.
func runEDICT(args []string) error {
	res, err := edictStudy(args)
	if err != nil {
		return err
	}
	fmt.Printf("%s, %d samples per run from noise seed %d, %s on %s\n", res.ModelID, res.Batch, res.Seed, res.DType, res.Backend)
	return study.WriteEDICTSummaries(os.Stdout, res.Runs)
}

// edictStudy parses belm edict's flags and runs the study.
func edictStudy(args []string) (edictResult, error) {
	fs := newFlagSet("edict")
	var mf modelFlags
	mf.register(fs, modelDefaults{"data/fashion-mnist", "float32", belm.SamplerOptions{BDIAGamma: 0.1, EDICTP: 0.97}}) // Table 3's p
	ps := fs.String("edict_p_values", "", "comma-separated mixing p to sweep, each in (0, 1] (default: --edict_p)")
	steps := fs.Ints("num_inference_steps", "10,20,50,100", between(1, 1e6), 1, "comma-separated step counts N")
	variants := fs.NonEmpty("variants", study.EDICTEq9+","+study.EDICTFirstOnX, "comma-separated: eq9 (invertible, paper Eq. 9) | eps_x (the reference's FID variant)")
	batch := fs.Int("batch_size", 64, between(1, 1<<20), "samples per run")
	seed := fs.Uint64("seed", 1, "seed of the noise")
	if err := fs.parse(args); err != nil {
		return edictResult{}, err
	}
	pValues := []float64{mf.p}
	if *ps != "" {
		pValues = nil
		for _, v := range splitList(*ps) {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || !(x > 0 && x <= 1) {
				return edictResult{}, usagef("--edict_p_values: %q is not a mixing p in (0, 1]", v)
			}
			pValues = append(pValues, x)
		}
	}
	p, err := mf.load()
	if err != nil {
		return edictResult{}, err
	}
	if err := mf.checkBatch(p, *batch, fmt.Sprintf("--batch_size %d", *batch)); err != nil {
		return edictResult{}, err
	}
	res, err := study.EDICTStudy(context.Background(), p, study.EDICTStudyConfig{Ps: pValues, Steps: *steps,
		Variants: splitList(*variants), BatchSize: *batch, Seeds: []uint64{*seed}, Progress: mf.progress()})
	return edictResult{ModelID: mf.modelID, DType: p.DType().String(), Backend: p.Runner.Backend().Name(), Batch: *batch, Seed: *seed,
		Runs: res.Runs}, err
}
