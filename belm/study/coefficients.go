package study

import (
	"github.com/belmlab/workbench/belm"
)

// OBELMStep is one sampling step of O-BELM written as the paper's Eq. 18,
// x_{i−1} = A·x_{i+1} + B·x_i + C·ε_θ(x_i, t_i), with i the newest known level.
type OBELMStep struct {
	Step      int     // the step's index in the pass (1 … N−1; step 0 is the DDIM bootstrap)
	T, TNext  float64 // network timesteps of x_i and of the produced x_{i−1} (−1: clean)
	Hi, Hnext float64 // h_i = σ̄_i − σ̄_{i−1} and h_{i+1} = σ̄_{i+1} − σ̄_i
	A, B, C   float64 // the coefficients of x_{i+1}, x_i and ε
}

// CoefficientResult is O-BELM's coefficient table on a schedule's grid with N steps.
type CoefficientResult struct {
	N        int
	Schedule belm.SchedulerConfig
	// Rows are every step of a sampling pass and of an inversion, as `belm coeffs` lists
	// them (belm.CoefficientTable).
	Rows []belm.CoeffRow
}

// OBELMCoefficients tabulates O-BELM's coefficients on the grid of c's schedule with n
// steps. Only the schedule of c matters: O-BELM has no γ or p, and the coefficients are
// host float64 whatever c.DType says.
func OBELMCoefficients(c Common, n int) (CoefficientResult, error) {
	c = c.defaults()
	g, err := c.Grid(n)
	if err != nil {
		return CoefficientResult{}, err
	}
	rows, err := belm.CoefficientTable(belm.OBELM{}, g)
	if err != nil {
		return CoefficientResult{}, err
	}
	return CoefficientResult{N: n, Schedule: c.Schedule, Rows: rows}, nil
}

// Eq18 are the sampling steps after the DDIM bootstrap, in Eq. 18's form.
func (r CoefficientResult) Eq18() []OBELMStep {
	var out []OBELMStep
	for _, row := range r.Rows {
		if row.Dir != belm.Sampling.String() || row.Step == 0 {
			continue
		}
		out = append(out, OBELMStep{Step: row.Step, T: row.T, TNext: row.TNext, Hi: row.Hi, Hnext: row.Hnext,
			A: row.Coef["x_{i+1}"], B: row.Coef["x_i"], C: row.Coef["eps_i"]})
	}
	return out
}
