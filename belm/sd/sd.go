// Package sd is Stable Diffusion (1.x / 2.x) on the workbench's pipeline: a diffusers
// pipeline folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/),
// from disk, the Hugging Face cache or the Hub, loaded into
//
//   - the ε-model: the UNet2DConditionModel (belm/unet), conditioned on text embeddings;
//   - the codec: the AutoencoderKL (belm/unet), z = s·E(x) and x = D(z/s), s the
//     scaling factor;
//   - the conditioning: a prompt through the CLIP tokenizer and text encoder (belm/clip)
//     into last_hidden_state [77, hidden], with classifier-free guidance
//     ε = ε(uncond) + w·(ε(cond) − ε(uncond)) applied identically in both directions (spec
//     §2.8), which exact inversion needs.
//
// So SD is one more model behind pipeline.Pipeline: every sampler samples and inverts it,
// and every study (reconstruction, editing, sampling) runs on it unchanged.
//
// The scheduler is the one the reference's SD scripts build (spec §1.2): the model's
// betas with DDIMScheduler's "linspace" timesteps (999, 888, …, 0 for N = 10) and
// set_alpha_to_one false, unless Options.TimestepSpacing says otherwise.
package sd

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/gomlx/compute/dtypes"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/clip"
	"github.com/belmlab/workbench/belm/hub"
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/unet"
)

// Options configure Load.
type Options struct {
	// DType is the computation dtype: Float32 (default) or Float64 (go backend only).
	DType dtypes.DType
	// Backend is the GoMLX backend ("": $GOMLX_BACKEND or go).
	Backend string
	// Size is the image side in pixels, a multiple of the VAE's factor times 2^(the UNet's
	// downsamplings): 64 for SD 1.x/2.x. Default, as diffusers: the UNet's sample_size
	// times the VAE's factor (64·8 = 512 for SD 1.5).
	Size int
	// TimestepSpacing is the inference timestep spacing: "" is "linspace", as the reference
	// SD scripts set it; "config" keeps the model's scheduler config ("leading" for SD 1.5).
	TimestepSpacing string
	// SampleLatents encodes images with a draw from the VAE's posterior, seeded by Seed,
	// instead of its mean.
	SampleLatents bool
	Seed          uint64
}

// Model is a loaded Stable Diffusion pipeline.
type Model struct {
	Hub       *hub.Model
	UNet      *unet.UNet
	VAE       *unet.AutoencoderKL
	Text      *clip.TextModel
	Tokenizer *clip.Tokenizer
	// Pipeline runs the samplers: Net is the UNet, Codec the VAE at Size², Conditioner
	// set by Condition (nil: none yet).
	Pipeline *pipeline.Pipeline
}

// Load resolves id (a folder, a Hub id in the cache, or a download: hub.Resolve) and loads
// every part of its Stable Diffusion pipeline.
func Load(id string, o Options) (*Model, error) {
	h, err := hub.Resolve(id)
	if err != nil {
		return nil, err
	}
	if err := checkLayout(h); err != nil {
		return nil, err
	}
	dt := o.DType
	if dt == dtypes.InvalidDType {
		dt = dtypes.Float32
	}
	m := &Model{Hub: h}
	if m.UNet, err = unet.Load(h.UNetDir, unet.WithDType(dt)); err != nil {
		return nil, err
	}
	if !m.UNet.Conditional() {
		return nil, fmt.Errorf("%s: its unet/ is a %s, not a UNet2DConditionModel: load it as a pixel-space model (without sd)", id, m.UNet.Config().ClassName)
	}
	if m.VAE, err = unet.LoadVAE(h.VAEDir, unet.WithDType(dt)); err != nil {
		return nil, err
	}
	if m.Text, err = clip.LoadTextModel(h.TextEncoderDir, dt); err != nil {
		return nil, err
	}
	if m.Tokenizer, err = clip.LoadTokenizer(h.TokenizerDir); err != nil {
		return nil, err
	}
	if err := m.checkParts(); err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	sc, err := m.scheduler(o.TimestepSpacing)
	if err != nil {
		return nil, err
	}
	size, err := m.imageSize(o.Size)
	if err != nil {
		return nil, err
	}
	codec, err := m.VAE.Codec(size, size, unet.CodecOptions{Backend: o.Backend, DType: dt, Sample: o.SampleLatents, Seed: o.Seed})
	if err != nil {
		return nil, err
	}
	if m.Pipeline, err = pipeline.New(m.UNet, sc, pipeline.Options{DType: dt, Backend: o.Backend, Codec: codec}); err != nil {
		return nil, err
	}
	m.Pipeline.Model = h
	return m, nil
}

// imageSize is the image side: given, or as diffusers takes it, the UNet's sample_size
// (in latent pixels) times the VAE's factor; it must be a multiple of the VAE's factor
// times 2^(the UNet's downsamplings) — 64 for SD 1.x/2.x — for the UNet to take the latents.
func (m *Model) imageSize(size int) (int, error) {
	vaeDown, unetDown := m.VAE.Config().Downsamplings(), len(m.UNet.Config().BlockOutChannels)-1
	if size == 0 {
		ss := m.UNet.Config().SampleSize
		if ss == nil || *ss <= 0 {
			return 0, fmt.Errorf("the UNet's config.json has no sample_size: give the image size (--resolution, sd.Options.Size)")
		}
		size = *ss << vaeDown
	}
	if f := 1 << (vaeDown + unetDown); size <= 0 || size%f != 0 {
		return 0, fmt.Errorf("--resolution %d: the image side must be a positive multiple of %d (the VAE's factor %d × 2^%d, the UNet's downsamplings), e.g. %d",
			size, f, 1<<vaeDown, unetDown, max(f, (size+f/2)/f*f))
	}
	return size, nil
}

// EstimateBytes estimates the peak memory of the pipeline's work on images images, the UNet
// taking unetBatch latents at once (2·images with guidance): pipeline.EstimateLatentBytes
// with the text encoder's weights held too.
func (m *Model) EstimateBytes(unetBatch, images int) int64 {
	return m.Pipeline.EstimateLatentBytes(unetBatch, images, m.VAE, m.Text.NumParameters())
}

// IsStableDiffusion reports whether a resolved model folder is meant as a text-to-image
// latent pipeline: its model_index.json names a vae or a text_encoder, or it has vae/ or
// text_encoder/ beside unet/ (Load then names any part that is missing).
func IsStableDiffusion(h *hub.Model) bool {
	if h.VAEDir != "" || h.TextEncoderDir != "" {
		return true
	}
	if h.ModelIndex == "" {
		return false
	}
	idx, err := readIndex(h.ModelIndex)
	if err != nil {
		return true // Load reports the broken model_index.json
	}
	_, vae := idx["vae"]
	_, text := idx["text_encoder"]
	return vae || text
}

// checkLayout names the sub-folders a Stable Diffusion folder lacks.
func checkLayout(h *hub.Model) error {
	var missing []string
	for _, p := range []struct{ dir, name string }{{h.ModelIndex, hub.ModelIndexFile}, {h.VAEDir, "vae/"}, {h.TextEncoderDir, "text_encoder/"}, {h.TokenizerDir, "tokenizer/"}, {h.SchedulerConfig, "scheduler/" + hub.SchedulerConfigFile}} {
		if p.dir == "" {
			missing = append(missing, p.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s is not a Stable Diffusion pipeline folder: it has no %v (a diffusers SD folder holds model_index.json, unet/, vae/, text_encoder/, tokenizer/ and scheduler/)", h.Dir, missing)
	}
	if _, err := readIndex(h.ModelIndex); err != nil {
		return err
	}
	return nil
}

// readIndex reads model_index.json (its classes, for the error messages' sake).
func readIndex(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var idx map[string]any
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return idx, nil
}

// checkParts checks that the parts fit together: the tokenizer's ids within the text
// encoder's vocabulary and its length within its positions, the text embeddings' width the
// UNet's cross_attention_dim, the VAE's latent channels the UNet's input.
func (m *Model) checkParts() error {
	tc, uc, vc := m.Text.Config(), m.UNet.Config(), m.VAE.Config()
	if n := m.Tokenizer.VocabSize(); n > tc.VocabSize {
		return fmt.Errorf("the tokenizer's vocabulary (%d tokens) does not match the text encoder's vocab_size %d: use the tokenizer/ of the same model", n, tc.VocabSize)
	}
	if m.Tokenizer.MaxLength > tc.MaxPositionEmbeddings {
		return fmt.Errorf("the tokenizer pads prompts to %d tokens, the text encoder has %d positions", m.Tokenizer.MaxLength, tc.MaxPositionEmbeddings)
	}
	if d := m.UNet.CrossAttentionDim(); d != tc.HiddenSize {
		return fmt.Errorf("the text encoder's hidden_size %d is not the UNet's cross_attention_dim %d: the parts are from different models", tc.HiddenSize, d)
	}
	if vc.LatentChannels != uc.InChannels {
		return fmt.Errorf("the VAE's latent_channels %d is not the UNet's in_channels %d: the parts are from different models", vc.LatentChannels, uc.InChannels)
	}
	return nil
}

// scheduler is the model's scheduler config with the reference SD scripts' DDIM settings.
func (m *Model) scheduler(spacing string) (belm.SchedulerConfig, error) {
	sc, _, err := m.Hub.Scheduler()
	if err != nil {
		return sc, err
	}
	switch spacing {
	case "", "linspace":
		sc.TimestepSpacing = "linspace"
	case "config":
	case "leading", "trailing":
		sc.TimestepSpacing = spacing
	default:
		return sc, fmt.Errorf("--timestep_spacing %q: use linspace (the reference SD scripts), leading, trailing or config (the model's scheduler config)", spacing)
	}
	return sc, nil
}
