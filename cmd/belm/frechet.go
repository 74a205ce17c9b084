package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/quality"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/data/fashionmnist"
	"github.com/belmlab/workbench/internal/atomicfile"
	"github.com/belmlab/workbench/viz"
)

func init() {
	register("frechet", "sample-quality study: Fréchet distance of classifier features, samples vs test images, per sampler and N (Table 3's shape)", runFrechet)
}

// frechetRow is one sampler and N of the Fréchet study.
type frechetRow struct {
	Sampler  string   `json:"sampler"`
	N        int      `json:"num_inference_steps"`
	Samples  int      `json:"num_samples"`
	Frechet  float64  `json:"frechet_distance"`
	Seconds  float64  `json:"seconds"`
	Grid     string   `json:"grid,omitempty"`
	PaperFID *float64 `json:"paper_table3_cifar10_fid,omitempty"`
}

// frechetSettings are what a Fréchet study's numbers depend on: written with them, and
// required equal across the shards of a run.
type frechetSettings struct {
	ModelID            string   `json:"model_id"`
	Backend            string   `json:"backend"`
	DType              string   `json:"dtype"`
	Classifier         string   `json:"classifier"`
	ClassifierAccuracy string   `json:"classifier_test_accuracy"`
	Gamma              float64  `json:"bdia_gamma"`
	P                  float64  `json:"edict_p"`
	ClipSample         bool     `json:"ddim_clip_sample"`
	Seed               uint64   `json:"seed"`
	BatchSize          int      `json:"batch_size"`
	NumSamples         int      `json:"num_samples"`
	NumReference       int      `json:"num_reference"`
	Samplers           []string `json:"samplers"`
	Steps              []int    `json:"num_inference_steps"`
}

// frechetPart is the features' sufficient statistics of one sampler and N (of a shard's
// batches, or of all).
type frechetPart struct {
	Sampler string          `json:"sampler"`
	N       int             `json:"num_inference_steps"`
	Moments quality.Moments `json:"moments"`
	Seconds float64         `json:"seconds"`
	Grid    string          `json:"grid,omitempty"` // file name of the sample grid, in the run's folder
}

// frechetData is what a run (or a shard) measured: the statistics of the test split (the
// reference), of the data floor's training images, and of each sampler and N.
type frechetData struct {
	Reference quality.Moments `json:"reference"`
	Floor     quality.Moments `json:"floor"`
	Parts     []frechetPart   `json:"parts"`
}

// runFrechet samples --num_samples images per sampler and N from the same noises (common
// random numbers: differences between samplers are not sampling noise of the seeds), and
// measures each set against the test split. Features are reduced to their moments batch
// by batch, so memory does not grow with --num_samples.
func runFrechet(args []string) error {
	fs := newFlagSet("frechet")
	var mf modelFlags
	// Table 3's settings (CIFAR-10), chosen there at 10 steps, on the model trained here.
	mf.register(fs, modelDefaults{"data/fashion-mnist", "float32", belm.SamplerOptions{BDIAGamma: 0.1, EDICTP: 0.97}})
	samplers := fs.NonEmpty("sampler_type", "ddim,edict,bdia,belm", "comma-separated samplers")
	ns := fs.Ints("num_inference_steps", "10,20,50,100", between(1, 1000), 1, "comma-separated step counts N")
	num := fs.Int("num_samples", 5000, between(2, 1<<24), "samples per sampler and N")
	batch := fs.Int("batch_size", 250, between(1, 1<<20), "images per batch; batch k uses the noise of seed+k for every sampler and N")
	seed := fs.Uint64("seed", 1, "seed of the first batch's noise")
	classifier := fs.String("classifier", defaultClassifier, "the feature extractor (belm classifier)")
	dataDir := fs.String("data_dir", fashionmnist.Dir(), "folder of the Fashion-MNIST .gz files ($"+fashionmnist.EnvDir+")")
	numRef := fs.Int("num_reference", 10000, between(2, 10000), "test images of the reference statistics (the first ones; all 10,000 for the paper's protocol)")
	gridSize := fs.Int("grid_size", 64, between(0, 4096), "write the first this many samples of each sampler and N as a grid PNG (0: none)")
	saveDir := fs.String("save_dir", "out/frechet", "folder for frechet.csv, frechet.json and the sample grids")
	format := fs.formatFlag("the summary on stdout")
	var sh shard
	sh.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	p, err := mf.start(*saveDir, "", *batch, fmt.Sprintf("--batch_size %d", *batch))
	if err != nil {
		return err
	}
	r := frechetRun{p: p, mf: &mf, shard: sh, dir: *saveDir, gridSize: *gridSize}
	if r.sams, err = mf.samplers(p, *samplers, *ns, true); err != nil {
		return err
	}
	if r.c, err = quality.LoadClassifier(*classifier, mf.backend); err != nil {
		return err
	}
	if cc := r.c.Config(); cc.SampleSize != p.SampleSize() || cc.InChannels != p.Channels() {
		return fmt.Errorf("the classifier takes %d×%d×%d images, the model makes %d×%d×%d", cc.InChannels, cc.SampleSize, cc.SampleSize, p.Channels(), p.SampleSize(), p.SampleSize())
	}
	r.set = frechetSettings{ModelID: mf.modelID, Backend: p.Runner.Backend().Name(), DType: p.DType().String(), Classifier: *classifier,
		ClassifierAccuracy: r.c.Meta["test_accuracy"], Gamma: mf.gamma, P: mf.p, ClipSample: p.Scheduler.ClipSample, Seed: *seed,
		BatchSize: *batch, NumSamples: *num, NumReference: *numRef, Steps: *ns}
	for _, s := range r.sams {
		r.set.Samplers = append(r.set.Samplers, s.Name())
	}
	d, err := r.references(*dataDir)
	if err != nil {
		return err
	}
	rows, floor, js, err := r.run(d)
	if err != nil || sh.on() {
		return err
	}
	if *format == "json" {
		_, err := os.Stdout.Write(js)
		return err
	}
	fmt.Printf("%s, %d samples per row, classifier test accuracy %s, BDIA γ = %g, EDICT p = %g (%s)\n", mf.modelID, *num, r.set.ClassifierAccuracy, mf.gamma, mf.p, *saveDir)
	return printFrechet(rows, floor, d.Floor.N)
}

// frechetRun is one Fréchet study (or its shard).
type frechetRun struct {
	p        *pipeline.Pipeline
	mf       *modelFlags
	c        *quality.Classifier
	sams     []belm.Sampler
	set      frechetSettings
	shard    shard
	dir      string
	gridSize int
}

// references measures the test split (the reference) and the data floor: as many training
// images as samples.
func (r frechetRun) references(dataDir string) (frechetData, error) {
	var d frechetData
	testSet, err1 := fashionmnist.Load(dataDir, fashionmnist.Test)
	trainSet, err2 := fashionmnist.Load(dataDir, fashionmnist.Train)
	if err := errors.Join(err1, err2); err != nil {
		return d, err
	}
	var err error
	if d.Reference, err = r.c.Moments(testSet.Float32(seq(min(r.set.NumReference, testSet.Len())), 0)); err != nil {
		return d, err
	}
	d.Floor, err = r.c.Moments(trainSet.Float32(seq(min(r.set.NumSamples, trainSet.Len())), 0))
	return d, err
}

// run samples every batch of the shard with every sampler and N; after each sampler and N
// it writes what it has (a long run that stops keeps what it measured).
func (r frechetRun) run(d frechetData) ([]frechetRow, float64, []byte, error) {
	num, batch := r.set.NumSamples, r.set.BatchSize
	total := 0
	for k := 0; k*batch < num; k++ {
		if r.shard.has(k) {
			total += len(r.sams) * sum(r.set.Steps)
		}
	}
	what := ""
	r.mf.observe(r.p, total, &what)
	var rows []frechetRow
	var floor float64
	var js []byte
	for _, n := range r.set.Steps {
		for _, s := range r.sams {
			what = rowKey(s.Name(), n)
			part, err := r.part(s, n)
			if err != nil {
				return nil, 0, nil, err
			}
			d.Parts = append(d.Parts, part)
			if r.shard.on() {
				err = writeShard(r.dir, "frechet", r.shard, r.set, d)
			} else {
				rows, floor, js, err = writeFrechet(r.dir, r.set, d)
			}
			if err != nil {
				return nil, 0, nil, err
			}
		}
	}
	return rows, floor, js, nil
}

// part samples the shard's batches with s in n steps and accumulates their features'
// moments; the first --grid_size samples become the grid.
func (r frechetRun) part(s belm.Sampler, n int) (frechetPart, error) {
	start := time.Now()
	part := frechetPart{Sampler: s.Name(), N: n}
	var first []float64
	size := r.p.Size(1)
	gridSize := r.gridSize
	if !r.shard.has(0) {
		gridSize = 0 // the grid shows the run's first samples: the shard with batch 0 draws it
	}
	for b0, k := 0, 0; b0 < r.set.NumSamples; b0, k = b0+r.set.BatchSize, k+1 {
		if !r.shard.has(k) {
			continue
		}
		b := min(r.set.BatchSize, r.set.NumSamples-b0)
		x, err := r.p.Sample(s, n, pipeline.Noise(r.set.Seed+uint64(k), r.p.Size(b)), b)
		if err != nil {
			return part, fmt.Errorf("%s N=%d, batch %d: %w", s.Name(), n, k, err)
		}
		m, err := r.c.Moments(quality.Quantize(x))
		if err != nil {
			return part, fmt.Errorf("%s N=%d, batch %d: %w", s.Name(), n, k, err)
		}
		if err := part.Moments.Add(m); err != nil {
			return part, err
		}
		if len(first) < gridSize*size {
			first = append(first, x[:min(len(x), gridSize*size-len(first))]...)
		}
	}
	r.p.Runner.ReleaseGraphs() // each sampler's ORT sessions hold arenas of the batch's size
	part.Seconds = time.Since(start).Seconds()
	if k := len(first) / size; k > 0 {
		grid, err := gridOf(r.p, first, k, int(math.Ceil(math.Sqrt(float64(k)))))
		if err != nil {
			return part, err
		}
		part.Grid = fmt.Sprintf("samples_%s_N%d.png", s.Name(), n)
		if err := savePNG(grid, filepath.Join(r.dir, part.Grid)); err != nil {
			return part, err
		}
	}
	return part, nil
}

// writeFrechet computes the distances of d's parts to the reference and writes
// frechet.csv, frechet.json and the figure; it returns the rows, the data floor and the JSON.
func writeFrechet(dir string, set frechetSettings, d frechetData) ([]frechetRow, float64, []byte, error) {
	ref, err1 := d.Reference.Gaussian()
	fl, err2 := d.Floor.Gaussian()
	if err := errors.Join(err1, err2); err != nil {
		return nil, 0, nil, err
	}
	floor, err := quality.FrechetDistance(fl, ref)
	if err != nil {
		return nil, 0, nil, err
	}
	var rows []frechetRow
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"sampler", "num_inference_steps", "num_samples", "frechet_distance", "paper_table3_cifar10_fid", "seconds"})
	for _, pt := range d.Parts {
		g, err := pt.Moments.Gaussian()
		if err != nil {
			return nil, 0, nil, fmt.Errorf("%s N=%d: %w", pt.Sampler, pt.N, err)
		}
		fd, err := quality.FrechetDistance(g, ref)
		if err != nil {
			return nil, 0, nil, err
		}
		row := frechetRow{Sampler: pt.Sampler, N: pt.N, Samples: pt.Moments.N, Frechet: fd, Seconds: pt.Seconds}
		if pt.Grid != "" {
			row.Grid = filepath.Join(dir, pt.Grid)
		}
		paper := ""
		if v, ok := study.PaperValue(study.PaperFIDCIFAR10, pt.Sampler, pt.N); ok {
			row.PaperFID, paper = &v, strconv.FormatFloat(v, 'g', -1, 64)
		}
		rows = append(rows, row)
		w.Write([]string{row.Sampler, strconv.Itoa(row.N), strconv.Itoa(row.Samples), strconv.FormatFloat(fd, 'g', 6, 64), paper, strconv.FormatFloat(row.Seconds, 'f', 1, 64)})
	}
	w.Flush()
	if err := atomicfile.WriteFile(filepath.Join(dir, "frechet.csv"), buf.Bytes()); err != nil {
		return nil, 0, nil, err
	}
	summary := struct {
		frechetSettings
		Metric  string         `json:"metric"`
		Floor   map[string]any `json:"data_floor"`
		Results []frechetRow   `json:"results"`
	}{set, fmt.Sprintf("Fréchet distance of the classifier's penultimate features (128-d), samples (8-bit quantised) vs %d test images; FID's formula on other features, not FID", d.Reference.N),
		map[string]any{"frechet_distance": floor, "what": fmt.Sprintf("the first %d training images vs the test split", d.Floor.N)}, rows}
	js, err := saveStudy(dir, "frechet", summary, false, viz.Options{
		Title:  fmt.Sprintf("Sample quality: Fréchet distance of classifier features (%d samples, lower is better)", set.NumSamples),
		YLabel: "Fréchet distance to the test split", XLabel: "steps N"})
	return rows, floor, js, err
}

func printFrechet(rows []frechetRow, floor float64, floorImages int) error {
	tw := table(os.Stdout)
	fmt.Fprintln(tw, "sampler\tN\tFréchet distance\tpaper Table 3 (CIFAR-10 FID)\tseconds\t")
	for _, r := range rows {
		paper := "–"
		if r.PaperFID != nil {
			paper = fmt.Sprintf("%.2f", *r.PaperFID)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%s\t%.1f\t\n", r.Sampler, r.N, r.Frechet, paper, r.Seconds)
	}
	fmt.Fprintf(tw, "data floor\t\t%.3f\t(%d training images vs test)\t\t\n", floor, floorImages)
	return tw.Flush()
}

// mergeFrechet adds the moments of each sampler and N over the shards, copies the sample
// grids (written by the shard that did the first batches) and writes the whole run's outputs.
func mergeFrechet(shards []shardFile, dir, format string) error {
	var set frechetSettings
	if err := json.Unmarshal(shards[0].Settings, &set); err != nil {
		return err
	}
	var all frechetData
	for i, f := range shards {
		var d frechetData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		if len(d.Parts) != len(set.Samplers)*len(set.Steps) {
			return fmt.Errorf("%s holds %d of the run's %d samplers × N: the shard stopped early; rerun it", f.path, len(d.Parts), len(set.Samplers)*len(set.Steps))
		}
		if i == 0 {
			all = d
			continue
		}
		for j, pt := range d.Parts {
			if err := all.Parts[j].Moments.Add(pt.Moments); err != nil {
				return err
			}
			all.Parts[j].Seconds += pt.Seconds
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, pt := range all.Parts {
		if pt.Grid == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(shards[0].path), pt.Grid))
		if err == nil {
			err = atomicfile.WriteFile(filepath.Join(dir, pt.Grid), b)
		}
		if err != nil {
			return err
		}
	}
	rows, floor, js, err := writeFrechet(dir, set, all)
	if err != nil {
		return err
	}
	if format == "json" {
		_, err := os.Stdout.Write(js)
		return err
	}
	fmt.Printf("%s, %d samples per row from %d shards (%s)\n", set.ModelID, set.NumSamples, len(shards), dir)
	return printFrechet(rows, floor, all.Floor.N)
}
