// Package nb holds what every notebook cell needs: stopping a cell on an error with one
// readable line, showing a batch of images as a grid, and interactive parameters, so that a
// notebook's setup cell is its imports and settings.
//
//	import . "github.com/belmlab/workbench/viz/nb"
//	%%
//	g := Must(sched.Grid(10))
//
// A failing call prints "error: …" once, under the cell that failed (GoNB shows a program's
// output under the cell that ran it), and stops the cell's program with exit status 1: no
// panic, so no goroutine dump repeating the message and pointing at the cell that defined
// the helper instead of the one that failed.
//
// # Interactive parameters
//
// Interact shows what a function writes to its *Out for the values of some controls —
// Slider, Select, Checks, SamplerSelect, SamplerChecks (GoNB's gonbui/widgets) — and, in a
// live Jupyter page, calls it again whenever a control changes, replacing its output in
// place, until Done (or ■). Without a live page (nbconvert, go test) it calls the function
// once with the defaults and returns, so a headless run prints what the defaults give:
//
//	n := Slider("N", 2, 50, 1, 10)
//	samplers := SamplerChecks("samplers", "ddim", "belm")
//	Interact(func(out *Out) {
//		out.Show(Must(figures.Trajectories(figures.Config{Steps: []int{n.Value()}, Samplers: samplers.Values()})))
//	}, n, samplers)
//
// What a slider samples from is computed once by belm/study (InvertPair for a λ slider
// between two inverted images, SamplePath for a step slider over a sampling pass).
package nb

import (
	"fmt"
	"io"
	"os"

	"github.com/belmlab/workbench/viz"
)

// exit and stderr are replaced by the tests.
var (
	exit             = os.Exit
	stderr io.Writer = os.Stderr
)

// Must returns v, or stops the cell when err is not nil.
func Must[T any](v T, err error) T {
	if err != nil {
		fail(err)
	}
	return v
}

// Must2 is Must for calls that return two values and an error.
func Must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		fail(err)
	}
	return a, b
}

// Check stops the cell when err is not nil.
func Check(err error) {
	if err != nil {
		fail(err)
	}
}

// fail reports err once and stops; inside a live call of Interact it hands err back to
// Interact instead, which shows it and keeps the controls live.
func fail(err error) {
	if liveCall.Load() {
		panic(failure{err})
	}
	fmt.Fprintf(stderr, "error: %v\n", err)
	exit(1)
}

// ShowImages tiles images — flat NCHW values in [−1, 1], each of shape [C, H, W] — cols to a
// row, with optional row labels, and shows the grid inline (nothing outside a notebook).
func ShowImages(x []float64, shape []int, cols int, rowLabels ...string) error {
	img, err := imageGrid("ShowImages", x, shape, viz.GridOptions{Cols: cols, RowLabels: rowLabels})
	if err != nil {
		return err
	}
	viz.ShowImage(img)
	return nil
}
