package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/belmlab/workbench/internal/atomicfile"
	"github.com/belmlab/workbench/viz"
	"github.com/belmlab/workbench/viz/figures"

	"github.com/belmlab/workbench/belm/quality"
	"github.com/belmlab/workbench/data/fashionmnist"
)

func init() {
	register("classifier", "train the Fashion-MNIST classifier whose features the Fréchet distance uses; report its test accuracy", runClassifier)
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
		return interruptedError{sig, fmt.Sprintf("%s: %v; resume with\n  belm classifier %s --resume", syscall.Signal(sig), err, shellJoin(args))}
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

// shellJoin quotes the arguments that a shell would split or expand.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;~#!") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
