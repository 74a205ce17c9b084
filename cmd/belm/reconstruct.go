package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/internal/atomicfile"
	"github.com/belmlab/workbench/viz"
)

func init() {
	register("reconstruct", "invert and reconstruct images with a UNet2DModel: MSE per image (CSV) and averages", runReconstruct)
}

// reconSettings are what a reconstruction's numbers depend on: written with them, and
// required equal across the shards of a run.
type reconSettings struct {
	ModelID   string   `json:"model_id"`
	DType     string   `json:"dtype"`
	Backend   string   `json:"backend"`
	Source    string   `json:"source"` // --directory, or --dataset and --data_dir
	Images    int      `json:"images"`
	BatchSize int      `json:"batch_size"`
	Samplers  []string `json:"samplers"`
	Steps     []int    `json:"num_inference_steps"`
	Gamma     float64  `json:"bdia_gamma"`
	P         float64  `json:"edict_p"`
}

// reconFlags are the flags of belm reconstruct.
type reconFlags struct {
	mf                modelFlags
	sdf               sdFlags
	src               imageSource
	sh                shard
	samplers, saveDir *string
	format            *string
	steps             *[]int
	testNum, batch    *int
	saveImages        *bool
}

func (f *reconFlags) register(fs *flagSet) {
	f.mf.register(fs, defaultModel)
	f.mf.sdf = &f.sdf
	f.sdf.register(fs, "prompt", "", 1, " (Stable Diffusion models; reconstruction.py: \"\" and 1)")
	f.sdf.registerLatents(fs, " (Stable Diffusion models)")
	f.samplers = fs.NonEmpty("sampler_type", "ddim,edict,bdia,belm", "comma-separated, of: "+registeredSamplers())
	f.steps = fs.Ints("num_inference_steps", "10,20", between(1, 1000), 1, "comma-separated step counts N")
	f.src.register(fs, "the images to reconstruct")
	f.testNum = fs.Int("test_num", 100, between(1, 1<<30), "at most this many images")
	f.batch = fs.Int("batch_size", 50, between(1, 1<<20), "images per batch (50: 1.5 GB peak on onnx for the Fashion-MNIST model, 1.25× the throughput of 8; Stable Diffusion at 512×512 takes 1)")
	f.saveDir = fs.String("save_dir", "out/reconstruct", "folder for reconstruction.csv (and the reconstructions with --save_images)")
	f.saveImages = fs.Bool("save_images", false, "also write each reconstruction as a PNG")
	f.format = fs.formatFlag("the summary on stdout")
	f.sh.register(fs)
}

// runReconstruct is reconstruction.py (study.Reconstruct): after each sampler and N it
// writes what it has, so a long run that stops (a signal: exit 130 / 143) keeps it.
func runReconstruct(args []string) error {
	fs := newFlagSet("reconstruct")
	var f reconFlags
	f.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if !f.src.given() {
		return usagef("--directory or --dataset is required: the images to invert and reconstruct")
	}
	p, err := f.mf.start(*f.saveDir, f.src.directory, *f.batch, fmt.Sprintf("--batch_size %d", *f.batch))
	if err != nil {
		return err
	}
	imgs, err := f.src.open(p, *f.testNum)
	if err != nil {
		return err
	}
	sams, err := p.Samplers(splitList(*f.samplers), f.mf.options(), false, *f.steps...)
	if err != nil {
		return err
	}
	set := reconSettings{ModelID: f.mf.modelID, DType: p.DType().String(), Backend: p.Runner.Backend().Name(), Source: f.src.String(), Images: len(imgs.Names),
		BatchSize: *f.batch, Samplers: samplerNames(sams), Steps: *f.steps, Gamma: f.mf.gamma, P: f.mf.p}
	stop := newStopper(func() string { return "the rows finished are in " + *f.saveDir })
	defer stop.stop()
	var js []byte
	res, err := study.Reconstruct(stop.context(), p, study.ReconstructionConfig{Samplers: sams, Steps: *f.steps, Images: imgs, BatchSize: *f.batch,
		Batches: f.sh.has, Progress: f.mf.progress(), Reconstructed: f.imageSaver(p, imgs.Names),
		Finished: func(r study.ReconstructionResult) error {
			if f.sh.on() {
				return writeShard(*f.saveDir, "reconstruction", f.sh, set, r)
			}
			var werr error
			js, werr = writeReconstruction(*f.saveDir, set, r)
			return werr
		}})
	if err != nil || f.sh.on() {
		return stop.interrupted(err, fmt.Sprintf("the rows finished are in %s; rerun the command to complete it", *f.saveDir))
	}
	if *f.format == "json" {
		_, err := os.Stdout.Write(js)
		return err
	}
	fmt.Printf("%s, %d images, %s on %s (per image: %s)\n", f.mf.modelID, set.Images, set.DType, set.Backend, filepath.Join(*f.saveDir, "reconstruction.csv"))
	return printReconSummary(res)
}

// imageSaver writes each reconstruction as a PNG with --save_images (nil without).
func (f *reconFlags) imageSaver(p *pipeline.Pipeline, names []string) func(study.ReconstructedBatch) error {
	if !*f.saveImages {
		return nil
	}
	return func(b study.ReconstructedBatch) error {
		imgs, err := p.Images(b.Images, len(b.Images)/p.ImageSize(1))
		if err != nil {
			return err
		}
		for k, img := range imgs {
			name := names[b.First+k]
			base := strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
			if err := savePNG(img, filepath.Join(*f.saveDir, fmt.Sprintf("%s_N%d_%04d_%s.png", b.Sampler, b.N, b.First+k, base))); err != nil {
				return err
			}
		}
		return nil
	}
}

func samplerNames(ss []belm.Sampler) []string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Name()
	}
	return names
}

// writeReconstruction writes reconstruction.csv (a row per image), reconstruction.json (the
// settings and the averages) and the figure; it returns the JSON.
func writeReconstruction(dir string, set reconSettings, d study.ReconstructionResult) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"sampler", "num_inference_steps", "image", "mse_latent", "mse_pm1", "mse_01", "noise_std"})
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, r := range d.Rows {
		w.Write([]string{r.Sampler, strconv.Itoa(r.N), r.Image, g(r.Latent), g(r.PM1), g(r.Unit), g(r.NoiseStd)})
	}
	w.Flush()
	csvPath := filepath.Join(dir, "reconstruction.csv")
	if err := atomicfile.WriteFile(csvPath, buf.Bytes()); err != nil {
		return nil, err
	}
	summary := struct {
		reconSettings
		CSV     string                        `json:"csv"`
		Summary []study.ReconstructionSummary `json:"summary"`
		// The codec's own round trip (a latent model's VAE), beside Table 2's "AE" column.
		CodecFloor   *pipeline.Errors `json:"codec_floor,omitempty"`
		PaperAEFloor *float64         `json:"paper_table2_ae_floor,omitempty"`
	}{reconSettings: set, CSV: csvPath, Summary: d.Summaries(), CodecFloor: d.CodecFloor()}
	if summary.CodecFloor != nil {
		ae := study.PaperAEFloor
		summary.PaperAEFloor = &ae
	}
	return saveStudy(dir, "reconstruction", summary, true, viz.Options{
		Title:  fmt.Sprintf("Reconstruction error, %d images, %s", set.Images, set.DType),
		YLabel: "MSE of reconstruction ([−1, 1] scale)", XLabel: "steps N"})
}

func printReconSummary(r study.ReconstructionResult) error {
	if f := r.CodecFloor(); f != nil {
		fmt.Printf("codec alone (encode → decode, %d images): mse [-1,1] %.3e, [0,1] 8-bit %.3e — the floor of every sampler (paper Table 2 \"AE\": %.3f)\n",
			len(r.Codec), f.PM1, f.Unit, study.PaperAEFloor)
	}
	sums := r.Summaries()
	tw := table(os.Stdout)
	fmt.Fprintln(tw, "sampler\tN\tmse latent\tmse [-1,1] (paper)\tmse [0,1] 8-bit (code)\tpaper Table 5 (SD latent)\tpaper Table 2 (SD pixels)\tseconds\t")
	paper := func(v *float64) string {
		if v == nil {
			return "–"
		}
		return fmt.Sprintf("%.3f", *v)
	}
	for _, s := range sums {
		fmt.Fprintf(tw, "%s\t%d\t%.3e\t%.3e\t%.3e\t%s\t%s\t%.1f\t\n", s.Sampler, s.N, s.Latent, s.PM1, s.Unit, paper(s.PaperTable5), paper(s.PaperTable2), s.Seconds)
	}
	return tw.Flush()
}
