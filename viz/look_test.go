package viz

import (
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot"
)

// TestWriteFigures writes every figure to $VIZ_OUT (skipped when unset), to
// look at them: VIZ_OUT=/tmp/viz go test -run WriteFigures ./viz/
func TestWriteFigures(t *testing.T) {
	dir := os.Getenv("VIZ_OUT")
	if dir == "" {
		t.Skip("VIZ_OUT not set")
	}
	f64, f32 := precisionCurves()
	figs := map[string]func() (*plot.Plot, error){
		"error":     func() (*plot.Plot, error) { return ErrorVsSteps(errorCurves(), Options{}) },
		"lte":       func() (*plot.Plot, error) { return LTEOrder(lteCurves(), Options{}) },
		"precision": func() (*plot.Plot, error) { return Precision(f64, f32, Options{}) },
		"noise":     func() (*plot.Plot, error) { return NoiseHistogram(noiseSamples(), Options{}) },
		"trajectories": func() (*plot.Plot, error) {
			return Trajectories(trajectories(), Density{Points: dataPoints(), Func: mixture}, Options{})
		},
		"coefficients": func() (*plot.Plot, error) { return CoefficientPlot(oBELMCoefficients(), Options{}) },
	}
	for name, f := range figs {
		p, err := f()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := Save(p, dir, name, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	g, err := ImageGrid(testBatch(), GridOptions{RowLabels: []string{"DDIM", "O-BELM"}, ColLabels: []string{"a", "b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveImagePNG(g, filepath.Join(dir, "grid.png")); err != nil {
		t.Fatal(err)
	}
	ig, err := InterpolationGrid(testBatch(), []float64{0, 0.5, 1}, GridOptions{RowLabels: []string{"pair 1", "pair 2"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveImagePNG(ig, filepath.Join(dir, "interpolation.png")); err != nil {
		t.Fatal(err)
	}
}
