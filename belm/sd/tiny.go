package sd

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/belmlab/workbench/belm/clip"
	"github.com/belmlab/workbench/belm/hub"
	"github.com/belmlab/workbench/internal/atomicfile"
)

// TinyVocabSize is the vocabulary of the tiny text encoder of the SD fixtures: 1000 tokens,
// so its tokenizer keeps the 512 byte tokens, the first 486 merges and the two special
// tokens (998 and 999, the ids its config names).
const TinyVocabSize = 1000

// tinyIndex is the tiny pipeline's model_index.json: SD 1.5's classes, no safety checker.
const tinyIndex = `{
  "_class_name": "StableDiffusionPipeline",
  "_diffusers_version": "0.31.0",
  "feature_extractor": [null, null],
  "requires_safety_checker": false,
  "safety_checker": [null, null],
  "scheduler": ["diffusers", "PNDMScheduler"],
  "text_encoder": ["transformers", "CLIPTextModel"],
  "tokenizer": ["transformers", "CLIPTokenizer"],
  "unet": ["diffusers", "UNet2DConditionModel"],
  "vae": ["diffusers", "AutoencoderKL"]
}
`

// AssembleTiny lays out a Stable Diffusion pipeline folder in dir from the SD component
// fixtures in fixtures (../shared/fixtures/sd: see its README): the tiny UNet2DConditionModel,
// AutoencoderKL and CLIP text encoder with their configs, a tokenizer cut from the real CLIP
// vocabulary to the text encoder's 1000 tokens (Tokenizer.WriteFolder), SD 1.5's scheduler
// config and a model_index.json — the folder a user's SD 1.5 has, at toy size.
func AssembleTiny(fixtures, dir string) error {
	copies := map[string]string{
		"sd_unet_config.json":   "unet/" + hub.ConfigFile,
		"sd_unet.safetensors":   "unet/" + hub.SafetensorsFile,
		"sd_vae_config.json":    "vae/" + hub.ConfigFile,
		"sd_vae.safetensors":    "vae/" + hub.SafetensorsFile,
		"clip_text_config.json": "text_encoder/" + clip.ConfigFile,
		"clip_text.safetensors": "text_encoder/" + clip.WeightsFile,
	}
	for from, to := range copies {
		b, err := os.ReadFile(filepath.Join(fixtures, from))
		if err != nil {
			return fmt.Errorf("tiny SD folder: %w (the SD fixtures are in ../shared/fixtures/sd)", err)
		}
		if err := writeFile(filepath.Join(dir, to), b); err != nil {
			return err
		}
	}
	sched, err := fixtureScheduler(filepath.Join(fixtures, "sd_ddim_cfg_trajectory.json"))
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "scheduler", hub.SchedulerConfigFile), sched); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, hub.ModelIndexFile), []byte(tinyIndex)); err != nil {
		return err
	}
	tok, err := clip.LoadOpenAIVocab(filepath.Join(fixtures, clip.OpenAIVocabFile))
	if err != nil {
		return err
	}
	return tok.WriteFolder(filepath.Join(dir, "tokenizer"), TinyVocabSize, clip.EndOfText)
}

// fixtureScheduler is SD 1.5's scheduler config as the trajectory fixture records it.
func fixtureScheduler(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Config json.RawMessage `json:"source_scheduler_config"`
	}
	if err := json.Unmarshal(b, &f); err != nil || len(f.Config) == 0 {
		return nil, fmt.Errorf("%s: no source_scheduler_config (%v)", path, err)
	}
	var v any
	if err := json.Unmarshal(f.Config, &v); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(v, "", "  ")
	return append(out, '\n'), err
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b)
}
