package clip

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/belmlab/workbench/belm/safetensors"
)

// tensorMap is an in-memory Weights for tests.
type tensorMap map[string]*tensors.Tensor

func (m tensorMap) Names() []string { return slices.Sorted(maps.Keys(m)) }

func (m tensorMap) Tensor(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	t, ok := m[name]
	if !ok || t.DType() != dtype {
		return nil, fmt.Errorf("no %s tensor %q", dtype, name)
	}
	return t, nil
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		json string
		want []string
	}{
		{`{"num_hidden_layers": 0}`, []string{"num_hidden_layers is 0"}},
		{`{"hidden_size": 30, "num_attention_heads": 4}`, []string{"hidden_size 30 is not divisible by num_attention_heads 4"}},
		{`{"hidden_act": "relu"}`, []string{`hidden_act "relu" is not supported`, "quick_gelu, gelu"}},
		{`{"layer_norm_eps": 0, "vocab_size": -1}`, []string{"layer_norm_eps", "vocab_size is -1"}},
		{`{"hidden_size": "big"}`, []string{"hidden_size"}},
		{`not json`, []string{"not JSON"}},
	} {
		_, err := ParseConfig([]byte(c.json))
		wantErr(t, c.json, err, c.want...)
	}
	cfg, err := ParseConfig([]byte(`{"hidden_act": "gelu", "hidden_size": 1024, "num_attention_heads": 16, "num_hidden_layers": 23}`))
	if err != nil || cfg.HeadDim() != 64 || cfg.VocabSize != 49408 || cfg.MaxPositionEmbeddings != 77 {
		t.Errorf("SD2-like config: %+v, %v", cfg, err)
	}
	full, err := ParseConfig([]byte(`{"model_type": "clip", "text_config": {"hidden_size": 768, "num_attention_heads": 12}, "vision_config": {}}`))
	if err != nil || full.HiddenSize != 768 {
		t.Errorf("CLIPModel config: %+v, %v", full, err)
	}
}

// tinyWeights returns the fixture's weights as a tensorMap (float32).
func tinyWeights(t *testing.T) tensorMap {
	f, err := safetensors.Open(fixture(t, "clip_text.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := tensorMap{}
	for _, name := range f.Names() {
		dt := dtypes.Float32
		if name == "text_model.embeddings.position_ids" {
			dt = dtypes.Int64
		}
		if m[name], err = f.Tensor(name, dt); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestWeightErrors(t *testing.T) {
	cfg, err := LoadConfig(fixture(t, "clip_text_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	w := tinyWeights(t)
	delete(w, "text_model.encoder.layers.1.mlp.fc2.bias")
	w["text_model.encoder.layers.0.self_attn.q_proj.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 32*16), 32, 16)
	w["text_model.pooler.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 4), 4)
	_, err = NewTextModel(cfg, w, dtypes.Float32)
	wantErr(t, "three problems", err, "1 missing tensors", `"text_model.encoder.layers.1.mlp.fc2.bias" [32]`,
		`"text_model.encoder.layers.0.self_attn.q_proj.weight" has shape [32 16], want [32 32]`,
		`1 unexpected tensors: "text_model.pooler.weight"`)

	cfg.VocabSize = 49408 // a tokenizer-sized config with the tiny weights
	_, err = NewTextModel(cfg, tinyWeights(t), dtypes.Float32)
	wantErr(t, "vocab mismatch", err, `"text_model.embeddings.token_embedding.weight" has shape [1000 32], want [49408 32]`)

	_, err = NewTextModel(cfg, tinyWeights(t), dtypes.Int32)
	wantErr(t, "int dtype", err, "Float32 or Float64")

	_, err = LoadTextModel(t.TempDir(), dtypes.Float32)
	wantErr(t, "empty folder", err, "config.json", "text_encoder/")
}

func TestIDErrors(t *testing.T) {
	m := loadTiny(t, dtypes.Float32)
	row := func(n, v int) []int { r := make([]int, n); r[0] = v; return r }
	_, err := m.Encode([][]int{row(77, 0), row(77, 49406)})
	wantErr(t, "id beyond vocab", err, "token id 49406", "prompt 1, position 0", "vocabulary of 1000", "tokenizer does not match")
	_, err = m.Encode([][]int{row(77, -1)})
	wantErr(t, "negative id", err, "token id -1")
	_, err = m.Encode([][]int{row(77, 0), row(76, 0)})
	wantErr(t, "ragged", err, "prompt 1 has 76")
	_, err = m.Encode([][]int{row(78, 0)})
	wantErr(t, "too long", err, "78 token ids", "77 positions")
	_, err = m.Encode(nil)
	wantErr(t, "empty", err, "no token ids")
	// Shorter sequences are fine (positions 0…L−1), as transformers allows; with the
	// causal mask their outputs are the first L of the full sequence's.
	full, err := m.Encode([][]int{readIDs(t, openIO(t), "input_ids")[1]})
	if err != nil {
		t.Fatal(err)
	}
	short, err := m.Encode([][]int{readIDs(t, openIO(t), "input_ids")[1][:5]})
	if err != nil || fmt.Sprint(short.Shape().Dimensions) != "[1 5 32]" {
		t.Fatalf("5 ids: %v, %v", short, err)
	}
	a, b := tensors.MustCopyFlatData[float32](full), tensors.MustCopyFlatData[float32](short)
	worst := 0.0
	for i := range b {
		worst = max(worst, math.Abs(float64(a[i]-b[i])))
	}
	if worst > tol32 { // not bit-equal: the matmuls' sums are blocked differently
		t.Errorf("the first 5 positions differ by %.3g between a 5-id and a 77-id run", worst)
	}
}
