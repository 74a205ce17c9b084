package main

import (
	"fmt"
	"os"
	"time"

	"github.com/belmlab/workbench/internal/atomicfile"
	"github.com/belmlab/workbench/viz/figures"
)

func init() {
	register("figures", "regenerate every figure (PNG + SVG + CSV/JSON) from the analytic models", runFigures)
}

// figuresFlags are the flags of `belm figures`: --out, and the analytic studies' flags.
type figuresFlags struct {
	fs  *flagSet
	out *string
	cf  commonFlags
}

// parseFiguresFlags parses args into the figures' Config: every schedule flag, --bdia_gamma,
// --edict_p, --dtype, --backend and the analytic model's flags through study.Common, the
// step counts, and --sampler_type only when given (unset, each figure compares its own set
// of samplers: see figures.Config.Samplers).
func parseFiguresFlags(args []string) (*figuresFlags, figures.Config, error) {
	f := &figuresFlags{fs: newFlagSet("figures")}
	f.out = f.fs.String("out", "out/figures", "output directory")
	f.cf.register(f.fs, "ddim,edict,bdia,belm", "10,20,50,100", 1)
	if err := f.fs.parse(args); err != nil {
		return nil, figures.Config{}, err
	}
	if err := checkOutputDir("out", *f.out); err != nil {
		return nil, figures.Config{}, err
	}
	c, err := f.cf.common()
	if err != nil {
		return nil, figures.Config{}, err
	}
	c.Progress = nil // All reports a line a figure instead
	fc := figures.Config{Common: c, Steps: *f.cf.steps}
	if f.fs.given("sampler_type") {
		fc.Samplers = f.cf.samplers()
	}
	return f, fc, nil
}

// runFigures writes every figure into --out as one set: they are staged and moved into
// --out only when all are written, so a run that fails part-way leaves --out as it was.
func runFigures(args []string) error {
	f, c, err := parseFiguresFlags(args)
	if err != nil {
		return err
	}
	start := time.Now()
	bar := newProgress(os.Stderr)
	update := func(done, total int, what string) {
		if f.cf.quiet {
			return
		}
		if !bar.tty { // a line a figure: few, and each takes a while
			fmt.Fprintf(os.Stderr, "[%d/%d] %s\n", done, total, what)
			return
		}
		bar.update(done, total, what)
	}
	stage, err := atomicfile.Stage(*f.out)
	if err != nil {
		return err
	}
	times, err := figures.All(c, stage.Path(), update)
	if err == nil {
		err = stage.Commit()
	}
	if err != nil {
		stage.Abort()
		return fmt.Errorf("%w (nothing was written to %s)", err, *f.out)
	}
	if *f.cf.format == "json" {
		return writeJSON(os.Stdout, map[string]any{"out": *f.out, "seconds": time.Since(start).Seconds(), "steps": times})
	}
	for _, t := range times {
		fmt.Printf("%-32s %6.2f s\n", t.Name, t.Seconds)
	}
	fmt.Printf("wrote the figures to %s in %.1f s\n", *f.out, time.Since(start).Seconds())
	return nil
}
