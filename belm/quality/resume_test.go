package quality

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/belmlab/workbench/data/fashionmnist"
)

// A run stopped after 3 of 8 steps and resumed from its checkpoint ends with the weights of
// an uninterrupted run, bit for bit: same batches (the batcher is replayed), same Adam
// moments, same learning-rate schedule.
func TestTrainClassifierStopResume(t *testing.T) {
	ds := head(loadData(t, fashionmnist.Train), 256)
	tc := TrainConfig{Epochs: 1, BatchSize: 32, LearningRate: 2e-3, Seed: 3}
	whole, err := TrainClassifier(FashionMNISTClassifier(), ds, tc, "go", nil)
	if err != nil {
		t.Fatal(err)
	}

	ckpt := filepath.Join(t.TempDir(), "classifier.state.safetensors")
	steps := 0
	stopped := tc
	stopped.Checkpoint = ckpt
	stopped.Stop = func() bool { return steps == 3 }
	_, err = TrainClassifier(FashionMNISTClassifier(), ds, stopped, "go", func(step, total int, loss float64) { steps = step })
	var se *StoppedError
	if !errors.As(err, &se) || se.Step != 3 || se.Total != 8 || se.Checkpoint != ckpt {
		t.Fatalf("stopped run: %v (%+v)", err, se)
	}

	resumed := tc
	resumed.Resume = ckpt
	first := 0
	c, err := TrainClassifier(FashionMNISTClassifier(), ds, resumed, "go", func(step, total int, loss float64) {
		if first == 0 {
			first = step
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if first != 4 {
		t.Errorf("the resumed run started at step %d, want 4", first)
	}
	w1, err1 := whole.weights()
	w2, err2 := c.weights()
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	for name, v := range w1 {
		if !slices.Equal(v, w2[name]) {
			t.Errorf("%s differs between the uninterrupted and the resumed run", name)
		}
	}

	other := tc
	other.Resume, other.LearningRate = ckpt, 1e-3
	if _, err := TrainClassifier(FashionMNISTClassifier(), ds, other, "go", nil); err == nil {
		t.Error("resuming with another learning rate: no error")
	}
}
