package figures

import (
	"fmt"
	"os"
	"time"
)

// Timing records how long a figure took.
type Timing struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// figureStep computes and draws some of the figures.
type figureStep struct {
	what string
	make func() ([]Figure, error)
}

// plan lists the steps of All, in order.
func plan(c Config) []figureStep {
	one := func(f func(Config) (Figure, error)) func() ([]Figure, error) {
		return func() ([]Figure, error) {
			fig, err := f(c)
			return []Figure{fig}, err
		}
	}
	return []figureStep{
		{"round trips (float64, float32)", func() ([]Figure, error) { return RoundTrip(c) }},
		{"LTE and global orders", func() ([]Figure, error) { return Orders(c) }},
		{"coefficients", one(Coefficients)},
		{"2-D trajectories", one(Trajectories)},
		{"sample grid", func() ([]Figure, error) {
			f, err := Samples(c, c.N(), 8, c.SamplersOr(Samplers))
			return []Figure{f}, err
		}},
		{"interpolation grids", func() ([]Figure, error) {
			a, err := Interpolation(c, "belm", c.InterpolationN(), 3)
			if err != nil {
				return nil, err
			}
			b, err := Interpolation(c, "ddim", c.InterpolationN(), 3)
			return []Figure{a, b}, err
		}},
	}
}

// All computes every figure and saves each into dir as soon as it is done; progress, if not
// nil, is told which figure is being computed. It returns the time each step took.
func All(c Config, dir string, progress func(done, total int, what string)) ([]Timing, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	steps := plan(c)
	var times []Timing
	for i, s := range steps {
		if progress != nil {
			progress(i, len(steps), s.what)
		}
		start := time.Now()
		figs, err := s.make()
		if err != nil {
			return times, fmt.Errorf("%s: %w", s.what, err)
		}
		for _, f := range figs {
			if err := f.Save(dir); err != nil {
				return times, fmt.Errorf("saving %s: %w", f.Name, err)
			}
		}
		times = append(times, Timing{Name: s.what, Seconds: time.Since(start).Seconds()})
	}
	if progress != nil {
		progress(len(steps), len(steps), "done")
	}
	return times, nil
}
