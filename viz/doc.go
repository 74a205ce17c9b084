// Package viz draws the figures of the workbench: every result of the core
// (package belm) gets a picture, rendered with gonum/plot to PNG and SVG,
// shown inline in GoNB notebooks (Show) and written to files by the CLI
// (Save). viz never samples: each figure is a function from plain data
// (slices and the small structs below) to a *plot.Plot or an image. It uses
// belm only for the slope fit, so legends show the numbers the studies report;
// package viz/figures joins the two.
//
// # Figures
//
//	ErrorVsSteps     reconstruction or sampling error against N, log-log, fitted slopes (1)
//	LTEOrder         local truncation error against h, log-log, reference slopes 2 and 3 (2)
//	Precision        round-trip error against N, float64 solid, float32 dashed (3)
//	NoiseHistogram   density of the inverted x_N against N(0,1), std per sampler (4)
//	ImageGrid        a batch of images as a labelled grid (5)
//	InterpolationGrid rows = pairs, columns = interpolation weights λ (5)
//	Trajectories     2-D sampling and inversion paths over the data density (6)
//	CoefficientPlot  the O-BELM coefficients A, B, C of x_{i−1} = A·x_{i+1} + B·x_i + C·ε (7)
//
// Each sampler ("ddim", "edict", "bdia", "belm" for O-BELM, "belm3" or
// "belm-k3" for k-step BELM) has one colour, one marker and one display
// label in every figure: SamplerColor, SamplerLabel. Options sets titles,
// axis labels, the floor of log axes and reference slopes; its zero value
// gives the defaults.
//
// # Log-log figures
//
// The error of an exact inversion is 0, which a log axis cannot show
// (gonum/plot's LogScale panics on it). Values ≤ 0 are drawn at a floor, a
// decade below the smallest positive value unless Options.Floor says
// otherwise, with a hollow ▼ marker and a dotted line that the legend
// explains ("0 (exact), drawn at 1e−17"). Non-finite values are left out and
// their curve is marked "(diverged)". The legend gives each curve's slope,
// fitted by FitLogLogSlope, unless the curve diverges or has exact zeros
// (Curve.Slope overrides it). The legend sits right of the data, never on it.
//
// Log-log figures plot log10 of the values on linear axes labelled as log
// axes (gonum/plot's log axes also misplace the axis labels' padding). To add
// your own plotter to such a figure, give it log10 coordinates.
//
// # Output
//
//	b, err := viz.PNG(p, 0, 0)          // 0, 0: DefaultWidth × DefaultHeight (7 × 4.5 in, 672 × 432 px at 96 dpi)
//	b, err = viz.SVG(p, 0, 0)
//	err = viz.Save(p, "out", "lte", 0, 0) // out/lte.png and out/lte.svg, each written to a temporary file and renamed
//	err = viz.SaveImagePNG(grid, "out/samples.png")
//	viz.Show(p)                         // inline in GoNB (then gonbui.Sync); does nothing elsewhere
//	viz.ShowImage(grid)
//
// Text uses Liberation Sans, built into gonum/plot; σ̄ and x̂ are written
// with combining marks, which viz places over their letter in PNGs (SVG
// viewers shape text themselves). Liberation has no subscript minus/plus or
// superscript minus, so viz draws subscripts itself: x_{i+1}, a single-letter x_i at
// the end of a word, and Unicode subscripts (xᵢ₋₁) come out lowered and smaller in
// PNG and SVG alike; exponents are written 1e−16.
//
// To look at every figure with made-up data:
//
//	VIZ_OUT=/tmp/viz go test -run WriteFigures ./viz/
package viz
