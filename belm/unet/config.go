package unet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Config is the configuration of a diffusers UNet2DModel or UNet2DConditionModel, as
// diffusers saves it in config.json. JSON tags are diffusers' argument names. Nullable
// options are pointers (nil = JSON null).
//
// A UNet2DConditionModel's config (_class_name "UNet2DConditionModel") has Cond set: the
// options only that class has; of the fields here it uses those its __init__ shares with
// UNet2DModel (not downsample_type, upsample_type, attn_norm_num_groups, add_attention,
// num_train_timesteps, nor attention_head_dim: see CondConfig).
//
// ParseConfig starts from diffusers' own defaults (UNet2DModel.__init__ or
// UNet2DConditionModel.__init__, v0.31), so options missing from a config.json take the
// value diffusers would give them.
type Config struct {
	ClassName string `json:"_class_name,omitempty"`

	SampleSize          *int     `json:"sample_size"`
	InChannels          int      `json:"in_channels"`
	OutChannels         int      `json:"out_channels"`
	CenterInputSample   bool     `json:"center_input_sample"`
	TimeEmbeddingType   string   `json:"time_embedding_type"`
	TimeEmbeddingDim    *int     `json:"time_embedding_dim"`
	FreqShift           float64  `json:"freq_shift"`
	FlipSinToCos        bool     `json:"flip_sin_to_cos"`
	DownBlockTypes      []string `json:"down_block_types"`
	UpBlockTypes        []string `json:"up_block_types"`
	BlockOutChannels    []int    `json:"block_out_channels"`
	LayersPerBlock      int      `json:"layers_per_block"`
	MidBlockScaleFactor float64  `json:"mid_block_scale_factor"`
	DownsamplePadding   int      `json:"downsample_padding"`
	DownsampleType      string   `json:"downsample_type"`
	UpsampleType        string   `json:"upsample_type"`
	Dropout             float64  `json:"dropout"`
	ActFn               string   `json:"act_fn"`
	AttentionHeadDim    *int     `json:"attention_head_dim"`
	NormNumGroups       *int     `json:"norm_num_groups"`
	AttnNormNumGroups   *int     `json:"attn_norm_num_groups"`
	NormEps             float64  `json:"norm_eps"`
	// ResnetTimeScaleShift is "default" (temb added before norm2) or "scale_shift"
	// (norm2(h)·(1+scale)+shift); "spatial" is not supported.
	ResnetTimeScaleShift string  `json:"resnet_time_scale_shift"`
	AddAttention         bool    `json:"add_attention"`
	ClassEmbedType       *string `json:"class_embed_type"`
	NumClassEmbeds       *int    `json:"num_class_embeds"`
	NumTrainTimesteps    *int    `json:"num_train_timesteps"`

	// Cond holds UNet2DConditionModel's own options; nil for a UNet2DModel.
	Cond *CondConfig `json:"-"`
}

// Conditional reports whether the config is a UNet2DConditionModel's.
func (c Config) Conditional() bool { return c.Cond != nil }

// className is the class the config describes.
func (c Config) className() string {
	if c.Cond != nil {
		return UNet2DConditionModelClass
	}
	return UNet2DModelClass
}

func intPtr(v int) *int { return &v }

// DefaultConfig returns UNet2DModel's defaults (diffusers v0.31), the starting point
// of ParseConfig.
func DefaultConfig() Config {
	return Config{
		InChannels:           3,
		OutChannels:          3,
		TimeEmbeddingType:    "positional",
		FreqShift:            0,
		FlipSinToCos:         true,
		DownBlockTypes:       []string{"DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"},
		UpBlockTypes:         []string{"AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"},
		BlockOutChannels:     []int{224, 448, 672, 896},
		LayersPerBlock:       2,
		MidBlockScaleFactor:  1,
		DownsamplePadding:    1,
		DownsampleType:       "conv",
		UpsampleType:         "conv",
		ActFn:                "silu",
		AttentionHeadDim:     intPtr(8),
		NormNumGroups:        intPtr(32),
		NormEps:              1e-5,
		ResnetTimeScaleShift: "default",
		AddAttention:         true,
	}
}

// DDPMCifar10Config is the configuration of google/ddpm-cifar10-32 (35.7M parameters):
// the architecture of the tiny test fixture at full size. The same JSON is in
// testdata/ddpm_cifar10_32_config.json.
func DDPMCifar10Config() Config {
	c := DefaultConfig()
	c.ClassName = "UNet2DModel"
	c.SampleSize = intPtr(32)
	c.InChannels, c.OutChannels = 3, 3
	c.FlipSinToCos = false
	c.FreqShift = 1
	c.DownBlockTypes = []string{"DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"}
	c.UpBlockTypes = []string{"UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"}
	c.BlockOutChannels = []int{128, 256, 256, 256}
	c.LayersPerBlock = 2
	c.MidBlockScaleFactor = 1
	c.DownsamplePadding = 0
	c.AttentionHeadDim = nil
	c.NormNumGroups = intPtr(32)
	c.NormEps = 1e-6
	return c
}

// knownKeys are the config.json keys UNet2DModel understands (condKnownKeys:
// UNet2DConditionModel's); any other key (other than
// bookkeeping keys starting with "_") is rejected, since ignoring an option silently
// could build a different network.
var knownKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, name := range jsonNames(reflect.TypeFor[Config]()) {
		m[name] = true
	}
	return m
}()

// ParseConfig parses a diffusers UNet2DModel or UNet2DConditionModel config.json (by its
// _class_name; UNet2DModel when absent) and validates it.
func ParseConfig(data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("unet: parsing config.json: %w", err)
	}
	if string(raw["_class_name"]) == `"`+UNet2DConditionModelClass+`"` {
		return parseCondConfig(data, raw)
	}
	var unknown []string
	for k := range raw {
		if !strings.HasPrefix(k, "_") && !knownKeys[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Config{}, fmt.Errorf("unet: config.json has options UNet2DModel does not have (or this port does not know): %s",
			strings.Join(unknown, ", "))
	}
	cfg := DefaultConfig()
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("unet: parsing config.json: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// LoadConfig reads and parses a config.json file.
func LoadConfig(path string) (Config, error) { return loadConfig(path, "unet", ParseConfig) }

// loadConfig reads a config file and parses it with parse; errors name the model (what)
// and the file.
func loadConfig[C any](path, what string, parse func([]byte) (C, error)) (C, error) {
	var zero C
	data, err := os.ReadFile(path)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	cfg, err := parse(data)
	if err != nil {
		return zero, fmt.Errorf("%w (file %s)", err, path)
	}
	return cfg, nil
}

// Bounds of Validate. A config.json is untrusted input: without them a typo such as
// sample_size 100000 builds a network whose first activation alone needs terabytes, and the
// process dies out of memory instead of failing with an error.
const (
	// MaxSampleSize bounds sample_size. The largest diffusers UNets take 256×256 pixels
	// (google/ddpm-ema-celebahq-256, ddpm-church-256) or latents of 128×128 (Stable
	// Diffusion XL's, for 1024-pixel images); 16384 leaves a factor of 64 beyond those.
	MaxSampleSize = 16384
	// MaxChannels bounds in_channels, out_channels, every block_out_channels entry and
	// attention_head_dim (and 4× it time_embedding_dim). The widest diffusers UNets have
	// 1280 channels.
	MaxChannels = 16384
	// MaxLayersPerBlock bounds layers_per_block (diffusers' UNets use 1 to 3).
	MaxLayersPerBlock = 64
	// MaxBlocks bounds the number of blocks, len(block_out_channels) (diffusers' use 4 to
	// 6; each but the last halves the resolution).
	MaxBlocks = 16
)

// checkBounds reports, through bad, the sizes beyond the Max* bounds.
func (c Config) checkBounds(bad func(format string, args ...any)) {
	if c.SampleSize != nil && (*c.SampleSize < 1 || *c.SampleSize > MaxSampleSize) {
		bad("sample_size %d is out of range [1, %d] (the largest diffusers UNets take 256 pixels, or latents of 128 for 1024-pixel images)", *c.SampleSize, MaxSampleSize)
	}
	over := func(name string, v, limit int) {
		if v > limit {
			bad("%s %d is over the limit of %d", name, v, limit)
		}
	}
	over("in_channels", c.InChannels, MaxChannels)
	over("out_channels", c.OutChannels, MaxChannels)
	over("layers_per_block", c.LayersPerBlock, MaxLayersPerBlock)
	if c.TimeEmbeddingDim != nil {
		over("time_embedding_dim", *c.TimeEmbeddingDim, 4*MaxChannels)
	}
	if c.AttentionHeadDim != nil {
		over("attention_head_dim", *c.AttentionHeadDim, MaxChannels)
	}
	if n := len(c.BlockOutChannels); n > MaxBlocks {
		bad("block_out_channels has %d entries, over the limit of %d", n, MaxBlocks)
	}
	for i, ch := range c.BlockOutChannels {
		if ch > MaxChannels {
			bad("block_out_channels[%d] = %d is over the limit of %d", i, ch, MaxChannels)
		}
	}
}

// Validate checks that the configuration describes a UNet2DModel or
// UNet2DConditionModel this port implements;
// every unsupported option is named in the error. It also checks that the architecture
// is consistent (group counts divide channels, skip connections match).
func (c Config) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	c.checkFeatures(bad)
	c.checkSizes(bad)
	if c.Cond != nil {
		c.checkCond(bad)
		c.checkCondBlocks(bad)
	} else {
		c.checkBlocks(bad)
	}
	errs = slices.Compact(errs)
	if len(errs) == 0 {
		// The architecture itself (group counts, head counts, skip channels).
		if _, err := newPlan(c); err != nil {
			return err
		}
		return nil
	}
	return fmt.Errorf("unet: unsupported or invalid %s config: %s", c.className(), strings.Join(errs, "; "))
}

// checkFeatures reports, through bad, the model class, embeddings, activation and time
// conditioning this port does not implement.
func (c Config) checkFeatures(bad func(format string, args ...any)) {
	switch {
	case c.ClassName == UNet2DConditionModelClass && c.Cond == nil:
		bad("_class_name %q without the conditional options (Config.Cond is nil: start from DefaultCondConfig)", c.ClassName)
	case c.ClassName != "" && c.ClassName != c.className():
		bad("_class_name %q: only UNet2DModel and UNet2DConditionModel are supported", c.ClassName)
	}
	if c.TimeEmbeddingType != "positional" {
		bad("time_embedding_type %q is not supported (only \"positional\"; diffusers also has \"fourier\" and \"learned\")", c.TimeEmbeddingType)
	}
	if c.ClassEmbedType != nil {
		bad("class_embed_type %q is not supported (class-conditional UNets are not implemented)", *c.ClassEmbedType)
	}
	if c.NumClassEmbeds != nil {
		bad("num_class_embeds %d is not supported (class-conditional UNets are not implemented)", *c.NumClassEmbeds)
	}
	switch c.ActFn {
	case "silu", "swish":
	default:
		bad("act_fn %q is not supported (only \"silu\"/\"swish\")", c.ActFn)
	}
	switch c.ResnetTimeScaleShift {
	case "default", "scale_shift":
	default:
		bad("resnet_time_scale_shift %q is not supported (only \"default\" and \"scale_shift\")", c.ResnetTimeScaleShift)
	}
}

// checkSizes reports, through bad, the sizes, group counts and factors out of their
// domain, including (by checkBounds) those beyond the Max* bounds.
func (c Config) checkSizes(bad func(format string, args ...any)) {
	if c.InChannels <= 0 || c.OutChannels <= 0 {
		bad("in_channels %d / out_channels %d must be positive", c.InChannels, c.OutChannels)
	}
	if c.LayersPerBlock <= 0 {
		bad("layers_per_block %d must be positive", c.LayersPerBlock)
	}
	c.checkBounds(bad)
	if c.NormNumGroups == nil {
		bad("norm_num_groups null is not supported (diffusers' resnet blocks need a group count)")
	} else if *c.NormNumGroups <= 0 {
		bad("norm_num_groups %d must be positive", *c.NormNumGroups)
	}
	if c.AttnNormNumGroups != nil && *c.AttnNormNumGroups <= 0 {
		bad("attn_norm_num_groups %d must be positive", *c.AttnNormNumGroups)
	}
	if c.AttentionHeadDim != nil && *c.AttentionHeadDim <= 0 {
		bad("attention_head_dim %d must be positive", *c.AttentionHeadDim)
	}
	if c.TimeEmbeddingDim != nil && *c.TimeEmbeddingDim <= 0 {
		bad("time_embedding_dim %d must be positive", *c.TimeEmbeddingDim)
	}
	if !(c.NormEps > 0) {
		bad("norm_eps %g must be positive", c.NormEps)
	}
	if c.MidBlockScaleFactor == 0 {
		bad("mid_block_scale_factor must not be 0")
	}
	if c.DownsamplePadding < 0 {
		bad("downsample_padding %d must be >= 0", c.DownsamplePadding)
	}
}

// checkBlockLists reports block_out_channels entries that are not positive and block type
// lists that do not match it in length (both UNet classes); it returns the number of blocks.
func (c Config) checkBlockLists(bad func(format string, args ...any)) int {
	n := len(c.BlockOutChannels)
	if n == 0 {
		bad("block_out_channels is empty")
	}
	for i, ch := range c.BlockOutChannels {
		if ch <= 0 {
			bad("block_out_channels[%d] = %d must be positive", i, ch)
		}
	}
	if len(c.DownBlockTypes) != n {
		bad("down_block_types has %d entries but block_out_channels has %d", len(c.DownBlockTypes), n)
	}
	if len(c.UpBlockTypes) != n {
		bad("up_block_types has %d entries but block_out_channels has %d", len(c.UpBlockTypes), n)
	}
	return n
}

// checkBlocks reports, through bad, block_out_channels entries that are not positive,
// block type lists that do not match it in length, and unsupported block types and
// resamplers.
func (c Config) checkBlocks(bad func(format string, args ...any)) {
	n := c.checkBlockLists(bad)
	for i, t := range c.DownBlockTypes {
		switch blockType(t) {
		case "DownBlock2D":
		case "AttnDownBlock2D":
			if i < n-1 && c.DownsampleType != "conv" {
				bad("downsample_type %q is not supported for AttnDownBlock2D (only \"conv\")", c.DownsampleType)
			}
		default:
			bad("down_block_types[%d] %q is not supported (only DownBlock2D and AttnDownBlock2D)", i, t)
		}
	}
	for i, t := range c.UpBlockTypes {
		switch blockType(t) {
		case "UpBlock2D":
		case "AttnUpBlock2D":
			if i < n-1 && c.UpsampleType != "conv" {
				bad("upsample_type %q is not supported for AttnUpBlock2D (only \"conv\")", c.UpsampleType)
			}
		default:
			bad("up_block_types[%d] %q is not supported (only UpBlock2D and AttnUpBlock2D)", i, t)
		}
	}
}

// blockType strips the "UNetRes" prefix diffusers' get_down_block/get_up_block accept.
func blockType(t string) string {
	return strings.TrimPrefix(t, "UNetRes")
}

// TimeEmbedDim is the width of the time embedding (time_embedding_dim, or 4×block_out_channels[0]).
func (c Config) TimeEmbedDim() int {
	if c.TimeEmbeddingDim != nil {
		return *c.TimeEmbeddingDim
	}
	return 4 * c.BlockOutChannels[0]
}
