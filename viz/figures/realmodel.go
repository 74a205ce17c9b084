package figures

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"gonum.org/v1/plot"

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

// ReadStudy reads the points of a reconstruction.json or frechet.json, and the file's
// other top-level entries (model, backend, γ, p, …).
func ReadStudy(path string) ([]StudyPoint, map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	type row struct {
		Sampler string   `json:"sampler"`
		N       int      `json:"num_inference_steps"`
		MSE     *float64 `json:"mse_pm1"`
		FD      *float64 `json:"frechet_distance"`
	}
	var doc struct {
		Summary []row `json:"summary"`
		Results []row `json:"results"`
	}
	var meta map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	delete(meta, "summary")
	delete(meta, "results")
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
		return nil, nil, fmt.Errorf("%s: no rows with mse_pm1 or frechet_distance (a reconstruction.json or frechet.json?)", path)
	}
	return pts, meta, nil
}

// StudyVsSteps draws a real-model study against N, one curve per sampler in the order met,
// log-log (viz figure 1). Curves that stay below 1e-4 (exact inversion in float32) and
// all curves when slopes is false show no fitted slope.
func StudyVsSteps(points []StudyPoint, slopes bool, o viz.Options) (*plot.Plot, error) {
	var curves []viz.Curve
	index := map[string]int{}
	for _, p := range points {
		i, ok := index[p.Sampler]
		if !ok {
			i = len(curves)
			index[p.Sampler] = i
			curves = append(curves, viz.Curve{Sampler: p.Sampler})
		}
		curves[i].X = append(curves[i].X, float64(p.N))
		curves[i].Y = append(curves[i].Y, p.Value)
	}
	for i := range curves {
		worst := 0.0
		for _, y := range curves[i].Y {
			worst = math.Max(worst, y)
		}
		if !slopes || worst < 1e-4 {
			curves[i].Slope = math.NaN()
		}
	}
	return viz.ErrorVsSteps(curves, o)
}
