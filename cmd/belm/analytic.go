package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/study"
)

func init() {
	register("coeffs", "print every step's timesteps, step sizes and coefficients (sampling and inversion)", runCoeffs)
	register("roundtrip", "invert then reconstruct analytic data: error per sampler and N", runRoundTrip)
	register("order", "fit the LTE and global-error orders on an analytic model", runOrder)
}

func runCoeffs(args []string) error {
	fs := newFlagSet("coeffs")
	var sf scheduleFlags
	sf.register(fs, "scaled_linear", "linspace")
	n := fs.Int("num_inference_steps", 10, between(1, 1000), "number of steps N")
	sampler := fs.NonEmpty("sampler_type", "belm", "one of: "+registeredSamplers())
	var gamma, p float64
	samplerOptionFlags(fs, &gamma, &p, belm.DefaultSamplerOptions)
	format := fs.formatFlag("output format")
	if err := fs.parse(args); err != nil {
		return err
	}
	sc, err := sf.schedule()
	if err != nil {
		return err
	}
	s, err := belm.ParseSampler(*sampler, belm.SamplerOptions{BDIAGamma: gamma, EDICTP: p})
	if err != nil {
		return err
	}
	sched, err := belm.NewSchedule(sc)
	if err != nil {
		return err
	}
	g, err := sched.Grid(*n)
	if err != nil {
		return err
	}
	rows, err := belm.CoefficientTable(s, g)
	if err != nil {
		return err
	}
	if *format == "json" {
		return writeJSON(os.Stdout, map[string]any{"sampler": s.Name(), "scheduler": sc, "num_inference_steps": *n, "timesteps": g.Timesteps(), "steps": rows})
	}
	fmt.Printf("%s, %s/%s, N=%d, timesteps %v (t=-1: the clean endpoint α=1, σ=0)\n", s.Name(), sc.BetaSchedule, sc.TimestepSpacing, *n, g.Timesteps())
	var tw = table(os.Stdout)
	for i, r := range rows {
		if i == 0 || r.Dir != rows[i-1].Dir {
			tw.Flush()
			fmt.Printf("\n%s (a step from x_i produces x_%s):\n", r.Dir, map[string]string{"sampling": "{i-1}", "inversion": "{i+1}"}[r.Dir])
		}
		if i == 0 || r.Dir != rows[i-1].Dir || !slices.Equal(r.Names, rows[i-1].Names) {
			fmt.Fprintf(tw, "step\tt\tt_next\th_i\th_{i+1}\t%s\t\n", strings.Join(r.Names, "\t"))
		}
		fmt.Fprintf(tw, "%d\t%g\t%g\t%.9g\t%.9g\t", r.Step, r.T, r.TNext, r.Hi, r.Hnext)
		for _, n := range r.Names {
			fmt.Fprintf(tw, "%.9g\t", r.Coef[n])
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func runRoundTrip(args []string) error {
	fs := newFlagSet("roundtrip")
	var cf commonFlags
	cf.register(fs, "ddim,edict,bdia,belm", "10,20,50,100", 1)
	if err := fs.parse(args); err != nil {
		return err
	}
	c, err := cf.common()
	if err != nil {
		return err
	}
	res, err := study.RoundTrip(c, cf.samplers(), *cf.steps)
	if err != nil {
		return err
	}
	if *cf.format == "json" {
		err = writeJSON(os.Stdout, map[string]any{"model": c.Model, "dim": c.D, "batch_size": c.Batch, "scheduler": c.Schedule, "results": res})
	} else {
		fmt.Printf("round trip (invert, then sample back) on %s data, D=%d, %d points, %s/%s, %s; errors relative to max|x0|\n",
			c.Model, c.D, c.Batch, c.Schedule.BetaSchedule, c.Schedule.TimestepSpacing, c.DType)
		err = study.WriteRoundTripTable(os.Stdout, res)
	}
	if err != nil {
		return err
	}
	return failedPasses(res)
}

// failedPasses is an error naming the passes of a round-trip study that failed (their rows
// say so in the output too), so that a script sees the failure in the exit status.
func failedPasses(res []study.RoundTripResult) error {
	var failed []string
	for _, r := range res {
		if r.Err != "" {
			failed = append(failed, fmt.Sprintf("%s N=%d: %s", r.Sampler, r.N, r.Err))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d passes failed:\n  %s", len(failed), len(res), strings.Join(failed, "\n  "))
}

func runOrder(args []string) error {
	fs := newFlagSet("order")
	var cf commonFlags
	cf.register(fs, "ddim,bdia,belm", "20,40,80,160", 2)
	var o study.OrderConfig
	fs.Float64Var(&o.SigmaStar, "lte_sigma_bar", 0.5, above(0), "σ̄ at which the LTE is measured")
	fs.Float64Var(&o.HMin, "lte_h_min", 0.002, above(0), "smallest step size h of the LTE study")
	fs.Float64Var(&o.HMax, "lte_h_max", 0.05, above(0), "largest step size h of the LTE study")
	fs.Float64Var(&o.Ratio, "lte_ratio", 1.3, above(1), "ratio of consecutive steps h_{i+1}/h_i in the LTE study")
	fs.Float64Var(&o.SigmaMax, "sigma_bar_max", 10, above(0), "σ̄ at which global-error sampling starts")
	fs.Float64Var(&o.Rho, "rho", 2, above(0), "power of the global-error grid σ̄_i = σ̄max (i/N)^ρ")
	fs.check(func() error {
		if o.HMax <= o.HMin {
			return fmt.Errorf("--lte_h_max %g must exceed --lte_h_min %g: the LTE slope is fitted over step sizes between them", o.HMax, o.HMin)
		}
		return nil
	})
	if err := fs.parse(args); err != nil {
		return err
	}
	c, err := cf.common()
	if err != nil {
		return err
	}
	o.Ns = *cf.steps
	if !fs.given("batch_size") {
		c.Batch = 8 // orders need few trajectories
	}
	res, err := study.Orders(c, o, cf.samplers())
	if err != nil {
		return err
	}
	if *cf.format == "json" {
		return writeJSON(os.Stdout, map[string]any{"model": c.Model, "dim": c.D, "results": res})
	}
	fmt.Printf("orders on %s data, D=%d (LTE: log τ vs log h, expected DDIM 2, BDIA 2, O-BELM 3; global: −log error vs log N, expected DDIM 1, O-BELM 2)\n", c.Model, c.D)
	return study.WriteOrderTable(os.Stdout, res)
}
