package unet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
)

// VAEConfig is the configuration of a diffusers AutoencoderKL (the Stable Diffusion VAE),
// as diffusers saves it in config.json. JSON tags are diffusers' argument names; nullable
// options are pointers or slices (nil = JSON null).
//
// ParseVAEConfig starts from AutoencoderKL.__init__'s defaults (diffusers v0.31), so
// options missing from a config.json (older SD 1.x folders lack scaling_factor,
// force_upcast, …) take the value diffusers would give them.
type VAEConfig struct {
	ClassName string `json:"_class_name,omitempty"`

	InChannels       int      `json:"in_channels"`
	OutChannels      int      `json:"out_channels"`
	DownBlockTypes   []string `json:"down_block_types"`
	UpBlockTypes     []string `json:"up_block_types"`
	BlockOutChannels []int    `json:"block_out_channels"`
	// LayersPerBlock is the number of resnets of an encoder block; the decoder's blocks
	// have LayersPerBlock+1.
	LayersPerBlock int    `json:"layers_per_block"`
	ActFn          string `json:"act_fn"`
	LatentChannels int    `json:"latent_channels"`
	NormNumGroups  int    `json:"norm_num_groups"`
	// SampleSize is the image size the VAE was trained on (512 for SD 1.5); the codec
	// takes any size that is a multiple of 2^(len(block_out_channels)−1).
	SampleSize int `json:"sample_size"`
	// ScalingFactor s: the diffusion model's latents are z = s·(mean − shift).
	ScalingFactor float64 `json:"scaling_factor"`
	// ShiftFactor (SD3, Flux) is subtracted before scaling; null means 0.
	ShiftFactor *float64 `json:"shift_factor"`
	// LatentsMean and LatentsStd (per-channel latent normalisation) must be null.
	LatentsMean          []float64 `json:"latents_mean"`
	LatentsStd           []float64 `json:"latents_std"`
	ForceUpcast          bool      `json:"force_upcast"`
	UseQuantConv         bool      `json:"use_quant_conv"`
	UsePostQuantConv     bool      `json:"use_post_quant_conv"`
	MidBlockAddAttention bool      `json:"mid_block_add_attention"`
}

// DefaultVAEConfig returns AutoencoderKL's defaults (diffusers v0.31), the starting point
// of ParseVAEConfig.
func DefaultVAEConfig() VAEConfig {
	return VAEConfig{
		InChannels:           3,
		OutChannels:          3,
		DownBlockTypes:       []string{"DownEncoderBlock2D"},
		UpBlockTypes:         []string{"UpDecoderBlock2D"},
		BlockOutChannels:     []int{64},
		LayersPerBlock:       1,
		ActFn:                "silu",
		LatentChannels:       4,
		NormNumGroups:        32,
		SampleSize:           32,
		ScalingFactor:        0.18215,
		ForceUpcast:          true,
		UseQuantConv:         true,
		UsePostQuantConv:     true,
		MidBlockAddAttention: true,
	}
}

// SD15VAEConfig is the configuration of Stable Diffusion 1.5's VAE
// (runwayml/stable-diffusion-v1-5, vae/config.json; 83.7M parameters).
func SD15VAEConfig() VAEConfig {
	c := DefaultVAEConfig()
	c.ClassName = "AutoencoderKL"
	c.DownBlockTypes = []string{"DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"}
	c.UpBlockTypes = []string{"UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"}
	c.BlockOutChannels = []int{128, 256, 512, 512}
	c.LayersPerBlock = 2
	c.SampleSize = 512
	return c
}

var vaeKnownKeys = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeFor[VAEConfig]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = true
	}
	return m
}()

// ParseVAEConfig parses a diffusers AutoencoderKL config.json and validates it. Keys this
// port does not know are refused (ignoring one could build a different network), except
// bookkeeping keys starting with "_".
func ParseVAEConfig(data []byte) (VAEConfig, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return VAEConfig{}, fmt.Errorf("vae: parsing config.json: %w", err)
	}
	var unknown []string
	for k := range raw {
		if !strings.HasPrefix(k, "_") && !vaeKnownKeys[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return VAEConfig{}, fmt.Errorf("vae: config.json has options AutoencoderKL does not have (or this port does not know): %s",
			strings.Join(unknown, ", "))
	}
	cfg := DefaultVAEConfig()
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&cfg); err != nil {
		return VAEConfig{}, fmt.Errorf("vae: parsing config.json: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return VAEConfig{}, err
	}
	return cfg, nil
}

// LoadVAEConfig reads and parses an AutoencoderKL config.json file.
func LoadVAEConfig(path string) (VAEConfig, error) { return loadConfig(path, "vae", ParseVAEConfig) }

// Validate reports, in one error, every option this port does not support and every
// inconsistency (block lists of different lengths, channels not divisible by the groups,
// sizes over the package's Max* bounds).
func (c VAEConfig) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if c.ClassName != "" && c.ClassName != "AutoencoderKL" {
		bad("_class_name is %q, not AutoencoderKL", c.ClassName)
	}
	c.checkVAEFeatures(bad)
	c.checkVAESizes(bad)
	if len(errs) > 0 {
		return fmt.Errorf("vae: unsupported or invalid AutoencoderKL config: %s", strings.Join(errs, "; "))
	}
	return nil
}

// checkVAEFeatures reports the options other than AutoencoderKL's Stable Diffusion ones.
func (c VAEConfig) checkVAEFeatures(bad func(format string, args ...any)) {
	if c.ActFn != "silu" {
		bad("act_fn %q is not supported (only silu)", c.ActFn)
	}
	for i, t := range c.DownBlockTypes {
		if t != "DownEncoderBlock2D" {
			bad("down_block_types[%d] %q is not supported (only DownEncoderBlock2D)", i, t)
		}
	}
	for i, t := range c.UpBlockTypes {
		if t != "UpDecoderBlock2D" {
			bad("up_block_types[%d] %q is not supported (only UpDecoderBlock2D)", i, t)
		}
	}
	if c.LatentsMean != nil || c.LatentsStd != nil {
		bad("latents_mean/latents_std (per-channel latent normalisation) are not supported: they must be null")
	}
	if s := c.ScalingFactor; !(s > 0) || math.IsInf(s, 0) {
		bad("scaling_factor %v must be a positive finite number", s)
	}
	if c.ShiftFactor != nil && (math.IsNaN(*c.ShiftFactor) || math.IsInf(*c.ShiftFactor, 0)) {
		bad("shift_factor %v must be finite or null", *c.ShiftFactor)
	}
}

// checkVAESizes reports sizes out of range and channels that the groups do not divide.
func (c VAEConfig) checkVAESizes(bad func(format string, args ...any)) {
	inRange := func(name string, v, limit int) {
		if v < 1 || v > limit {
			bad("%s %d is out of range [1, %d]", name, v, limit)
		}
	}
	inRange("in_channels", c.InChannels, MaxChannels)
	inRange("out_channels", c.OutChannels, MaxChannels)
	inRange("latent_channels", c.LatentChannels, MaxChannels)
	inRange("layers_per_block", c.LayersPerBlock, MaxLayersPerBlock)
	inRange("norm_num_groups", c.NormNumGroups, MaxChannels)
	inRange("sample_size", c.SampleSize, MaxSampleSize)
	n := len(c.BlockOutChannels)
	inRange("the number of blocks (len(block_out_channels))", n, MaxBlocks)
	if len(c.DownBlockTypes) != n || len(c.UpBlockTypes) != n {
		bad("block_out_channels has %d entries, down_block_types %d and up_block_types %d: they must be equal",
			n, len(c.DownBlockTypes), len(c.UpBlockTypes))
	}
	for i, ch := range c.BlockOutChannels {
		inRange(fmt.Sprintf("block_out_channels[%d]", i), ch, MaxChannels)
		if ch >= 1 && c.NormNumGroups >= 1 && ch%c.NormNumGroups != 0 {
			bad("block_out_channels[%d]: %d channels are not divisible by %d groups (norm_num_groups)", i, ch, c.NormNumGroups)
		}
	}
}

// Downsamplings is the number of halvings of the encoder, len(block_out_channels)−1: an
// image's height and width must be multiples of 2^Downsamplings, and its latent is that
// many times smaller (8 for Stable Diffusion).
func (c VAEConfig) Downsamplings() int { return max(len(c.BlockOutChannels)-1, 0) }
