package study

import (
	"fmt"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
)

// Explorations: what a slider over a model needs computed once, so that moving it only
// samples (Pair) or only redisplays (Path). Notebooks call them through their controls.

// Pair is two images inverted once with a sampler, to be sampled back at any slerp weight:
// a λ slider's work is then one sampling pass. It is InterpolateImages split in two
// (the same states, pipeline.InterpolateStates, the same sampling), so At(w) is that
// study's image at weight w.
type Pair struct {
	// Images are the two inputs (flat NCHW, [−1, 1]).
	Images  []float64
	p       *pipeline.Pipeline
	s       belm.Sampler
	n       int
	a, b    belm.State
	imgSize int
}

// InvertPair inverts the two images (flat NCHW values in [−1, 1]) with s in n steps.
func InvertPair(p *pipeline.Pipeline, s belm.Sampler, n int, images []float64) (*Pair, error) {
	size := p.ImageSize(1)
	if size == 0 || len(images) != 2*size {
		return nil, fmt.Errorf("InvertPair: %d image values are not two images of %d", len(images), size)
	}
	z, err := p.Encode(images, 2)
	if err != nil {
		return nil, err
	}
	st, err := p.Invert(s, n, z, 2)
	if err != nil {
		return nil, err
	}
	one, err := pipeline.SplitState(st)
	if err != nil {
		return nil, err
	}
	return &Pair{Images: images, p: p, s: s, n: n, a: one[0], b: one[1], imgSize: size}, nil
}

// At samples the slerp of the two inverted states at weight w back to an image (flat NCHW):
// w = 0 and 1 give the inputs back with an exact sampler.
func (q *Pair) At(w float64) ([]float64, error) {
	st, err := pipeline.InterpolateStates(q.a, q.b, []float64{w}, false)
	if err != nil {
		return nil, err
	}
	z, err := q.p.SampleFrom(q.s, q.n, st)
	if err != nil {
		return nil, err
	}
	return q.p.Decode(z, 1)
}

// Row is [first input, the image at w, second input]: what a λ slider shows.
func (q *Pair) Row(w float64) ([]float64, error) {
	x, err := q.At(w)
	if err != nil {
		return nil, err
	}
	row := append([]float64{}, q.Images[:q.imgSize]...)
	row = append(row, x...)
	return append(row, q.Images[q.imgSize:]...), nil
}

// Path is one sampling pass recorded step by step: what a trajectory slider shows.
// Step k (0 … N) is the state after k steps: the latent x at level N−k and the model's
// prediction x̂₀ = (x − σ·ε(x))/α of the clean image from it.
type Path struct {
	Sampler string
	N       int
	Batch   int
	Shape   []int // of one image [C, H, W]
	// Latents[k] and Predictions[k] are the batch's images after k steps (flat NCHW, decoded):
	// Latents[0] is the noise, Latents[N] the samples (= Predictions[N]).
	Latents, Predictions [][]float64
	// Levels[k] is the noise level after k steps.
	Levels []belm.Level
}

// Pictures are the batch's latents after k steps followed by their x̂₀: two rows of a grid.
func (p Path) Pictures(k int) []float64 {
	return append(append([]float64{}, p.Latents[k]...), p.Predictions[k]...)
}

// SamplePath samples batch noises with s in n steps, recording the latent after every step
// (belm.Runner's Observer) and then x̂₀ from each (Pipeline.Eps; the model's prediction
// type is honoured). The samples are Pipeline.Sample's.
func SamplePath(p *pipeline.Pipeline, s belm.Sampler, n int, noise []float64, batch int) (Path, error) {
	g, err := p.Grid(n)
	if err != nil {
		return Path{}, err
	}
	var latents [][]float64
	var obsErr error
	old := p.Runner.Observer
	p.Runner.Observer = func(si belm.StepInfo) {
		if si.Dir != belm.Sampling || obsErr != nil {
			return
		}
		v, err := belm.Values(si.Latent)
		if err != nil {
			obsErr = err
			return
		}
		latents = append(latents, v)
	}
	_, err = p.Sample(s, n, noise, batch)
	p.Runner.Observer = old
	if err == nil {
		err = obsErr
	}
	if err != nil {
		return Path{}, err
	}
	if len(latents) != n {
		return Path{}, fmt.Errorf("SamplePath: %d steps observed, want %d", len(latents), n)
	}
	latents = append([][]float64{noise}, latents...)
	path := Path{Sampler: s.Name(), N: n, Batch: batch, Shape: p.ImageShape()}
	for k, z := range latents {
		level := n - k
		x0, err := predictX0(p, z, batch, g.Levels[level], g.Net[level])
		if err != nil {
			return Path{}, fmt.Errorf("SamplePath: x̂₀ at step %d: %w", k, err)
		}
		img, err := p.Decode(z, batch)
		if err != nil {
			return Path{}, err
		}
		if x0, err = p.Decode(x0, batch); err != nil {
			return Path{}, err
		}
		path.Latents, path.Predictions = append(path.Latents, img), append(path.Predictions, x0)
		path.Levels = append(path.Levels, g.Levels[level])
	}
	return path, nil
}

// predictX0 is the model's prediction of x₀ from the latents z at level lv (network time
// net): z itself at a clean level.
func predictX0(p *pipeline.Pipeline, z []float64, batch int, lv, net belm.Level) ([]float64, error) {
	if lv.Sigma == 0 {
		return z, nil
	}
	x, err := belm.NewTensor(z, p.DType(), p.Shape(batch)...)
	if err != nil {
		return nil, err
	}
	t, err := belm.NewTensor([]float64{net.T}, p.DType(), 1)
	if err != nil {
		return nil, err
	}
	out, err := p.Eps(x, t)
	if err != nil {
		return nil, err
	}
	y, err := belm.Values(out)
	if err != nil {
		return nil, err
	}
	x0 := make([]float64, len(z))
	switch pt := p.Schedule.Config.PredictionType; pt {
	case "", "epsilon":
		for i := range x0 {
			x0[i] = (z[i] - lv.Sigma*y[i]) / lv.Alpha
		}
	case "v_prediction":
		for i := range x0 {
			x0[i] = lv.Alpha*z[i] - lv.Sigma*y[i]
		}
	case "sample":
		copy(x0, y)
	default:
		return nil, fmt.Errorf("prediction type %q", pt)
	}
	return x0, nil
}
