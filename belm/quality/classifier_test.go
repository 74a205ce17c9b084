package quality

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/belmlab/workbench/data/fashionmnist"
	"github.com/belmlab/workbench/data/fashionmnist/fashionmnisttest"
)

// shipped is the classifier shipped with the project, from this package's folder.
const shipped = "../../data/fashion-mnist/classifier.safetensors"

// loadData is a split of Fashion-MNIST; without it the test fails, saying how to install it.
func loadData(t testing.TB, split fashionmnist.Split) *fashionmnist.Dataset {
	t.Helper()
	return fashionmnisttest.Load(t, split)
}

// head is the first n images of a split.
func head(ds *fashionmnist.Dataset, n int) *fashionmnist.Dataset {
	return &fashionmnist.Dataset{Images: ds.Images[:n*ds.H*ds.W], Labels: ds.Labels[:n], H: ds.H, W: ds.W}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func randomImages(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*28*28)
	for i := range x {
		x[i] = float32(2*r.Float64() - 1)
	}
	return x
}

func TestClassifierSaveLoad(t *testing.T) {
	c, err := NewClassifier(FashionMNISTClassifier(), 7, "go")
	if err != nil {
		t.Fatal(err)
	}
	x := randomImages(1, 3)
	f1, l1, err := c.Apply(x)
	if err != nil {
		t.Fatal(err)
	}
	if len(f1) != 3*128 || len(l1) != 3*10 {
		t.Fatalf("features %d, logits %d values", len(f1), len(l1))
	}
	c.Meta["note"] = "kept"
	path := filepath.Join(t.TempDir(), "c.safetensors")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	d, err := LoadClassifier(path, "go")
	if err != nil {
		t.Fatal(err)
	}
	f2, l2, err := d.Apply(x)
	if err != nil {
		t.Fatal(err)
	}
	// Same weights, same backend, same graph: bit-identical.
	if !slices.Equal(f1, f2) || !slices.Equal(l1, l2) || d.Meta["note"] != "kept" {
		t.Errorf("reloaded classifier differs (meta %v)", d.Meta)
	}
}

func TestClassifierErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadClassifier(filepath.Join(dir, "missing.safetensors"), "go"); err == nil || !strings.Contains(err.Error(), "belm classifier") {
		t.Errorf("missing file: %v", err)
	}
	noConfig := filepath.Join(dir, "noconfig.safetensors")
	if err := safetensors.Write(noConfig, []safetensors.Tensor{safetensors.FromFloat32("x", []int{1}, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadClassifier(noConfig, "go"); err == nil || !strings.Contains(err.Error(), "config") {
		t.Errorf("no config: %v", err)
	}
	c, err := NewClassifier(FashionMNISTClassifier(), 1, "go")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Apply(make([]float32, 100)); err == nil {
		t.Error("100 values: no error")
	}
	x := randomImages(2, 1)
	x[5] = float32(math.NaN())
	if _, _, err := c.Apply(x); err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Errorf("NaN image: %v", err)
	}
	bad := FashionMNISTClassifier()
	bad.SampleSize = 30
	if _, err := NewClassifier(bad, 1, "go"); err == nil {
		t.Error("size 30 with two halvings: no error")
	}
	tc := TrainConfig{Epochs: 1, BatchSize: 4, LearningRate: 1e-3}
	for _, c := range []struct {
		data fakeSet
		want string
	}{
		{fakeSet{n: 8, values: 28 * 28, label: 10}, "has label 10, the classifier has 10 classes"},
		{fakeSet{n: 8, values: 32 * 32}, "takes 1×28×28 images (784 values), the data's images have 1024"},
		{fakeSet{n: 3, values: 28 * 28}, "for 3 images"},
	} {
		if _, err := TrainClassifier(FashionMNISTClassifier(), c.data, tc, "go", nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one saying %q", c.data, err, c.want)
		}
	}
}

// fakeSet is n blank images of the given number of values, all with one label.
type fakeSet struct{ n, values, label int }

func (f fakeSet) Len() int                    { return f.n }
func (f fakeSet) Batch(idx []int) []float32   { return make([]float32, len(idx)*f.values) }
func (f fakeSet) BatchLabels(idx []int) []int { return slices.Repeat([]int{f.label}, len(idx)) }

// A few dozen steps on 2,048 images already classify most held-out training images: the
// loss, the gradients through the convolutions and AdamW are wired right.
func TestTrainClassifierLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for ~10 s")
	}
	ds := loadData(t, fashionmnist.Train)
	small := head(ds, 2048)
	tc := TrainConfig{Epochs: 1, BatchSize: 64, LearningRate: 2e-3, Seed: 1}
	var first, last float64
	c, err := TrainClassifier(FashionMNISTClassifier(), small, tc, "go", func(step, total int, loss float64) {
		if step == 1 {
			first = loss
		}
		last = loss
	})
	if err != nil {
		t.Fatal(err)
	}
	held := seq(3048)[2048:]
	acc, err := c.Accuracy(ds.Float32(held, 0), ds.BatchLabels(held))
	if err != nil {
		t.Fatal(err)
	}
	// Chance is 0.1 and ln 10 = 2.30 the initial loss; 32 steps reach ~0.7 here.
	if !(first > 2 && last < 1.2 && acc > 0.6) {
		t.Errorf("loss %.3f → %.3f, held-out accuracy %.3f (want > 0.6)", first, last, acc)
	}
	t.Logf("loss %.3f → %.3f, held-out accuracy %.3f", first, last, acc)
}

// The shipped classifier: its stated test accuracy is what it scores, and its Fréchet
// distance separates real images from images that are not garments.
func TestShippedClassifier(t *testing.T) {
	test := loadData(t, fashionmnist.Test)
	if _, err := os.Stat(shipped); err != nil {
		t.Fatalf("the shipped classifier is missing: %v", err)
	}
	c, err := LoadClassifier(shipped, "go")
	if err != nil {
		t.Fatal(err)
	}
	all := seq(test.Len())
	x := test.Float32(all, 0)
	acc, err := c.Accuracy(x, test.BatchLabels(all))
	if err != nil {
		t.Fatal(err)
	}
	stated, err := strconv.ParseFloat(c.Meta["test_accuracy"], 64)
	if err != nil {
		t.Fatalf("test_accuracy metadata %q: %v", c.Meta["test_accuracy"], err)
	}
	// It was measured on onnx: float32 rounding of another backend can flip a handful of
	// the 10,000 predictions (each flip is 1e-4).
	if math.Abs(acc-stated) > 2e-3 || acc < 0.9 {
		t.Errorf("test accuracy %.4f on go, stated %.4f (want ≥ 0.9, within 0.002 of the stated)", acc, stated)
	}

	ref, err := c.Stats(x)
	if err != nil {
		t.Fatal(err)
	}
	train := loadData(t, fashionmnist.Train)
	real, err := c.Stats(train.Float32(seq(2000), 0))
	if err != nil {
		t.Fatal(err)
	}
	noise, err := c.Stats(randomImages(3, 2000))
	if err != nil {
		t.Fatal(err)
	}
	fdReal, _ := FrechetDistance(real, ref)
	fdNoise, _ := FrechetDistance(noise, ref)
	t.Logf("Fréchet distance to the test split: 2000 training images %.3f, 2000 uniform-noise images %.1f", fdReal, fdNoise)
	if !(fdReal < 0.05*fdNoise) {
		t.Errorf("real images %.3f, noise %.3f: the metric does not separate them", fdReal, fdNoise)
	}
}
