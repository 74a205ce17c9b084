package unet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Class names of config.json's _class_name.
const (
	UNet2DModelClass          = "UNet2DModel"
	UNet2DConditionModelClass = "UNet2DConditionModel"
)

// CondConfig holds the options of a diffusers UNet2DConditionModel (Stable Diffusion 1.x
// / 2.x) that UNet2DModel does not have; the options both share stay in Config. Options
// diffusers accepts as an int or a per-block list are PerBlock (BoolPerBlock): one value
// applies to every block.
//
// Beyond what SD 1.x/2.x use, options are recognised so that Validate can refuse them by
// name: their non-default values build networks this port does not implement.
type CondConfig struct {
	MidBlockType              *string      `json:"mid_block_type"`
	OnlyCrossAttention        BoolPerBlock `json:"only_cross_attention"`
	CrossAttentionDim         PerBlock     `json:"cross_attention_dim"`
	TransformerLayersPerBlock PerBlock     `json:"transformer_layers_per_block"`
	// AttentionHeadDim is, as in diffusers, the number of attention heads of each block's
	// transformers (diffusers' num_attention_heads = num_attention_heads or
	// attention_head_dim; SD2.x: [5, 10, 20, 20]); the head dimension is channels/heads.
	// Config.AttentionHeadDim is unused (nil) in a conditional config.
	AttentionHeadDim    PerBlock `json:"attention_head_dim"`
	NumAttentionHeads   PerBlock `json:"num_attention_heads"`
	UseLinearProjection bool     `json:"use_linear_projection"`
	// UpcastAttention (SD2.1) computes q·kᵀ and the softmax in float32: nothing to do in a
	// float32 graph; in float64, see WithFloat32Softmax.
	UpcastAttention bool `json:"upcast_attention"`
	ConvInKernel    int  `json:"conv_in_kernel"`
	ConvOutKernel   int  `json:"conv_out_kernel"`

	// Refused unless at their default.
	DualCrossAttention                bool            `json:"dual_cross_attention"`
	ReverseTransformerLayersPerBlock  json.RawMessage `json:"reverse_transformer_layers_per_block"`
	EncoderHidDim                     *int            `json:"encoder_hid_dim"`
	EncoderHidDimType                 *string         `json:"encoder_hid_dim_type"`
	AdditionEmbedType                 *string         `json:"addition_embed_type"`
	AdditionTimeEmbedDim              *int            `json:"addition_time_embed_dim"`
	AdditionEmbedTypeNumHeads         int             `json:"addition_embed_type_num_heads"`
	ProjectionClassEmbeddingsInputDim *int            `json:"projection_class_embeddings_input_dim"`
	ClassEmbeddingsConcat             bool            `json:"class_embeddings_concat"`
	TimeEmbeddingActFn                *string         `json:"time_embedding_act_fn"`
	TimestepPostAct                   *string         `json:"timestep_post_act"`
	TimeCondProjDim                   *int            `json:"time_cond_proj_dim"`
	ResnetSkipTimeAct                 bool            `json:"resnet_skip_time_act"`
	ResnetOutScaleFactor              float64         `json:"resnet_out_scale_factor"`
	AttentionType                     string          `json:"attention_type"`
	MidBlockOnlyCrossAttention        *bool           `json:"mid_block_only_cross_attention"`
	CrossAttentionNorm                *string         `json:"cross_attention_norm"`
}

// PerBlock is a diffusers option given as an int or a per-block list: a single value
// (len 1) applies to every block. JSON null is nil.
type PerBlock []int

// UnmarshalJSON accepts null, an int or a list of ints.
func (p *PerBlock) UnmarshalJSON(data []byte) error {
	return unmarshalPerBlock(data, (*[]int)(p))
}

// MarshalJSON writes a single value as an int, several as a list, nil as null.
func (p PerBlock) MarshalJSON() ([]byte, error) { return marshalPerBlock([]int(p)) }

// At is the value of block i.
func (p PerBlock) At(i int) int {
	if len(p) == 1 {
		return p[0]
	}
	return p[i]
}

// BoolPerBlock is PerBlock for bool options (only_cross_attention).
type BoolPerBlock []bool

// UnmarshalJSON accepts null, a bool or a list of bools.
func (p *BoolPerBlock) UnmarshalJSON(data []byte) error {
	return unmarshalPerBlock(data, (*[]bool)(p))
}

// MarshalJSON writes a single value as a bool, several as a list, nil as null.
func (p BoolPerBlock) MarshalJSON() ([]byte, error) { return marshalPerBlock([]bool(p)) }

// At is the value of block i.
func (p BoolPerBlock) At(i int) bool {
	if len(p) == 1 {
		return p[0]
	}
	return p[i]
}

func unmarshalPerBlock[T any](data []byte, p *[]T) error {
	data = bytes.TrimSpace(data)
	switch {
	case string(data) == "null":
		*p = nil
		return nil
	case len(data) > 0 && data[0] == '[':
		var l []T
		if err := json.Unmarshal(data, &l); err != nil {
			return err
		}
		*p = l
		return nil
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*p = []T{v}
	return nil
}

func marshalPerBlock[T any](p []T) ([]byte, error) {
	switch len(p) {
	case 0:
		if p == nil {
			return []byte("null"), nil
		}
	case 1:
		return json.Marshal(p[0])
	}
	return json.Marshal(p)
}

// defaultCondConfig returns UNet2DConditionModel.__init__'s defaults (diffusers v0.31).
func defaultCondConfig() *CondConfig {
	mid := "UNetMidBlock2DCrossAttn"
	return &CondConfig{
		MidBlockType:              &mid,
		OnlyCrossAttention:        BoolPerBlock{false},
		CrossAttentionDim:         PerBlock{1280},
		TransformerLayersPerBlock: PerBlock{1},
		AttentionHeadDim:          PerBlock{8},
		ConvInKernel:              3,
		ConvOutKernel:             3,
		AdditionEmbedTypeNumHeads: 64,
		ResnetOutScaleFactor:      1,
		AttentionType:             "default",
	}
}

// DefaultCondConfig returns UNet2DConditionModel's defaults (diffusers v0.31), the
// starting point of ParseConfig for that class: the SD 1.x architecture with
// cross_attention_dim 1280.
func DefaultCondConfig() Config {
	c := DefaultConfig()
	c.ClassName = UNet2DConditionModelClass
	c.InChannels, c.OutChannels = 4, 4
	c.DownBlockTypes = []string{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"}
	c.UpBlockTypes = []string{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"}
	c.BlockOutChannels = []int{320, 640, 1280, 1280}
	c.AttentionHeadDim = nil
	c.Cond = defaultCondConfig()
	return c
}

// SD15Config is runwayml/stable-diffusion-v1-5's unet/config.json (859.5M parameters).
func SD15Config() Config {
	c := DefaultCondConfig()
	c.SampleSize = intPtr(64)
	c.Cond.CrossAttentionDim = PerBlock{768}
	return c
}

// SD21Config is stabilityai/stable-diffusion-2-1's unet/config.json (865.9M
// parameters): linear projections, 5/10/20/20 heads (head dim 64), float32 attention.
func SD21Config() Config {
	c := DefaultCondConfig()
	c.SampleSize = intPtr(96)
	c.Cond.CrossAttentionDim = PerBlock{1024}
	c.Cond.AttentionHeadDim = PerBlock{5, 10, 20, 20}
	c.Cond.UseLinearProjection = true
	c.Cond.UpcastAttention = true
	return c
}

// unet2DModelOnly are the Config keys UNet2DConditionModel does not have.
var unet2DModelOnly = map[string]bool{"downsample_type": true, "upsample_type": true,
	"attn_norm_num_groups": true, "add_attention": true, "num_train_timesteps": true}

// jsonNames lists the JSON names of a struct type's fields.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// condKnownKeys are the config.json keys of UNet2DConditionModel.
var condKnownKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range jsonNames(reflect.TypeFor[Config]()) {
		if !unet2DModelOnly[k] {
			m[k] = true
		}
	}
	for _, k := range jsonNames(reflect.TypeFor[CondConfig]()) {
		m[k] = true
	}
	return m
}()

// condOnlyKeys are the config.json keys of CondConfig.
var condOnlyKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range jsonNames(reflect.TypeFor[CondConfig]()) {
		m[k] = true
	}
	return m
}()

// parseCondConfig parses a UNet2DConditionModel config.json, from DefaultCondConfig.
func parseCondConfig(data []byte, raw map[string]json.RawMessage) (Config, error) {
	var unknown []string
	for k := range raw {
		if !strings.HasPrefix(k, "_") && !condKnownKeys[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Config{}, fmt.Errorf("unet: config.json has options UNet2DConditionModel does not have (or this port does not know): %s",
			strings.Join(unknown, ", "))
	}
	cfg := DefaultCondConfig()
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("unet: parsing config.json: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// MarshalJSON writes the config as diffusers' config.json: a UNet2DModel's as the
// struct's fields, a UNet2DConditionModel's with the options of Config.Cond and without
// UNet2DModel's own (keys sorted, as diffusers' save_config).
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	if c.Cond != nil {
		c.ClassName = UNet2DConditionModelClass // what ParseConfig reads the class from
	}
	data, err := json.Marshal(plain(c))
	if err != nil || c.Cond == nil {
		return data, err
	}
	var m, cm map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for k := range unet2DModelOnly {
		delete(m, k)
	}
	cond, err := json.Marshal(c.Cond)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(cond, &cm); err != nil {
		return nil, err
	}
	for k, v := range cm {
		m[k] = v
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads a config.json of either class, over the values c holds (the
// defaults, in ParseConfig), without validating it. A UNet2DConditionModel's options go
// to c.Cond; when c has none, c is first reset to DefaultCondConfig.
func (c *Config) UnmarshalJSON(data []byte) error {
	type plain Config
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if string(raw["_class_name"]) != `"`+UNet2DConditionModelClass+`"` {
		return json.Unmarshal(data, (*plain)(c))
	}
	if c.Cond == nil {
		*c = DefaultCondConfig()
	}
	shared := map[string]json.RawMessage{}
	for k, v := range raw {
		if !condOnlyKeys[k] {
			shared[k] = v
		}
	}
	sdata, _ := json.Marshal(shared)
	if err := json.Unmarshal(sdata, (*plain)(c)); err != nil {
		return err
	}
	return json.Unmarshal(data, c.Cond)
}

// checkCond reports, through bad, the UNet2DConditionModel options this port does not
// implement and the per-block lists of the wrong length.
func (c Config) checkCond(bad func(format string, args ...any)) {
	d := c.Cond
	n := len(c.BlockOutChannels)
	perBlock := func(name string, l int) {
		if l != 1 && l != n {
			bad("%s has %d entries but block_out_channels has %d", name, l, n)
		}
	}
	perBlock("only_cross_attention", len(d.OnlyCrossAttention))
	perBlock("cross_attention_dim", len(d.CrossAttentionDim))
	perBlock("transformer_layers_per_block", len(d.TransformerLayersPerBlock))
	perBlock("attention_head_dim", len(d.AttentionHeadDim))
	for _, v := range d.CrossAttentionDim {
		if v <= 0 || v > MaxChannels {
			bad("cross_attention_dim %d is out of range [1, %d]", v, MaxChannels)
		}
		if v != d.CrossAttentionDim[0] {
			bad("cross_attention_dim %v: blocks with different context widths are not supported (one encoder_hidden_states feeds every block)", []int(d.CrossAttentionDim))
		}
	}
	for _, v := range d.TransformerLayersPerBlock {
		if v <= 0 || v > MaxLayersPerBlock {
			bad("transformer_layers_per_block %d is out of range [1, %d]", v, MaxLayersPerBlock)
		}
	}
	for _, v := range d.AttentionHeadDim {
		if v <= 0 || v > MaxChannels {
			bad("attention_head_dim %d (the number of heads) is out of range [1, %d]", v, MaxChannels)
		}
	}
	for _, k := range []struct {
		name string
		v    int
	}{{"conv_in_kernel", d.ConvInKernel}, {"conv_out_kernel", d.ConvOutKernel}} {
		if k.v <= 0 || k.v%2 == 0 || k.v > 15 {
			bad("%s %d is not supported (odd kernels 1 to 15 only)", k.name, k.v)
		}
	}
	if d.MidBlockType != nil {
		switch *d.MidBlockType {
		case "UNetMidBlock2DCrossAttn", "UNetMidBlock2D":
		default:
			bad("mid_block_type %q is not supported (only UNetMidBlock2DCrossAttn, UNetMidBlock2D or null)", *d.MidBlockType)
		}
	}
	c.checkCondRefused(bad)
}

// checkCondRefused reports, through bad, the options of UNet2DConditionModel that are
// not at the value SD 1.x/2.x use, naming the option and its value.
func (c Config) checkCondRefused(bad func(format string, args ...any)) {
	d := c.Cond
	if d.AttentionHeadDim == nil {
		bad("attention_head_dim null is not supported (it gives the number of heads)")
	}
	if d.NumAttentionHeads != nil {
		bad("num_attention_heads %v is not supported (diffusers v0.31 refuses it too: attention_head_dim gives the number of heads)", []int(d.NumAttentionHeads))
	}
	if d.DualCrossAttention {
		bad("dual_cross_attention true is not supported")
	}
	if r := strings.TrimSpace(string(d.ReverseTransformerLayersPerBlock)); r != "" && r != "null" {
		bad("reverse_transformer_layers_per_block %s is not supported", r)
	}
	for _, o := range []struct {
		name string
		v    any
	}{{"encoder_hid_dim", d.EncoderHidDim}, {"encoder_hid_dim_type", d.EncoderHidDimType},
		{"addition_embed_type", d.AdditionEmbedType}, {"addition_time_embed_dim", d.AdditionTimeEmbedDim},
		{"projection_class_embeddings_input_dim", d.ProjectionClassEmbeddingsInputDim},
		{"time_embedding_act_fn", d.TimeEmbeddingActFn}, {"timestep_post_act", d.TimestepPostAct},
		{"time_cond_proj_dim", d.TimeCondProjDim}, {"cross_attention_norm", d.CrossAttentionNorm}} {
		if v := reflect.ValueOf(o.v); !v.IsNil() {
			bad("%s %v is not supported (only null)", o.name, v.Elem().Interface())
		}
	}
	if d.ClassEmbeddingsConcat {
		bad("class_embeddings_concat true is not supported")
	}
	if d.ResnetSkipTimeAct {
		bad("resnet_skip_time_act true is not supported")
	}
	if d.ResnetOutScaleFactor != 1 {
		bad("resnet_out_scale_factor %g is not supported (only 1)", d.ResnetOutScaleFactor)
	}
	if d.AttentionType != "default" {
		bad("attention_type %q is not supported (only \"default\")", d.AttentionType)
	}
}

// condBlockTypes are the block types of a UNet2DConditionModel this port implements.
var condBlockTypes = map[string][]string{
	"down": {"DownBlock2D", "CrossAttnDownBlock2D"},
	"up":   {"UpBlock2D", "CrossAttnUpBlock2D"},
}

func isCondBlock(kind, t string) bool { return slices.Contains(condBlockTypes[kind], t) }
