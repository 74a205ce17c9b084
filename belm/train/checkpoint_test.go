package train

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/belmlab/workbench/belm/safetensors"
)

// formatV1 is a checkpoint in format 1 as written before the data sets left belm/ (commit
// 38fb3e4, when the data position was fashionmnist.BatcherState): an 11,621-parameter UNet
// (block_out_channels (4, 8), attention in the second level and the mid block) trained for 6
// steps of batch 4 on blobs{10} (so the data stream is in its third epoch), seed 3, on the go
// backend with GOEXPERIMENT=simd. formatV1Next holds that run's steps 7…10, uninterrupted.
// Checkpoints of real runs (belm train) have the same tensor names and metadata.
const (
	formatV1     = "testdata/checkpoint-6.safetensors"
	formatV1Next = "testdata/checkpoint-6.continuation.json"
)

// TestResumeFormatV1 resumes the format-1 checkpoint and checks that nothing of it is lost
// or reinterpreted:
//
//   - written back by SaveCheckpoint it has the same tensors, bit for bit (names, dtypes,
//     shapes, values), the same metadata key, and a State holding every field of the old
//     one with the same value: the format is unchanged;
//   - the step (6), the data position (epoch 2, position 8 of 10 images), the data size and
//     the evaluation noise (PCG(seed, evalStream)) are what the writing run had;
//   - training on continues the old run: steps 7…10 have its learning rates exactly and its
//     losses and gradient norms to 1e-5 relative. Not bit for bit here because the file's
//     numbers depend on the matmul kernels of the machine and build that wrote it (with and
//     without GOEXPERIMENT=simd they differ by ~5e-7 relative); a wrong batch, timestep,
//     moment or weight would move the loss by > 1e-2. Bit-exact continuation on one machine
//     is TestResumeIsBitExact's.
func TestResumeFormatV1(t *testing.T) {
	tr, err := Resume(formatV1, blobs{10}, "go")
	if err != nil {
		t.Fatalf("resuming a format-1 checkpoint: %v", err)
	}
	st := tr.State()
	if st.Step != 6 || st.Data != (BatcherState{Epoch: 2, Pos: 8}) || st.DataLen != 10 || tr.Step() != 6 {
		t.Errorf("resumed state %+v (step %d), want step 6, data {2 8}, 10 images", st, tr.Step())
	}
	wantNoise := normal32(rand.New(rand.NewPCG(st.Config.Seed, evalStream)), 2*8*8)
	if got := tr.EvalNoise(); !slices.Equal(got, wantNoise) {
		t.Errorf("evaluation noise differs from PCG(seed, evalStream)")
	}
	again := filepath.Join(t.TempDir(), CheckpointName(6))
	if err := tr.SaveCheckpoint(again); err != nil {
		t.Fatal(err)
	}
	sameCheckpoint(t, formatV1, again)

	raw, err := os.ReadFile(formatV1Next)
	if err != nil {
		t.Fatal(err)
	}
	var want []StepStats
	if err := json.Unmarshal(raw, &want); err != nil || len(want) != 4 {
		t.Fatalf("%s: %d steps, %v", formatV1Next, len(want), err)
	}
	worst := 0.0
	for _, w := range want {
		got, err := tr.TrainStep()
		if err != nil {
			t.Fatal(err)
		}
		worst = max(worst, math.Abs(got.Loss-w.Loss)/w.Loss, math.Abs(got.GradNorm-w.GradNorm)/w.GradNorm)
		if got.Step != w.Step || got.LR != w.LR ||
			math.Abs(got.Loss-w.Loss) > 1e-5*w.Loss || math.Abs(got.GradNorm-w.GradNorm) > 1e-5*w.GradNorm {
			t.Errorf("step %d: resumed %+v, the writing run had %+v", w.Step, got, w)
		}
	}
	t.Logf("steps 7…10 resumed: largest relative difference from the writing run %.2g", worst)
}

// sameCheckpoint checks that checkpoint b holds a's tensors bit for bit and a's metadata
// keys, and that b's State has every field of a's with the same value.
func sameCheckpoint(t *testing.T, a, b string) {
	t.Helper()
	fa, err1 := safetensors.Open(a)
	fb, err2 := safetensors.Open(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	defer fa.Close()
	defer fb.Close()
	if na, nb := fa.Names(), fb.Names(); !slices.Equal(na, nb) {
		t.Fatalf("tensor names differ: %d in %s, %d rewritten", len(na), a, len(nb))
	}
	for _, name := range fa.Names() {
		ia, _ := fa.Info(name)
		ib, _ := fb.Info(name)
		va, _, err1 := fa.Float32(name)
		vb, _, err2 := fb.Float32(name)
		if err1 != nil || err2 != nil || ia.DType != ib.DType || !slices.Equal(ia.Shape, ib.Shape) || !bitEqual(va, vb) {
			t.Errorf("tensor %s: %s%v vs rewritten %s%v (errors %v, %v), or other values", name, ia.DType, ia.Shape, ib.DType, ib.Shape, err1, err2)
		}
	}
	keys := func(m map[string]string) []string {
		var k []string
		for key := range m {
			k = append(k, key)
		}
		slices.Sort(k)
		return k
	}
	if ka, kb := keys(fa.Metadata), keys(fb.Metadata); !slices.Equal(ka, kb) {
		t.Errorf("metadata keys %v, rewritten %v", ka, kb)
	}
	var sa, sb map[string]any
	if err := json.Unmarshal([]byte(fa.Metadata[MetadataKey]), &sa); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(fb.Metadata[MetadataKey]), &sb); err != nil {
		t.Fatal(err)
	}
	if path, ok := jsonSubset(sa, sb); !ok {
		t.Errorf("the rewritten state lost or changed %s:\n  old %s\n  new %s", path, fa.Metadata[MetadataKey], fb.Metadata[MetadataKey])
	}
}

func bitEqual(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// jsonSubset reports whether every field of the decoded JSON a is in b with the same value
// (b may have more fields: a format that grows stays readable), and the first path that is not.
func jsonSubset(a, b any) (string, bool) {
	am, ok := a.(map[string]any)
	if !ok {
		return "", reflect.DeepEqual(a, b)
	}
	bm, ok := b.(map[string]any)
	if !ok {
		return "", false
	}
	for k, v := range am {
		if p, ok := jsonSubset(v, bm[k]); !ok {
			return "/" + k + p, false
		}
	}
	return "", true
}
