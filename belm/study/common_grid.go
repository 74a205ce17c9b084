package study

import "github.com/belmlab/workbench/belm"

// Defaults returns c with every unset field at the value the studies use: the gaussian
// model, D = 16, a batch of 64, float64, BDIA's γ = 0.96 and EDICT's p = 0.93
// (belm.DefaultSamplerOptions), and the Stable Diffusion schedule (scaled_linear,
// linspace: belm.SDConfig).
func (c Common) Defaults() Common { return c.defaults() }

// Grid is the timestep grid of c's schedule (Defaults' when unset) with n steps.
func (c Common) Grid(n int) (*belm.Grid, error) {
	sched, err := belm.NewSchedule(c.defaults().Schedule)
	if err != nil {
		return nil, err
	}
	return sched.Grid(n)
}
