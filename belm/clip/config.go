package clip

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
)

// Config is the configuration of a transformers CLIPTextModel, as saved in an SD
// pipeline's text_encoder/config.json. JSON tags are transformers' names.
type Config struct {
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	IntermediateSize      int     `json:"intermediate_size"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	HiddenAct             string  `json:"hidden_act"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
}

// DefaultConfig returns CLIPTextConfig's defaults (the starting point of ParseConfig):
// vocabulary 49408, hidden 512, 12 layers of 8 heads, 77 positions, quick_gelu.
func DefaultConfig() Config {
	return Config{VocabSize: 49408, HiddenSize: 512, IntermediateSize: 2048, NumHiddenLayers: 12,
		NumAttentionHeads: 8, MaxPositionEmbeddings: 77, HiddenAct: "quick_gelu", LayerNormEps: 1e-5}
}

// Activations of the MLP: quick_gelu x·σ(1.702x) (OpenAI's CLIP, SD1.x) and gelu, the
// exact x·Φ(x) with erf (OpenCLIP's ViT-H, SD2.x).
var activations = []string{"quick_gelu", "gelu"}

// ParseConfig parses a CLIPTextModel config.json; options it does not set keep
// transformers' defaults. Fields other than the architecture's (projection_dim, token
// ids, dropout…) are ignored: SD's legacy bos/eos ids are wrong for CLIP anyway.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	var probe struct {
		TextConfig json.RawMessage `json:"text_config"`
		ModelType  string          `json:"model_type"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Config{}, fmt.Errorf("clip: the config is not JSON: %w", err)
	}
	if probe.ModelType == "clip" && len(probe.TextConfig) > 0 {
		data = probe.TextConfig // a full CLIPModel config: take its text part
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("clip: bad CLIPTextModel config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// LoadConfig reads and parses a config.json.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("clip: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%w (file %s)", err, path)
	}
	return cfg, nil
}

// Validate reports every value the text model cannot be built with, in one error.
func (c Config) Validate() error {
	var bad []string
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"max_position_embeddings", c.MaxPositionEmbeddings}} {
		if f.v <= 0 {
			bad = append(bad, fmt.Sprintf("%s is %d, it must be positive", f.name, f.v))
		}
	}
	if c.HiddenSize > 0 && c.NumAttentionHeads > 0 && c.HiddenSize%c.NumAttentionHeads != 0 {
		bad = append(bad, fmt.Sprintf("hidden_size %d is not divisible by num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads))
	}
	if !(c.LayerNormEps > 0) || math.IsInf(c.LayerNormEps, 0) {
		bad = append(bad, fmt.Sprintf("layer_norm_eps is %v, it must be a positive number", c.LayerNormEps))
	}
	known := false
	for _, a := range activations {
		known = known || c.HiddenAct == a
	}
	if !known {
		bad = append(bad, fmt.Sprintf("hidden_act %q is not supported (supported: %s)", c.HiddenAct, strings.Join(activations, ", ")))
	}
	if len(bad) > 0 {
		return errors.New("clip: invalid text model config: " + strings.Join(bad, "; "))
	}
	return nil
}

// HeadDim is hidden_size / num_attention_heads.
func (c Config) HeadDim() int { return c.HiddenSize / c.NumAttentionHeads }
