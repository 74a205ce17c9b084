package fashionmnist_test

import (
	"slices"
	"testing"

	"github.com/belmlab/workbench/belm/quality"
	"github.com/belmlab/workbench/belm/train"
	"github.com/belmlab/workbench/data/fashionmnist"
	"github.com/belmlab/workbench/data/fashionmnist/fashionmnisttest"
)

// The adapters: a Dataset and a Padded one are training sets of belm/train and belm/quality.
var (
	_ train.LabelledImages = (*fashionmnist.Dataset)(nil)
	_ train.LabelledImages = fashionmnist.Padded{}
)

// TestRealFiles reads Debian's files (`make data`; a failure, not a skip, without them).
func TestRealFiles(t *testing.T) {
	for _, c := range []struct {
		split fashionmnist.Split
		n     int
	}{{fashionmnist.Train, 60000}, {fashionmnist.Test, 10000}} {
		ds := fashionmnisttest.Load(t, c.split)
		if ds.Len() != c.n || ds.H != 28 || ds.W != 28 || ds.Split != c.split {
			t.Fatalf("%s: %d images of %d×%d, split %q", c.split, ds.Len(), ds.H, ds.W, ds.Split)
		}
		var counts [10]int
		for _, l := range ds.Labels {
			counts[l]++
		}
		for l, n := range counts { // Fashion-MNIST is balanced
			if n != c.n/10 {
				t.Errorf("%s: label %d appears %d times, want %d", c.split, l, n, c.n/10)
			}
		}
		x := ds.Float32([]int{0, 1, 2, 3}, 2)
		if len(x) != 4*32*32 {
			t.Fatalf("padded batch has %d values", len(x))
		}
		lo, hi, sum := float32(1), float32(-1), 0.0
		for _, v := range x {
			lo, hi, sum = min(lo, v), max(hi, v), sum+float64(v)
		}
		if lo != -1 || hi > 1 || hi < 0.5 || sum/float64(len(x)) > 0 {
			t.Errorf("%s: values in [%v, %v], mean %v: not images in [-1, 1] on a dark background", c.split, lo, hi, sum/float64(len(x)))
		}
	}
}

// The models built for Fashion-MNIST in belm/ (which imports no data set) are of its shape
// and classes, and quality.Quantize puts an image read here back on itself: for every byte
// b, Quantize(Scale(b)) = float32(Scale(b)) exactly (the 8-bit grid's round trip).
func TestModelsMatchTheData(t *testing.T) {
	u := train.FashionMNISTUNet()
	if *u.SampleSize != fashionmnist.Size || u.InChannels != 1 {
		t.Errorf("train.FashionMNISTUNet: sample_size %d, in_channels %d; the data is 1×%d×%d", *u.SampleSize, u.InChannels, fashionmnist.Size, fashionmnist.Size)
	}
	c := quality.FashionMNISTClassifier()
	if c.SampleSize != fashionmnist.Size || c.InChannels != 1 || !slices.Equal(c.ClassNames, fashionmnist.ClassNames[:]) {
		t.Errorf("quality.FashionMNISTClassifier: %d×%d×%d, classes %q; the data: 1×%d×%d, %q",
			c.InChannels, c.SampleSize, c.SampleSize, c.ClassNames, fashionmnist.Size, fashionmnist.Size, fashionmnist.ClassNames)
	}
	for b := range 256 {
		v := fashionmnist.Scale(uint8(b))
		if got := quality.Quantize([]float64{v}); got[0] != float32(v) {
			t.Errorf("byte %d: Quantize(Scale) = %v, want %v", b, got[0], float32(v))
		}
	}
}

// First is the test split's first images in [−1, 1], the same values as the Dataset's, and
// asks for a count the split has.
func TestFirst(t *testing.T) {
	ds := fashionmnisttest.Load(t, fashionmnist.Test)
	x, err := fashionmnist.First(fashionmnist.Test, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := ds.Float64([]int{0, 1, 2}, 0); !slices.Equal(x, want) {
		t.Errorf("First(test, 3) differs from the dataset's images 0–2")
	}
	for _, n := range []int{0, 10001} {
		if _, err := fashionmnist.First(fashionmnist.Test, n); err == nil {
			t.Errorf("First(test, %d): no error", n)
		}
	}
}
