package train

import (
	"os"
	"strconv"
	"testing"

	"github.com/belmlab/workbench/belm/unet"

	"github.com/belmlab/workbench/data/fashionmnist"
	"github.com/belmlab/workbench/data/fashionmnist/fashionmnisttest"
)

// BenchmarkTrainStep times one optimisation step of the Fashion-MNIST model (FashionMNISTUNet)
// on the real data (`make data`), after a warm-up step (compilation). $GOMLX_BACKEND picks the backend
// (onnx needs -tags onnx); $BELM_BENCH_BATCH the batch (default 64); $BELM_BENCH_SIZE 28 or 32.
//
//	GOEXPERIMENT=simd go test -run '^$' -bench TrainStep -benchtime 3x ./belm/train
func BenchmarkTrainStep(b *testing.B) {
	ds := fashionmnisttest.Load(b, fashionmnist.Test)
	cfg := DefaultConfig()
	if v, err := strconv.Atoi(os.Getenv("BELM_BENCH_BATCH")); err == nil {
		cfg.BatchSize = v
	}
	if p := os.Getenv("BELM_BENCH_CONFIG"); p != "" {
		c, err := unet.LoadConfig(p)
		if err != nil {
			b.Fatal(err)
		}
		cfg.UNet = c
	}
	size := 28
	if v, err := strconv.Atoi(os.Getenv("BELM_BENCH_SIZE")); err == nil {
		size = v
	}
	cfg.UNet.SampleSize = &size
	data, err := ds.Padded((size - ds.H) / 2)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := New(cfg, data, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("backend %s, %d parameters, batch %d, %d×%d", tr.Backend().Name(), tr.UNet().NumParameters(), cfg.BatchSize, size, size)
	if _, err := tr.TrainStep(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := tr.TrainStep(); err != nil {
			b.Fatal(err)
		}
	}
}
