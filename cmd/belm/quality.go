package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/internal/atomicfile"
	"github.com/belmlab/workbench/viz"
	"github.com/belmlab/workbench/viz/figures"

	"github.com/belmlab/workbench/belm/quality"
	"github.com/belmlab/workbench/data/fashionmnist"
)

func init() {
	register("classifier", "train the Fashion-MNIST classifier whose features the Fréchet distance uses; report its test accuracy", runClassifier)
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

// runFrechet samples --num_samples images per sampler and N from the same noises (common
// random numbers: differences between samplers are not sampling noise of the seeds), and
// measures each set against the test split.
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
	gridSize := fs.Int("grid_size", 64, between(0, 4096), "write the first this many samples of each sampler and N as a grid PNG (0: none)")
	saveDir := fs.String("save_dir", "out/frechet", "folder for frechet.csv, frechet.json and the sample grids")
	format := fs.formatFlag("the summary on stdout")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := checkOutputDir("save_dir", *saveDir); err != nil {
		return err
	}
	nList := *ns
	p, err := mf.load()
	if err != nil {
		return err
	}
	if err := checkBatch(p, *batch, fmt.Sprintf("--batch_size %d", *batch)); err != nil {
		return err
	}
	// The samples of one row are kept (8-bit, as float32) for the classifier's features.
	if err := checkMemory(fmt.Sprintf("--num_samples %d", *num), 4*float64(*num)*float64(p.Size(1))); err != nil {
		return err
	}
	var sams []belm.Sampler
	for _, name := range splitList(*samplers) {
		s, err := p.Sampler(name, mf.options(), true)
		if err != nil {
			return err
		}
		sams = append(sams, s)
	}
	for _, n := range nList {
		if _, err := p.Grid(n); err != nil {
			return err
		}
	}
	c, err := quality.LoadClassifier(*classifier, mf.backend)
	if err != nil {
		return err
	}
	if cc := c.Config(); cc.SampleSize != p.SampleSize() || cc.InChannels != p.Channels() {
		return fmt.Errorf("the classifier takes %d×%d×%d images, the model makes %d×%d×%d", cc.InChannels, cc.SampleSize, cc.SampleSize, p.Channels(), p.SampleSize(), p.SampleSize())
	}
	testSet, err1 := fashionmnist.Load(*dataDir, fashionmnist.Test)
	trainSet, err2 := fashionmnist.Load(*dataDir, fashionmnist.Train)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	ref, err := c.Stats(testSet.Float32(seq(testSet.Len()), 0))
	if err != nil {
		return err
	}
	// The floor: real training images against the test split, as many as the samples.
	floorStats, err := c.Stats(trainSet.Float32(seq(min(*num, trainSet.Len())), 0))
	if err != nil {
		return err
	}
	floor, err := quality.FrechetDistance(floorStats, ref)
	if err != nil {
		return err
	}
	total := 0
	for _, n := range nList {
		total += n * ((*num + *batch - 1) / *batch) * len(sams)
	}
	what := ""
	mf.observe(p, total, &what)
	var rows []frechetRow
	var js []byte
	// save writes the CSV, the JSON and the figure of the rows so far: a long run that
	// stops keeps what it measured.
	save := func() error {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Write([]string{"sampler", "num_inference_steps", "num_samples", "frechet_distance", "paper_table3_cifar10_fid", "seconds"})
		for _, r := range rows {
			paper := ""
			if r.PaperFID != nil {
				paper = strconv.FormatFloat(*r.PaperFID, 'g', -1, 64)
			}
			w.Write([]string{r.Sampler, strconv.Itoa(r.N), strconv.Itoa(r.Samples), strconv.FormatFloat(r.Frechet, 'g', 6, 64), paper, strconv.FormatFloat(r.Seconds, 'f', 1, 64)})
		}
		w.Flush()
		if err := atomicfile.WriteFile(filepath.Join(*saveDir, "frechet.csv"), buf.Bytes()); err != nil {
			return err
		}
		summary := map[string]any{
			"model_id": mf.modelID, "backend": p.Runner.Backend().Name(), "dtype": p.DType().String(),
			"classifier": *classifier, "classifier_test_accuracy": c.Meta["test_accuracy"],
			"metric":     "Fréchet distance of the classifier's penultimate features (128-d), samples (8-bit quantised) vs the 10,000 test images; FID's formula on other features, not FID",
			"bdia_gamma": mf.gamma, "edict_p": mf.p, "ddim_clip_sample": p.Scheduler.ClipSample, "seed": *seed, "batch_size": *batch, "num_samples": *num,
			"data_floor": map[string]any{"frechet_distance": floor, "what": fmt.Sprintf("the first %d training images vs the test split", min(*num, trainSet.Len()))},
			"results":    rows,
		}
		var err error
		js, err = saveStudy(*saveDir, "frechet", summary, false, viz.Options{
			Title:  fmt.Sprintf("Sample quality: Fréchet distance of classifier features (%d samples, lower is better)", *num),
			YLabel: "Fréchet distance to the test split", XLabel: "steps N"})
		return err
	}
	for _, n := range nList {
		for _, s := range sams {
			what = fmt.Sprintf("%s N=%d", s.Name(), n)
			start := time.Now()
			var images []float32
			var first []float64
			for b0, k := 0, 0; b0 < *num; b0, k = b0+*batch, k+1 {
				b := min(*batch, *num-b0)
				x, err := p.Sample(s, n, pipeline.Noise(*seed+uint64(k), p.Size(b)), b)
				if err != nil {
					return fmt.Errorf("%s N=%d, batch %d: %w", s.Name(), n, k, err)
				}
				images = append(images, quality.Quantize(x)...)
				if len(first) < *gridSize*p.Size(1) {
					first = append(first, x[:min(len(x), *gridSize*p.Size(1)-len(first))]...)
				}
			}
			p.Runner.ReleaseGraphs() // each sampler's ORT sessions hold arenas of the batch's size
			st, err := c.Stats(images)
			if err != nil {
				return fmt.Errorf("%s N=%d: %w", s.Name(), n, err)
			}
			fd, err := quality.FrechetDistance(st, ref)
			if err != nil {
				return err
			}
			row := frechetRow{Sampler: s.Name(), N: n, Samples: *num, Frechet: fd, Seconds: time.Since(start).Seconds()}
			if v, ok := study.PaperValue(study.PaperFIDCIFAR10, s.Name(), n); ok {
				row.PaperFID = &v
			}
			if *gridSize > 0 {
				k := len(first) / p.Size(1)
				grid, err := gridOf(p, first, k, int(math.Ceil(math.Sqrt(float64(k)))))
				if err != nil {
					return err
				}
				row.Grid = filepath.Join(*saveDir, fmt.Sprintf("samples_%s_N%d.png", s.Name(), n))
				if err := savePNG(grid, row.Grid); err != nil {
					return err
				}
			}
			rows = append(rows, row)
			if err := save(); err != nil {
				return err
			}
		}
	}
	if *format == "json" {
		_, err := os.Stdout.Write(js)
		return err
	}
	fmt.Printf("%s, %d samples per row, classifier test accuracy %s, BDIA γ = %g, EDICT p = %g (%s)\n", mf.modelID, *num, c.Meta["test_accuracy"], mf.gamma, mf.p, *saveDir)
	tw := table(os.Stdout)
	fmt.Fprintln(tw, "sampler\tN\tFréchet distance\tpaper Table 3 (CIFAR-10 FID)\tseconds\t")
	for _, r := range rows {
		paper := "–"
		if r.PaperFID != nil {
			paper = fmt.Sprintf("%.2f", *r.PaperFID)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%s\t%.1f\t\n", r.Sampler, r.N, r.Frechet, paper, r.Seconds)
	}
	fmt.Fprintf(tw, "data floor\t\t%.3f\t(%d training images vs test)\t\t\n", floor, min(*num, trainSet.Len()))
	return tw.Flush()
}

// defaultClassifier is the shipped classifier.
const defaultClassifier = "data/fashion-mnist/classifier.safetensors"

// runClassifier trains the classifier. SIGINT or SIGTERM saves the run's state next to
// --output (.state.safetensors) after the current step and exits with 130 / 143 and the
// command that resumes; a second signal exits at once.
func runClassifier(args []string) error {
	fs := newFlagSet("classifier")
	tc := quality.DefaultTrainConfig()
	dataDir := fs.String("data_dir", fashionmnist.Dir(), "folder of the Fashion-MNIST .gz files ($"+fashionmnist.EnvDir+")")
	fs.IntVar(&tc.Epochs, "num_epochs", tc.Epochs, between(1, 10000), "epochs over the training split")
	fs.IntVar(&tc.BatchSize, "train_batch_size", tc.BatchSize, between(1, 60000), "batch size")
	fs.Float64Var(&tc.LearningRate, "learning_rate", tc.LearningRate, bounds{lo: 0, hi: 1, openLo: true}, "AdamW peak learning rate (cosine decay to 0)")
	fs.Float64Var(&tc.WeightDecay, "adam_weight_decay", tc.WeightDecay, between(0, 1), "AdamW decoupled weight decay")
	fs.Uint64Var(&tc.Seed, "seed", tc.Seed, "seed of the initial weights and the data order")
	backend := fs.String("backend", "", "GoMLX backend: go | onnx | xla (default $GOMLX_BACKEND or go)")
	output := fs.String("output", defaultClassifier, "the safetensors file to write (weights, architecture, test accuracy)")
	resume := fs.Bool("resume", false, "continue the run stopped by a signal, from --output's .state.safetensors (same flags)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := checkOutputFile("output", *output); err != nil {
		return err
	}
	tc.Checkpoint = strings.TrimSuffix(*output, ".safetensors") + ".state.safetensors"
	if *resume {
		if _, err := os.Stat(tc.Checkpoint); err != nil {
			return usagef("--resume: no stopped run to continue (%v)", err)
		}
		tc.Resume = tc.Checkpoint
	}
	trainSet, err1 := fashionmnist.Load(*dataDir, fashionmnist.Train)
	testSet, err2 := fashionmnist.Load(*dataDir, fashionmnist.Test)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	stop := newStopper(func() string { return "the run's state was not saved" })
	defer stop.stop()
	tc.Stop = func() bool { return stop.requested() != 0 }
	bar := newProgress(os.Stderr)
	start := time.Now()
	var loss float64
	c, err := quality.TrainClassifier(quality.FashionMNISTClassifier(), trainSet, tc, *backend, func(step, total int, l float64) {
		if loss == 0 {
			loss = l
		}
		loss = 0.98*loss + 0.02*l
		if !*quiet {
			bar.update(step, total, fmt.Sprintf("classifier loss %.3f", loss))
		}
	})
	var stopped *quality.StoppedError
	if errors.As(err, &stopped) {
		sig := stop.requested()
		return interruptedError{sig, fmt.Sprintf("%s: %v; resume with\n  belm classifier %s --resume", syscall.Signal(sig), err, strings.Join(args, " "))}
	}
	if err != nil {
		return err
	}
	trained := time.Since(start)
	acc, err := c.Accuracy(testSet.Float32(seq(testSet.Len()), 0), testSet.BatchLabels(seq(testSet.Len())))
	if err != nil {
		return err
	}
	c.Meta["test_accuracy"] = fmt.Sprintf("%.4f", acc)
	c.Meta["train_time"] = trained.Round(time.Second).String()
	if err := c.Save(*output); err != nil {
		return err
	}
	os.Remove(tc.Checkpoint) // the run is complete: its resumable state is no longer needed
	fmt.Printf("classifier: test accuracy %.2f %% on %d images; trained in %s on %s (final running loss %.3f); wrote %s\n",
		100*acc, testSet.Len(), trained.Round(time.Second), c.Backend().Name(), loss, *output)
	return nil
}

// seq is 0, 1, …, n−1.
func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// saveStudy writes a real-model study's summary as dir/name.json and its figure (the
// values against N, per sampler) as dir/name.png and .svg; it returns the JSON.
func saveStudy(dir, name string, summary any, slopes bool, o viz.Options) ([]byte, error) {
	var js bytes.Buffer
	if err := writeJSON(&js, summary); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+".json")
	if err := atomicfile.WriteFile(path, js.Bytes()); err != nil {
		return nil, err
	}
	pts, _, err := figures.ReadStudy(path) // the figure shows what the file says
	if err != nil {
		return nil, err
	}
	pl, err := figures.StudyVsSteps(pts, slopes, o)
	if err != nil {
		return nil, err
	}
	return js.Bytes(), viz.Save(pl, dir, name, 0, 0)
}
