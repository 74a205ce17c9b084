package figures

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"gonum.org/v1/plot"

	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/viz"
)

// StudyPoint is one sampler and N of a study on a real model: a row of the
// reconstruction.json that `belm reconstruct` writes (Value: the MSE on the [−1, 1] scale)
// or of the frechet.json of `belm frechet` (Value: the Fréchet distance).
type StudyPoint struct {
	Sampler string
	N       int
	Value   float64
}

// StudyMeta is what a reconstruction.json or frechet.json records beside its rows: the
// run's settings (zero where the file has no such entry).
type StudyMeta struct {
	ModelID   string  `json:"model_id"`
	Backend   string  `json:"backend"`
	DType     string  `json:"dtype"`
	BDIAGamma float64 `json:"bdia_gamma"`
	EDICTP    float64 `json:"edict_p"`
	Seed      uint64  `json:"seed"`
	Images    int     `json:"images"`      // reconstruction.json: the images reconstructed
	Samples   int     `json:"num_samples"` // frechet.json: the samples per sampler and N
	// DataFloor (frechet.json) is the Fréchet distance between two sets of real images,
	// what a perfect sampler would score; nil when the file has none.
	DataFloor *DataFloor `json:"data_floor"`
}

// DataFloor is the Fréchet distance of real images against real images, and which.
type DataFloor struct {
	FrechetDistance float64 `json:"frechet_distance"`
	What            string  `json:"what"`
}

// ReadStudy reads the points of a reconstruction.json or frechet.json, and the run's
// settings recorded beside them.
func ReadStudy(path string) ([]StudyPoint, StudyMeta, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, StudyMeta{}, err
	}
	type row struct {
		Sampler string   `json:"sampler"`
		N       int      `json:"num_inference_steps"`
		MSE     *float64 `json:"mse_pm1"`
		FD      *float64 `json:"frechet_distance"`
	}
	var doc struct {
		StudyMeta
		Summary []row `json:"summary"`
		Results []row `json:"results"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, StudyMeta{}, fmt.Errorf("%s: %w", path, err)
	}
	var pts []StudyPoint
	for _, r := range append(doc.Summary, doc.Results...) {
		switch {
		case r.MSE != nil:
			pts = append(pts, StudyPoint{r.Sampler, r.N, *r.MSE})
		case r.FD != nil:
			pts = append(pts, StudyPoint{r.Sampler, r.N, *r.FD})
		}
	}
	if len(pts) == 0 {
		return nil, StudyMeta{}, fmt.Errorf("%s: no rows with mse_pm1 or frechet_distance (a reconstruction.json or frechet.json?)", path)
	}
	return pts, doc.StudyMeta, nil
}

// StudyVsSteps draws a real-model study against N, one curve per sampler in the order met,
// log-log (viz figure 1). Curves that stay below 1e-4 (exact inversion in float32) and
// all curves when slopes is false show no fitted slope.
func StudyVsSteps(points []StudyPoint, slopes bool, o viz.Options) (*plot.Plot, error) {
	curves := curvesBySampler(len(points), func(i int) (string, float64, float64) {
		return points[i].Sampler, float64(points[i].N), points[i].Value
	})
	hideSlopesBelow(curves, 1e-4)
	for i := range curves {
		if !slopes {
			curves[i].Slope = math.NaN()
		}
	}
	return viz.ErrorVsSteps(curves, o)
}

// DrawLatentReconstruction is reconstruction_latent: each sampler's reconstruction error in
// the space the model works in (the latent MSE, the paper's Table 5 metric for Stable
// Diffusion) against N, log-log; NAME.json holds the summaries.
func DrawLatentReconstruction(r study.ReconstructionResult) (Figure, error) {
	sums := r.Summaries()
	pts := make([]StudyPoint, len(sums))
	for i, s := range sums {
		pts[i] = StudyPoint{s.Sampler, s.N, s.Latent}
	}
	p, err := StudyVsSteps(pts, true, viz.Options{Title: "Reconstruction error in latent space (invert, then sample back)",
		YLabel: "latent MSE", XLabel: "steps N"})
	if err != nil {
		return Figure{}, err
	}
	return Figure{Name: "reconstruction_latent", Plot: p}.withData(sums)
}
