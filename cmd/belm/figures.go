package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/belmlab/workbench/viz/figures"
)

func init() {
	register("figures", "regenerate every figure (PNG + SVG + CSV/JSON) from the analytic models", runFigures)
}

func runFigures(args []string) error {
	fs := flag.NewFlagSet("figures", flag.ContinueOnError)
	out := fs.String("out", "out/figures", "output directory")
	var cf commonFlags
	cf.register(fs, "ddim,edict,bdia,belm", "10,20,50,100")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c, err := cf.common()
	if err != nil {
		return err
	}
	ns, err := cf.stepCounts()
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
		if !bar.on {
			fmt.Fprintf(os.Stderr, "[%d/%d] %s\n", done, total, what)
		}
		bar.update(done, total, what)
	}
	times, err := figures.All(figures.Config{Common: c, Steps: ns, Samplers: cf.samplers()}, *out, update)
	if err != nil {
		return err
	}
	if cf.format == "json" {
		return writeJSON(os.Stdout, map[string]any{"out": *out, "seconds": time.Since(start).Seconds(), "steps": times})
	}
	for _, t := range times {
		fmt.Printf("%-32s %6.2f s\n", t.Name, t.Seconds)
	}
	fmt.Printf("wrote the figures to %s in %.1f s\n", *out, time.Since(start).Seconds())
	return nil
}
