package clip

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/belmlab/workbench/belm/backends"
	"github.com/belmlab/workbench/belm/hub"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/belmlab/workbench/belm/unet"
)

// Weights is a source of named tensors, such as a *safetensors.File.
type Weights interface {
	Names() []string
	Tensor(name string, dtype dtypes.DType) (*tensors.Tensor, error)
}

var _ Weights = (*safetensors.File)(nil)

// File names of a transformers text encoder folder (an SD pipeline's text_encoder/).
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// ignoredWeights are state-dict entries that are not parameters: position_ids, a buffer
// that old checkpoints (SD1.5's among them) saved.
var ignoredWeights = []string{"text_model.embeddings.position_ids"}

// TextModel is transformers' CLIPTextModel with its weights, as variables of a
// model.Store. It is safe for concurrent use.
type TextModel struct {
	cfg     Config
	dtype   dtypes.DType
	weights map[string]*tensors.Tensor // state-dict name → value (in dtype)
	shapes  map[string][]int
	names   []string // state-dict order
	store   *model.Store

	mu    sync.Mutex
	execs map[compute.Backend]*model.Exec
}

// paramShapes lists the parameters of cfg's CLIPTextModel in state-dict order.
func paramShapes(cfg Config) (names []string, shapes map[string][]int) {
	h, in := cfg.HiddenSize, cfg.IntermediateSize
	shapes = map[string][]int{}
	add := func(name string, dims ...int) {
		names = append(names, name)
		shapes[name] = dims
	}
	add("text_model.embeddings.token_embedding.weight", cfg.VocabSize, h)
	add("text_model.embeddings.position_embedding.weight", cfg.MaxPositionEmbeddings, h)
	for l := range cfg.NumHiddenLayers {
		p := fmt.Sprintf("text_model.encoder.layers.%d.", l)
		for _, proj := range []string{"k_proj", "v_proj", "q_proj", "out_proj"} {
			add(p+"self_attn."+proj+".weight", h, h)
			add(p+"self_attn."+proj+".bias", h)
		}
		add(p+"layer_norm1.weight", h)
		add(p+"layer_norm1.bias", h)
		add(p+"mlp.fc1.weight", in, h)
		add(p+"mlp.fc1.bias", in)
		add(p+"mlp.fc2.weight", h, in)
		add(p+"mlp.fc2.bias", h)
		add(p+"layer_norm2.weight", h)
		add(p+"layer_norm2.bias", h)
	}
	add("text_model.final_layer_norm.weight", h)
	add("text_model.final_layer_norm.bias", h)
	return names, shapes
}

// NewTextModel builds the text model of cfg from weights keyed as CLIPTextModel's
// state_dict names them, stored in dtype (Float32 or Float64; float32 weights in a
// float64 model are exact). Missing, mis-shaped and unexpected tensors are reported
// together in one error; text_model.embeddings.position_ids is ignored.
func NewTextModel(cfg Config, weights Weights, dtype dtypes.DType) (*TextModel, error) {
	if dtype != dtypes.Float32 && dtype != dtypes.Float64 {
		return nil, fmt.Errorf("clip: dtype %s is not supported (Float32 or Float64)", dtype)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if weights == nil {
		return nil, errors.New("clip: NewTextModel: nil weights")
	}
	m := &TextModel{cfg: cfg, dtype: dtype, weights: map[string]*tensors.Tensor{}, execs: map[compute.Backend]*model.Exec{}}
	m.names, m.shapes = paramShapes(cfg)
	present := map[string]bool{}
	var unexpected, missing, mismatched []string
	for _, name := range weights.Names() {
		present[name] = true
		if _, ok := m.shapes[name]; !ok && !slices.Contains(ignoredWeights, name) {
			unexpected = append(unexpected, fmt.Sprintf("%q", name))
		}
	}
	for _, name := range m.names {
		if !present[name] {
			missing = append(missing, fmt.Sprintf("%q %v", name, m.shapes[name]))
			continue
		}
		t, err := weights.Tensor(name, dtype)
		if err != nil {
			mismatched = append(mismatched, fmt.Sprintf("%q: %v", name, err))
		} else if got := t.Shape().Dimensions; !slices.Equal(got, m.shapes[name]) {
			mismatched = append(mismatched, fmt.Sprintf("%q has shape %v, want %v", name, got, m.shapes[name]))
		} else {
			m.weights[name] = t
		}
	}
	var problems []string
	for _, p := range []struct {
		what  string
		items []string
		sep   string
	}{{"missing tensors", missing, ", "}, {"tensors with a wrong shape or dtype", mismatched, "; "}, {"unexpected tensors", unexpected, ", "}} {
		if len(p.items) > 0 {
			problems = append(problems, fmt.Sprintf("%d %s: %s", len(p.items), p.what, strings.Join(p.items, p.sep)))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("clip: the weights do not match the text model config (%d tensors expected): %s",
			len(m.names), strings.Join(problems, "; "))
	}
	m.store = model.NewStore()
	root := m.store.RootScope()
	for _, name := range m.names {
		if _, err := m.store.CreateVariable(model.JoinPath(root.Scope(), varPath(name)), m.weights[name]); err != nil {
			return nil, fmt.Errorf("clip: %w", err)
		}
	}
	return m, nil
}

// varPath is the variable path of a state-dict name ("a.b.c" → "a/b/c").
func varPath(name string) string { return strings.ReplaceAll(name, ".", "/") }

// LoadTextModel reads a transformers CLIPTextModel folder (config.json and the weights:
// model.safetensors, its fp16 variant, or pytorch_model.bin — see unet.OpenWeights), or an
// SD pipeline folder whose text encoder is in text_encoder/.
func LoadTextModel(dir string, dtype dtypes.DType) (*TextModel, error) {
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, "text_encoder", ConfigFile)); err2 == nil {
			dir = filepath.Join(dir, "text_encoder")
		} else {
			return nil, fmt.Errorf("clip: %s is not a text encoder folder (no %s, nor text_encoder/%s): pass an SD pipeline folder or its text_encoder/",
				dir, ConfigFile, ConfigFile)
		}
	}
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	f, wpath, closeW, err := unet.OpenWeights(dir, hub.TransformersWeights)
	if err != nil {
		return nil, fmt.Errorf("clip: the text encoder's weights: %w", err)
	}
	defer closeW()
	m, err := NewTextModel(cfg, f, dtype)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, wpath)
	}
	return m, nil
}

// Config returns the model's configuration.
func (m *TextModel) Config() Config { return m.cfg }

// DType returns the dtype of the weights and of the output.
func (m *TextModel) DType() dtypes.DType { return m.dtype }

// Store returns the store holding the weights (variables at the root scope, named by
// their state-dict names with "." → "/").
func (m *TextModel) Store() *model.Store { return m.store }

// NumParameters returns the number of scalar parameters (59,936 for the tiny fixture,
// 123,060,480 for SD 1.5's text encoder).
func (m *TextModel) NumParameters() int {
	n := 0
	for _, name := range m.names {
		k := 1
		for _, d := range m.shapes[name] {
			k *= d
		}
		n += k
	}
	return n
}

// ParameterNames lists the state-dict names of the weights, in state-dict order.
func (m *TextModel) ParameterNames() []string { return slices.Clone(m.names) }

// CheckIDs reports ids the model cannot encode: an empty batch, rows of different
// lengths or longer than max_position_embeddings, and ids outside [0, vocab_size) (the
// sign of a tokenizer that does not belong to this text encoder).
func (m *TextModel) CheckIDs(ids [][]int) error {
	if len(ids) == 0 || len(ids[0]) == 0 {
		return errors.New("clip: no token ids to encode")
	}
	n := len(ids[0])
	if n > m.cfg.MaxPositionEmbeddings {
		return fmt.Errorf("clip: %d token ids per prompt, but the text encoder has %d positions (max_position_embeddings): tokenize with MaxLength %d",
			n, m.cfg.MaxPositionEmbeddings, m.cfg.MaxPositionEmbeddings)
	}
	for b, row := range ids {
		if len(row) != n {
			return fmt.Errorf("clip: prompt %d has %d token ids, prompt 0 has %d: pad every prompt to the same length", b, len(row), n)
		}
		for i, id := range row {
			if id < 0 || id >= m.cfg.VocabSize {
				return fmt.Errorf("clip: token id %d (prompt %d, position %d) is outside the text encoder's vocabulary of %d (vocab_size): the tokenizer does not match the text encoder",
					id, b, i, m.cfg.VocabSize)
			}
		}
	}
	return nil
}

// Encode runs the text model on a batch of token ids ([B][L], L ≤ max_position_embeddings,
// 77 for SD) on the default backend (see belm/backends) and returns last_hidden_state
// [B, L, hidden_size] in the model's dtype.
func (m *TextModel) Encode(ids [][]int) (*tensors.Tensor, error) {
	b, err := backends.New("")
	if err != nil {
		return nil, err
	}
	return m.EncodeOn(b, ids)
}

// EncodeOn is Encode on the given backend. The compiled graph is kept per backend.
func (m *TextModel) EncodeOn(backend compute.Backend, ids [][]int) (*tensors.Tensor, error) {
	if err := m.CheckIDs(ids); err != nil {
		return nil, err
	}
	exec, err := m.exec(backend)
	if err != nil {
		return nil, err
	}
	out, err := exec.Exec(idsTensor(ids))
	if err != nil {
		return nil, fmt.Errorf("clip: running the text encoder: %w", err)
	}
	return out[0], nil
}

func (m *TextModel) exec(backend compute.Backend) (*model.Exec, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.execs[backend]; ok {
		return e, nil
	}
	e, err := model.NewExec(backend, m.store, m.Forward)
	if err != nil {
		return nil, fmt.Errorf("clip: %w", err)
	}
	m.execs[backend] = e
	return e, nil
}

// idsTensor packs ids as an int32 tensor [B, L].
func idsTensor(ids [][]int) *tensors.Tensor {
	flat := make([]int32, 0, len(ids)*len(ids[0]))
	for _, row := range ids {
		for _, id := range row {
			flat = append(flat, int32(id))
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, len(ids), len(ids[0]))
}
