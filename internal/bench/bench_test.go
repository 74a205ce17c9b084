package bench

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/unet"
)

const tinyConfig = "../../belm/unet/testdata/tiny_cifar10_config.json"

// TestRunTiny runs every section once, briefly, on a tiny UNet: the command works and its
// summary has a row per benchmark and backend (no timing is asserted).
func TestRunTiny(t *testing.T) {
	cfg, err := unet.LoadConfig(tinyConfig)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := Run(Options{Config: &cfg, Batches: []int{1, 2}, Samplers: []string{"ddim", "edict", "belm"}, Steps: 4, Images: 2,
		Duration: time.Millisecond, PassUNet: []string{GoSequential}, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"| forward/B1 |", "| forward/B2 |", "| matmul/2048 |", "forward throughput (", "| step/edict |", "| pass-unet/belm |", "per-step overhead", "compilations after 4 steps"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	if len(rep.Overhead) != len(DefaultBackends()) {
		t.Errorf("%d overhead rows, want %d", len(rep.Overhead), len(DefaultBackends()))
	}
}

// fullUNet returns a forward exec of the full-size ddpm-cifar10-32 UNet (random weights).
func fullUNet(b *testing.B, be string) *model.Exec {
	u, err := unet.NewRandom(unet.DDPMCifar10Config(), 1, dtypes.Float32)
	if err != nil {
		b.Fatal(err)
	}
	r := &runner{}
	e, err := model.NewExec(r.backend(be), u.Store(), func(scope *model.Scope, x, t *Node) *Node { return u.Forward(scope, x, t) })
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkUNetForward: the full-size ddpm-cifar10-32 forward, float32, per backend and batch.
func BenchmarkUNetForward(b *testing.B) {
	for _, be := range DefaultBackends() {
		e := fullUNet(b, be)
		for _, batch := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/B%d", be, batch), func(b *testing.B) {
				x, err := belm.NewTensor(belm.Normal(1, batch*3*32*32), dtypes.Float32, batch, 3, 32, 32)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Exec(x, float32(500)); err != nil { // compiles
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					out, err := e.Exec(x, float32(500))
					if err != nil {
						b.Fatal(err)
					}
					out[0].FinalizeAll()
				}
			})
		}
	}
}

func samplerBench(b *testing.B, be, name string, steps int) *samplerRun {
	r := &runner{o: Options{Steps: steps, Images: 8, DType: dtypes.Float32}}
	r.o.defaults()
	sr, err := r.newSamplerRun(be, name, cheapModel{})
	if err != nil {
		b.Fatal(err)
	}
	return sr
}

// BenchmarkStep: one sampler step on [8,3,32,32] with ε = σ·x (the sampler's own work).
func BenchmarkStep(b *testing.B) {
	for _, be := range DefaultBackends() {
		for _, name := range []string{"ddim", "edict", "bdia", "belm"} {
			b.Run(be+"/"+name, func(b *testing.B) {
				sr := samplerBench(b, be, name, 100)
				if err := sr.warm(); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if err := sr.oneStep(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPass100: a 100-step sampling pass of 8 images with ε = σ·x.
func BenchmarkPass100(b *testing.B) {
	for _, be := range DefaultBackends() {
		for _, name := range []string{"ddim", "edict", "bdia", "belm"} {
			b.Run(be+"/"+name, func(b *testing.B) {
				sr := samplerBench(b, be, name, 100)
				st := belm.State{Level: 100, Latents: []*tensors.Tensor{sr.x}}
				b.ResetTimer()
				for range b.N {
					if _, err := sr.r.Sample(sr.s, sr.g, st); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if c := sr.r.Compilations(); c != 1 {
					b.Fatalf("%d compilations, want 1", c)
				}
			})
		}
	}
}
