package main

import (
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/sd"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/internal/atomicfile"
	"github.com/belmlab/workbench/viz"
	"github.com/gomlx/compute/dtypes"
)

func init() {
	register("edit", "text-guided editing of an image with Stable Diffusion (image_editing.py): invert under --ori_prompt, resample under --res_prompt", runEdit)
	register("txt2img", "sample images from prompts with Stable Diffusion (sd_sampling.py), with classifier-free guidance", runTxt2Img)
}

// sdModel are the defaults of the Stable Diffusion commands: SD 1.5 and the reference SD
// scripts' γ and p (spec §2.3–2.4).
var sdModel = modelDefaults{"stable-diffusion-v1-5/stable-diffusion-v1-5", "float32", belm.DefaultSamplerOptions}

// sdFlags are the flags of a Stable Diffusion model (used when --model_id is an SD folder).
type sdFlags struct {
	prompt, negative string
	guidance         float64
	resolution       int
	spacing          string
	sampleLatents    bool   // encode with a posterior draw (edit, reconstruct)
	seed             uint64 // of that draw
}

// options are the sd.Options of the flags.
func (f *sdFlags) options(dt dtypes.DType, backend string) sd.Options {
	return sd.Options{DType: dt, Backend: backend, Size: f.resolution, TimestepSpacing: f.spacing, SampleLatents: f.sampleLatents, Seed: f.seed}
}

// registerLatents adds --sample_latents and --seed (the VAE posterior draw of the images).
func (f *sdFlags) registerLatents(fs *flagSet, note string) {
	fs.BoolVar(&f.sampleLatents, "sample_latents", false, "encode images with a draw from the VAE posterior (seeded by --seed), as the reference's pil_to_latents, instead of its mean"+note)
	fs.Uint64Var(&f.seed, "seed", 38018716, "seed of --sample_latents (the reference's seed)"+note)
}

// unetBatch is the batch a UNet evaluation of b latents takes: 2b with guidance.
func (f *sdFlags) unetBatch(b int) int {
	if f != nil && f.guidance > 1 {
		return 2 * b
	}
	return b
}

// register adds the flags; promptFlag names the prompt's flag ("" for commands whose
// prompts are their own flags, as edit's --ori_prompt and --res_prompt).
func (f *sdFlags) register(fs *flagSet, promptFlag, defPrompt string, defGuidance float64, note string) {
	if promptFlag != "" {
		fs.StringVar(&f.prompt, promptFlag, defPrompt, "the text prompt"+note)
		fs.StringVar(&f.negative, "negative_prompt", "", "the prompt guided away from (classifier-free guidance's unconditional prompt)"+note)
	}
	fs.Float64Var(&f.guidance, "guidance", defGuidance, atLeast(0), "classifier-free guidance weight w (on when w > 1; the same in inversion and sampling)"+note)
	fs.IntVar(&f.resolution, "resolution", 0, atLeast(0), "image side in pixels, a multiple of 64 for SD 1.x/2.x (the VAE's 8 × 2^(the UNet's 3 downsamplings); 0: the UNet's sample_size × 8, 512 for SD 1.5)"+note)
	fs.StringVar(&f.spacing, "timestep_spacing", "linspace", "linspace (the reference SD scripts), leading, trailing, or config (the model's scheduler)"+note)
}

// editFlags are the flags of belm edit (the reference's image_editing.py).
type editFlags struct {
	mf               modelFlags
	sdf              sdFlags
	sampler, saveDir *string
	image            *string
	original, edited *string
	steps, freeze    *int
}

func (f *editFlags) register(fs *flagSet) {
	f.mf.register(fs, sdModel)
	f.mf.sdf = &f.sdf
	f.sdf.register(fs, "", "", 2, "")
	f.sampler = fs.NonEmpty("sampler_type", "belm", "one of: "+registeredSamplers()+" (the exact ones reconstruct the input under --ori_prompt)")
	f.steps = fs.Int("num_inference_steps", 200, between(1, 1000), "number of steps N")
	f.freeze = fs.Int("freeze_step", 50, atLeast(0), "the F noisiest steps left out of the inversion (spec §2.7): it stops at level N−F")
	f.image = fs.String("ori_im_path", "", "the image to edit (PNG or JPEG; center-cropped and resized to --resolution)")
	f.original = fs.String("ori_prompt", "A dog", "the prompt describing the image (inversion and reconstruction)")
	f.edited = fs.String("res_prompt", "A Dalmatian", "the prompt of the edit (sampling)")
	f.saveDir = fs.String("save_dir", "out/edit", "folder for the edited image, the reconstruction, the grid and edit.json")
	f.sdf.registerLatents(fs, "")
	fs.check(func() error {
		if *f.freeze >= *f.steps {
			return fmt.Errorf("--freeze_step %d must be below --num_inference_steps %d", *f.freeze, *f.steps)
		}
		return nil
	})
}

// runEdit is image_editing.py (study.Edit on a Stable Diffusion pipeline): the edited image,
// the reconstruction under --ori_prompt, and a labelled grid, named as the reference names
// them, plus edit.json with the latent errors.
func runEdit(args []string) error {
	fs := newFlagSet("edit")
	var f editFlags
	f.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if *f.image == "" {
		return usagef("--ori_im_path is required: the image to edit")
	}
	if _, err := os.Stat(*f.image); err != nil {
		return fmt.Errorf("--ori_im_path: %w", err)
	}
	p, err := f.mf.start(*f.saveDir, "", 1, "the edit of one image")
	if err != nil {
		return err
	}
	m := f.mf.sd
	if m == nil {
		return fmt.Errorf("--model_id %s is not a Stable Diffusion folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/): belm edit edits with a text-to-image model", f.mf.modelID)
	}
	s, err := p.Sampler(*f.sampler, f.mf.options(), false)
	if err != nil {
		return err
	}
	x, err := p.LoadImages([]string{*f.image})
	if err != nil {
		return err
	}
	orig, err := m.Conditioning(*f.original, "", f.sdf.guidance)
	if err != nil {
		return fmt.Errorf("--ori_prompt: %w", err)
	}
	edit, err := m.Conditioning(*f.edited, "", f.sdf.guidance)
	if err != nil {
		return fmt.Errorf("--res_prompt: %w", err)
	}
	stop := newStopper(func() string { return "nothing was written" })
	defer stop.stop()
	r, err := study.Edit(stop.context(), p, study.EditConfig{Sampler: s, N: *f.steps, Freeze: *f.freeze, Images: x, Batch: 1,
		Original: orig, Edited: edit, Progress: f.mf.progress()})
	if err != nil {
		return stop.interrupted(err, "nothing was written")
	}
	return f.save(p, x, r)
}

// save writes the edit's files: ori_{ori}_res_{res}_{sampler}_infer{N}_free{F}_g{w}.png
// (the reference's name) for the edit, the same with _recon for the reconstruction and
// _grid for input | reconstruction | edit, and edit.json.
func (f *editFlags) save(p *pipeline.Pipeline, x []float64, r study.EditResult) error {
	base := fmt.Sprintf("ori_%s_res_%s_%s_infer%d_free%d_g%g", fileSafe(*f.original), fileSafe(*f.edited), r.Sampler, r.N, r.Freeze, f.sdf.guidance)
	row := append(append(append([]float64{}, x...), r.ReconstructedImages...), r.EditedImages...)
	imgs, err := p.Images(row, 3)
	if err != nil {
		return err
	}
	sz := p.SampleSize()
	grid, err := viz.ImageGrid(viz.Images{Data: row, Shape: [4]int{3, p.Channels(), sz, sz}, Layout: viz.NCHW, Range: viz.MinusOneOne},
		viz.GridOptions{Cols: 3, Scale: (200 + sz - 1) / sz, ColLabels: []string{"input", "reconstruction (" + *f.original + ")", "edit (" + *f.edited + ")"}})
	if err != nil {
		return err
	}
	out := map[string]image.Image{base + ".png": imgs[2], base + "_recon.png": imgs[1], base + "_grid.png": grid}
	for name, img := range out {
		if err := savePNG(img, filepath.Join(*f.saveDir, name)); err != nil {
			return err
		}
	}
	js, err := json.MarshalIndent(struct {
		ModelID  string            `json:"model_id"`
		Original string            `json:"ori_prompt"`
		Edited   string            `json:"res_prompt"`
		Guidance float64           `json:"guidance"`
		Image    string            `json:"ori_im_path"`
		Sampled  bool              `json:"sample_latents"`
		Seed     uint64            `json:"seed,omitempty"`
		Result   study.EditResult  `json:"result"`
		Files    map[string]string `json:"files"`
	}{f.mf.modelID, *f.original, *f.edited, f.sdf.guidance, *f.image, f.sdf.sampleLatents, map[bool]uint64{true: f.sdf.seed}[f.sdf.sampleLatents], r,
		map[string]string{"edit": base + ".png", "reconstruction": base + "_recon.png", "grid": base + "_grid.png"}}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(*f.saveDir, "edit.json"), append(js, '\n')); err != nil {
		return err
	}
	if !f.mf.quiet {
		fmt.Fprintf(os.Stderr, "%s, N = %d, F = %d, w = %g: reconstruction error max |Δz| %.2e, the edit moved the latents %.3f RMS, %.1f s → %s\n",
			r.Sampler, r.N, r.Freeze, f.sdf.guidance, r.Reconstruction.MaxAbs, r.EditDistance, r.Seconds, filepath.Join(*f.saveDir, base+".png"))
	}
	return nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileSafe is a prompt as a file-name part: runs of other characters become "_".
func fileSafe(s string) string {
	s = strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "_")
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// runTxt2Img is sd_sampling.py: batch k samples the noise of seed+k with the prompt and
// guidance, its images written as {sampler}_infer{N}_g{w}_seed{S}_{i}.png.
func runTxt2Img(args []string) error {
	fs := newFlagSet("txt2img")
	var mf modelFlags
	var f sdFlags
	mf.register(fs, sdModel)
	mf.sdf = &f
	f.register(fs, "prompt", "A dog", 4, "")
	sampler := fs.NonEmpty("sampler_type", "belm", "one of: "+registeredSamplers())
	n := fs.Int("num_inference_steps", 200, between(1, 1000), "number of steps N")
	batch := fs.Int("batch_size", 1, between(1, 1<<10), "images per batch")
	testNum := fs.Int("test_num", 1, between(1, 1<<20), "number of batches, one per seed")
	seed := fs.Uint64("seed", 38018716, "seed of the first batch (the reference's); batch k uses seed+k")
	saveDir := fs.String("save_dir", "out/txt2img", "folder for the PNGs")
	if err := fs.parse(args); err != nil {
		return err
	}
	p, err := mf.start(*saveDir, "", *batch, fmt.Sprintf("--batch_size %d", *batch))
	if err != nil {
		return err
	}
	if mf.sd == nil {
		return fmt.Errorf("--model_id %s is not a Stable Diffusion folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/): use belm sample for an unconditional UNet", mf.modelID)
	}
	sams, err := p.Samplers([]string{*sampler}, mf.options(), true, *n)
	if err != nil {
		return err
	}
	seeds := make([]uint64, *testNum)
	for k := range seeds {
		seeds[k] = *seed + uint64(k)
	}
	stop := newStopper(func() string { return "the batches finished are in " + *saveDir })
	defer stop.stop()
	start, files := time.Now(), 0
	_, err = study.Samples(stop.context(), p, study.SamplesConfig{Samplers: sams, N: *n, BatchSize: *batch, Seeds: seeds, Progress: mf.progress(),
		Batch: func(b study.SampleBatch) error {
			imgs, err := p.Images(b.Images, len(b.Images)/p.ImageSize(1))
			if err != nil {
				return err
			}
			for i, img := range imgs {
				name := fmt.Sprintf("%s_infer%d_g%g_seed%d_%d.png", b.Sampler, b.N, f.guidance, b.Seed, i)
				if err := savePNG(img, filepath.Join(*saveDir, name)); err != nil {
					return err
				}
				files++
			}
			return nil
		}})
	if err != nil {
		return stop.interrupted(err, fmt.Sprintf("the batches finished are in %s", *saveDir))
	}
	if !mf.quiet {
		fmt.Fprintf(os.Stderr, "%d image(s) of %q (w = %g, %d NFE) in %s → %s\n", files, f.prompt, f.guidance, p.Runner.NFE(), time.Since(start).Round(time.Millisecond), *saveDir)
	}
	return nil
}
