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

// frechetRow is one sampler and N of the Fréchet study, as frechet.json lists it.
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

// frechetFlags are the flags of belm frechet.
type frechetFlags struct {
	mf                            modelFlags
	sh                            shard
	samplers, classifier, dataDir *string
	saveDir, format               *string
	steps                         *[]int
	num, batch, numRef, gridSize  *int
	seed                          *uint64
}

func (f *frechetFlags) register(fs *flagSet) {
	// Table 3's settings (CIFAR-10), chosen there at 10 steps, on the model trained here.
	f.mf.register(fs, modelDefaults{"data/fashion-mnist", "float32", belm.SamplerOptions{BDIAGamma: 0.1, EDICTP: 0.97}})
	f.samplers = fs.NonEmpty("sampler_type", "ddim,edict,bdia,belm", "comma-separated, of: "+registeredSamplers())
	f.steps = fs.Ints("num_inference_steps", "10,20,50,100", between(1, 1000), 1, "comma-separated step counts N")
	f.num = fs.Int("num_samples", 5000, between(2, 1<<24), "samples per sampler and N")
	f.batch = fs.Int("batch_size", 100, between(1, 1<<20), "images per batch; batch k uses the noise of seed+k for every sampler and N (100: peak memory 1.6 GB on onnx, as fast as 250 at 3.8 GB; BENCHMARKS.md §5)")
	f.seed = fs.Uint64("seed", 1, "seed of the first batch's noise")
	f.classifier = fs.String("classifier", defaultClassifier, "the feature extractor (belm classifier)")
	f.dataDir = fs.String("data_dir", fashionmnist.Dir(), "folder of the Fashion-MNIST .gz files ($"+fashionmnist.EnvDir+")")
	f.numRef = fs.Int("num_reference", 10000, between(2, 10000), "test images of the reference statistics (the first ones; all 10,000 for the paper's protocol)")
	f.gridSize = fs.Int("grid_size", 64, between(0, 4096), "write the first this many samples of each sampler and N as a grid PNG (0: none)")
	f.saveDir = fs.String("save_dir", "out/frechet", "folder for frechet.csv, frechet.json and the sample grids")
	f.format = fs.formatFlag("the summary on stdout")
	f.sh.register(fs)
}

// runFrechet samples --num_samples images per sampler and N from the same noises and
// measures each set against the test split (study.Frechet); after each sampler and N it
// writes what it has, so a long run that stops (a signal: exit 130 / 143) keeps it.
func runFrechet(args []string) error {
	fs := newFlagSet("frechet")
	var f frechetFlags
	f.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	p, err := f.mf.start(*f.saveDir, "", *f.batch, fmt.Sprintf("--batch_size %d", *f.batch))
	if err != nil {
		return err
	}
	cfg, set, err := f.config(p)
	if err != nil {
		return err
	}
	stop := newStopper(func() string { return "the rows finished are in " + *f.saveDir })
	defer stop.stop()
	var rows []frechetRow
	var floor float64
	var js []byte
	cfg.Finished = func(d *study.FrechetData) error {
		if err := saveGrid(p, *f.saveDir, &d.Parts[len(d.Parts)-1]); err != nil {
			return err
		}
		if f.sh.on() {
			return writeShard(*f.saveDir, "frechet", f.sh, set, d)
		}
		var werr error
		rows, floor, js, werr = writeFrechet(*f.saveDir, set, *d)
		return werr
	}
	d, err := study.Frechet(stop.context(), p, cfg)
	if err != nil || f.sh.on() {
		return stop.interrupted(err, fmt.Sprintf("the rows finished are in %s; rerun the command to complete it", *f.saveDir))
	}
	if *f.format == "json" {
		_, err := os.Stdout.Write(js)
		return err
	}
	fmt.Printf("%s, %d samples per row, classifier test accuracy %s, BDIA γ = %g, EDICT p = %g (%s)\n", f.mf.modelID, *f.num, set.ClassifierAccuracy, f.mf.gamma, f.mf.p, *f.saveDir)
	return printFrechet(rows, floor, d.Floor.N)
}

// config loads the classifier and the reference images (the test split) and the data
// floor's (as many training images as samples) for the study on p.
func (f *frechetFlags) config(p *pipeline.Pipeline) (study.FrechetConfig, frechetSettings, error) {
	var cfg study.FrechetConfig
	sams, err := p.Samplers(splitList(*f.samplers), f.mf.options(), true, *f.steps...)
	if err != nil {
		return cfg, frechetSettings{}, err
	}
	c, err := quality.LoadClassifier(*f.classifier, f.mf.backend)
	if err != nil {
		return cfg, frechetSettings{}, err
	}
	if cc := c.Config(); cc.SampleSize != p.SampleSize() || cc.InChannels != p.Channels() {
		return cfg, frechetSettings{}, fmt.Errorf("the classifier takes %d×%d×%d images, the model makes %d×%d×%d", cc.InChannels, cc.SampleSize, cc.SampleSize, p.Channels(), p.SampleSize(), p.SampleSize())
	}
	testSet, err1 := fashionmnist.Load(*f.dataDir, fashionmnist.Test)
	trainSet, err2 := fashionmnist.Load(*f.dataDir, fashionmnist.Train)
	if err := errors.Join(err1, err2); err != nil {
		return cfg, frechetSettings{}, err
	}
	set := frechetSettings{ModelID: f.mf.modelID, Backend: p.Runner.Backend().Name(), DType: p.DType().String(), Classifier: *f.classifier,
		ClassifierAccuracy: c.Meta["test_accuracy"], Gamma: f.mf.gamma, P: f.mf.p, ClipSample: p.Schedule.Config.ClipSample, Seed: *f.seed,
		BatchSize: *f.batch, NumSamples: *f.num, NumReference: *f.numRef, Samplers: samplerNames(sams), Steps: *f.steps}
	cfg = study.FrechetConfig{Samplers: sams, Steps: *f.steps, NumSamples: *f.num, BatchSize: *f.batch, Seed: *f.seed, Features: c,
		Reference: testSet.Float32(seq(min(*f.numRef, testSet.Len())), 0), Floor: trainSet.Float32(seq(min(*f.num, trainSet.Len())), 0),
		Keep: *f.gridSize, Batches: f.sh.has, Progress: f.mf.progress()}
	return cfg, set, nil
}

// saveGrid writes the first samples of pt (if it kept any) as a grid PNG in dir and names
// it in pt.Grid.
func saveGrid(p *pipeline.Pipeline, dir string, pt *study.FrechetPart) error {
	k := len(pt.First) / p.ImageSize(1)
	if k == 0 {
		return nil
	}
	grid, err := gridOf(p, pt.First, k, int(math.Ceil(math.Sqrt(float64(k)))))
	if err != nil {
		return err
	}
	pt.Grid = fmt.Sprintf("samples_%s_N%d.png", pt.Sampler, pt.N)
	return savePNG(grid, filepath.Join(dir, pt.Grid))
}

// writeFrechet computes the distances of d's parts to the reference and writes
// frechet.csv, frechet.json and the figure; it returns the rows, the data floor and the JSON.
func writeFrechet(dir string, set frechetSettings, d study.FrechetData) ([]frechetRow, float64, []byte, error) {
	dists, floor, err := d.Distances()
	if err != nil {
		return nil, 0, nil, err
	}
	var rows []frechetRow
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"sampler", "num_inference_steps", "num_samples", "frechet_distance", "paper_table3_cifar10_fid", "seconds"})
	for i, r := range dists {
		row := frechetRow{Sampler: r.Sampler, N: r.N, Samples: r.Samples, Frechet: r.Frechet, Seconds: r.Seconds, PaperFID: r.PaperFID}
		if g := d.Parts[i].Grid; g != "" {
			row.Grid = filepath.Join(dir, g)
		}
		paper := ""
		if r.PaperFID != nil {
			paper = strconv.FormatFloat(*r.PaperFID, 'g', -1, 64)
		}
		rows = append(rows, row)
		w.Write([]string{row.Sampler, strconv.Itoa(row.N), strconv.Itoa(row.Samples), strconv.FormatFloat(row.Frechet, 'g', 6, 64), paper, strconv.FormatFloat(row.Seconds, 'f', 1, 64)})
	}
	w.Flush()
	if err := atomicfile.WriteFile(filepath.Join(dir, "frechet.csv"), buf.Bytes()); err != nil {
		return nil, 0, nil, err
	}
	type dataFloor struct {
		Frechet float64 `json:"frechet_distance"`
		What    string  `json:"what"`
	}
	summary := struct {
		frechetSettings
		Metric  string       `json:"metric"`
		Floor   dataFloor    `json:"data_floor"`
		Results []frechetRow `json:"results"`
	}{set, fmt.Sprintf("Fréchet distance of the classifier's penultimate features (128-d), samples (8-bit quantised) vs %d test images; FID's formula on other features, not FID", d.Reference.N),
		dataFloor{floor, fmt.Sprintf("the first %d training images vs the test split", d.Floor.N)}, rows}
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

// mergeFrechet adds the moments of each sampler and N over the shards (study.MergeFrechet),
// copies the sample grids (written by the shard that did the first batches) and writes the
// whole run's outputs.
func mergeFrechet(shards []shardFile, dir, format string) error {
	var set frechetSettings
	if err := json.Unmarshal(shards[0].Settings, &set); err != nil {
		return err
	}
	ds := make([]study.FrechetData, len(shards))
	for i, f := range shards {
		if err := json.Unmarshal(f.Data, &ds[i]); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
	}
	all, err := study.MergeFrechet(ds, len(set.Samplers)*len(set.Steps))
	if err != nil {
		return err
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
