package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/internal/atomicfile"
	"github.com/belmlab/workbench/viz"
)

func init() {
	register("reconstruct", "invert and reconstruct images with a UNet2DModel: MSE per image (CSV) and averages", runReconstruct)
}

// reconRow is one line of the reconstruction CSV.
type reconRow struct {
	Sampler string  `json:"sampler"`
	N       int     `json:"num_inference_steps"`
	Index   int     `json:"index"` // of the image in the run's list
	Image   string  `json:"image"`
	Noise   float64 `json:"noise_std"` // std of the inverted x_N
	pipeline.Errors
}

// reconSummary is the average over the images of one sampler and N.
type reconSummary struct {
	Sampler string  `json:"sampler"`
	N       int     `json:"num_inference_steps"`
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
	pipeline.Errors
	// The paper's Table 5 (latent-space MSE of SD-1.5 on COCO-14: the MSE in the space the
	// model works in, as Latent is here), where it has the sampler and N.
	PaperTable5 *float64 `json:"paper_table5_latent_mse,omitempty"`
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

// reconData is what a shard of a reconstruction writes: its rows, and the seconds each
// sampler and N took.
type reconData struct {
	Rows    []reconRow         `json:"rows"`
	Seconds map[string]float64 `json:"seconds"` // by "sampler N=n"
}

func rowKey(sampler string, n int) string { return fmt.Sprintf("%s N=%d", sampler, n) }

// summaries averages the rows of each sampler and N, in the order they first appear.
func (d reconData) summaries() []reconSummary {
	var keys []string
	group := map[string][]pipeline.Errors{}
	first := map[string]reconRow{}
	for _, r := range d.Rows {
		k := rowKey(r.Sampler, r.N)
		if _, ok := group[k]; !ok {
			keys, first[k] = append(keys, k), r
		}
		group[k] = append(group[k], r.Errors)
	}
	var sums []reconSummary
	for _, k := range keys {
		r := first[k]
		s := reconSummary{Sampler: r.Sampler, N: r.N, Images: len(group[k]), Seconds: d.Seconds[k], Errors: pipeline.Mean(group[k])}
		if v, ok := study.PaperValue(study.PaperLatentReconstructionMSE, r.Sampler, r.N); ok {
			s.PaperTable5 = &v
		}
		sums = append(sums, s)
	}
	return sums
}

func runReconstruct(args []string) error {
	fs := newFlagSet("reconstruct")
	var mf modelFlags
	mf.register(fs, defaultModel)
	samplers := fs.NonEmpty("sampler_type", "ddim,edict,bdia,belm", "comma-separated samplers")
	ns := fs.Ints("num_inference_steps", "10,20", between(1, 1000), 1, "comma-separated step counts N")
	var src imageSource
	src.register(fs, "the images to reconstruct")
	testNum := fs.Int("test_num", 100, between(1, 1<<30), "at most this many images")
	batch := fs.Int("batch_size", 8, between(1, 1<<20), "images per batch")
	saveDir := fs.String("save_dir", "out/reconstruct", "folder for reconstruction.csv (and the reconstructions with --save_images)")
	saveImages := fs.Bool("save_images", false, "also write each reconstruction as a PNG")
	format := fs.formatFlag("the summary on stdout")
	var sh shard
	sh.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if !src.given() {
		return usagef("--directory or --dataset is required: the images to invert and reconstruct")
	}
	p, err := mf.start(*saveDir, src.directory, *batch, fmt.Sprintf("--batch_size %d", *batch))
	if err != nil {
		return err
	}
	imgs, err := src.open(p, *testNum)
	if err != nil {
		return err
	}
	sams, err := mf.samplers(p, *samplers, *ns, false)
	if err != nil {
		return err
	}
	set := reconSettings{ModelID: mf.modelID, DType: p.DType().String(), Backend: p.Runner.Backend().Name(), Source: src.String(), Images: len(imgs.names),
		BatchSize: *batch, Steps: *ns, Gamma: mf.gamma, P: mf.p}
	for _, s := range sams {
		set.Samplers = append(set.Samplers, s.Name())
	}
	r := reconRun{p: p, mf: &mf, imgs: imgs, sams: sams, set: set, shard: sh, dir: *saveDir, saveImages: *saveImages}
	d, js, err := r.run()
	if err != nil || sh.on() {
		return err
	}
	if *format == "json" {
		_, err := os.Stdout.Write(js)
		return err
	}
	fmt.Printf("%s, %d images, %s on %s (per image: %s)\n", mf.modelID, set.Images, set.DType, set.Backend, filepath.Join(*saveDir, "reconstruction.csv"))
	return printReconSummary(d.summaries())
}

// reconRun is one reconstruction study (or its shard).
type reconRun struct {
	p          *pipeline.Pipeline
	mf         *modelFlags
	imgs       images
	sams       []belm.Sampler
	set        reconSettings
	shard      shard
	dir        string
	saveImages bool
}

// run inverts and reconstructs every batch of the shard with every sampler and N; after
// each sampler and N it writes what it has (a long run that stops keeps what it measured).
func (r reconRun) run() (reconData, []byte, error) {
	d := reconData{Seconds: map[string]float64{}}
	paths, batch := r.imgs.names, r.set.BatchSize
	total := 0
	for b := 0; b*batch < len(paths); b++ {
		if r.shard.has(b) {
			total += 2 * len(r.sams) * sum(r.set.Steps)
		}
	}
	what := ""
	r.mf.observe(r.p, total, &what)
	var js []byte
	for _, n := range r.set.Steps {
		for _, s := range r.sams {
			what = rowKey(s.Name(), n)
			start := time.Now()
			for b0 := 0; b0 < len(paths); b0 += batch {
				if !r.shard.has(b0 / batch) {
					continue
				}
				rows, err := r.batch(s, n, b0, min(b0+batch, len(paths)))
				if err != nil {
					return d, nil, err
				}
				d.Rows = append(d.Rows, rows...)
			}
			r.p.Runner.ReleaseGraphs() // each sampler's ORT sessions hold arenas of the batch's size
			d.Seconds[what] = time.Since(start).Seconds()
			var err error
			if r.shard.on() {
				err = writeShard(r.dir, "reconstruction", r.shard, r.set, d)
			} else {
				js, err = writeReconstruction(r.dir, r.set, d)
			}
			if err != nil {
				return d, nil, err
			}
		}
	}
	return d, js, nil
}

// batch reconstructs images [i, j) with s in n steps.
func (r reconRun) batch(s belm.Sampler, n, i, j int) ([]reconRow, error) {
	bp := r.imgs.names[i:j]
	x0, err := r.imgs.load(i, j)
	if err != nil {
		return nil, err
	}
	recon, xN, err := r.p.Reconstruct(s, n, x0, len(bp))
	if err != nil {
		return nil, fmt.Errorf("%s N=%d, images %s…: %w", s.Name(), n, bp[0], err)
	}
	var rows []reconRow
	per := len(xN) / len(bp)
	for k, e := range pipeline.ReconstructionErrors(x0, recon, len(bp)) {
		rows = append(rows, reconRow{Sampler: s.Name(), N: n, Index: i + k, Image: bp[k], Noise: std(xN[k*per : (k+1)*per]), Errors: e})
	}
	if !r.saveImages {
		return rows, nil
	}
	imgs, err := r.p.Images(recon, len(bp))
	if err != nil {
		return nil, err
	}
	for k, img := range imgs {
		base := strings.TrimSuffix(filepath.Base(bp[k]), filepath.Ext(bp[k]))
		if err := savePNG(img, filepath.Join(r.dir, fmt.Sprintf("%s_N%d_%04d_%s.png", s.Name(), n, i+k, base))); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// writeReconstruction writes reconstruction.csv (a row per image), reconstruction.json (the
// settings and the averages) and the figure; it returns the JSON.
func writeReconstruction(dir string, set reconSettings, d reconData) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"sampler", "num_inference_steps", "image", "mse_latent", "mse_pm1", "mse_01", "noise_std"})
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, r := range d.Rows {
		w.Write([]string{r.Sampler, strconv.Itoa(r.N), r.Image, g(r.Latent), g(r.PM1), g(r.Unit), g(r.Noise)})
	}
	w.Flush()
	csvPath := filepath.Join(dir, "reconstruction.csv")
	if err := atomicfile.WriteFile(csvPath, buf.Bytes()); err != nil {
		return nil, err
	}
	summary := struct {
		reconSettings
		CSV     string         `json:"csv"`
		Summary []reconSummary `json:"summary"`
	}{set, csvPath, d.summaries()}
	return saveStudy(dir, "reconstruction", summary, true, viz.Options{
		Title:  fmt.Sprintf("Reconstruction error, %d images, %s", set.Images, set.DType),
		YLabel: "MSE of reconstruction ([−1, 1] scale)", XLabel: "steps N"})
}

func printReconSummary(sums []reconSummary) error {
	tw := table(os.Stdout)
	fmt.Fprintln(tw, "sampler\tN\tmse latent\tmse [-1,1] (paper)\tmse [0,1] 8-bit (code)\tpaper Table 5 (SD latent)\tseconds\t")
	for _, s := range sums {
		paper := "–"
		if s.PaperTable5 != nil {
			paper = fmt.Sprintf("%.3f", *s.PaperTable5)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3e\t%.3e\t%.3e\t%s\t%.1f\t\n", s.Sampler, s.N, s.Latent, s.PM1, s.Unit, paper, s.Seconds)
	}
	return tw.Flush()
}

func sum(v []int) int {
	s := 0
	for _, x := range v {
		s += x
	}
	return s
}
