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

// runFigures writes every figure into --out as one set: they are staged and moved into
// --out only when all are written, so a run that fails part-way leaves --out as it was.
func runFigures(args []string) error {
	fs := newFlagSet("figures")
	out := fs.String("out", "out/figures", "output directory")
	var cf commonFlags
	cf.register(fs, "ddim,edict,bdia,belm", "10,20,50,100", 1)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := checkOutputDir("out", *out); err != nil {
		return err
	}
	c, err := cf.common()
	if err != nil {
		return err
	}
	start := time.Now()
	c.Progress = nil
	bar := newProgress(os.Stderr)
	update := func(done, total int, what string) {
		if cf.quiet {
			return
		}
		if !bar.tty { // a line a figure: few, and each takes a while
			fmt.Fprintf(os.Stderr, "[%d/%d] %s\n", done, total, what)
			return
		}
		bar.update(done, total, what)
	}
	stage, err := atomicfile.Stage(*out)
	if err != nil {
		return err
	}
	times, err := figures.All(figures.Config{Common: c, Steps: *cf.steps, Samplers: cf.samplers()}, stage.Path(), update)
	if err == nil {
		err = stage.Commit()
	}
	if err != nil {
		stage.Abort()
		return fmt.Errorf("%w (nothing was written to %s)", err, *out)
	}
	if *cf.format == "json" {
		return writeJSON(os.Stdout, map[string]any{"out": *out, "seconds": time.Since(start).Seconds(), "steps": times})
	}
	for _, t := range times {
		fmt.Printf("%-32s %6.2f s\n", t.Name, t.Seconds)
	}
	fmt.Printf("wrote the figures to %s in %.1f s\n", *out, time.Since(start).Seconds())
	return nil
}
