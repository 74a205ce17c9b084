package belm

import "fmt"

// CoeffRow is one step of a pass with its coefficients, as `belm coeffs` prints them.
// Names are relative to i, the newest known level (x_i): a sampling step produces x_{i−1},
// an inversion step x_{i+1}; h_i = σ̄_i − σ̄_{i−1} and h_{i+1} = σ̄_{i+1} − σ̄_i.
type CoeffRow struct {
	Dir   string             `json:"direction"`
	Step  int                `json:"step"`
	T     float64            `json:"t"`      // network timestep of x_i (−1: the clean endpoint)
	TNext float64            `json:"t_next"` // network timestep of the produced latent (−1: clean)
	Hi    float64            `json:"h_i"`
	Hnext float64            `json:"h_i+1"`
	Coef  map[string]float64 `json:"coefficients"`
	Names []string           `json:"-"` // the coefficient names in display order
}

// CoeffTable is the table CoefficientTable returns: a sampling pass, then an inversion.
// Its String is an aligned text table, as `belm coeffs` prints it; its JSON is the list of rows.
type CoeffTable []CoeffRow

// CoefficientTable lists the steps of a sampling pass from noise (x_N alone) and of a full
// inversion over g, with each step's coefficients computed exactly as the runner uses them.
func CoefficientTable(s Sampler, g *Grid) (CoeffTable, error) {
	var rows CoeffTable
	n := g.N()
	tOf := func(l int) float64 {
		if g.Levels[l] == Clean {
			return -1
		}
		return g.Levels[l].T
	}
	h := func(i int) float64 {
		if i < 1 || i > n {
			return 0
		}
		return g.H(i)
	}
	for _, dir := range []Direction{Sampling, Inversion} {
		if err := s.Validate(dir); err != nil {
			return nil, err
		}
		for k := 0; k < n; k++ {
			i, target := n-k, n-k-1 // sampling: from the newest level i down
			if dir == Inversion {
				i, target = k, k+1
			}
			names, values, err := stepCoefficients(s, g, k, i, target, dir)
			if err != nil {
				return nil, fmt.Errorf("%s step %d: %w", dir, k, err)
			}
			row := CoeffRow{Dir: dir.String(), Step: k, T: tOf(i), TNext: tOf(target), Hi: h(i), Hnext: h(i + 1), Coef: map[string]float64{}, Names: names}
			for j, name := range names {
				row.Coef[name] = values[j]
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// coefficientReporter is a sampler whose steps are not Multistep relations and that names
// its own coefficients (EDICT: a_i, b_i, p).
type coefficientReporter interface {
	stepCoefficients(g *Grid, from, to int) (names []string, values []float64)
}

// stepCoefficients returns the named coefficients of step k of a pass (from the newest known
// level i to target): the sampler's own, or those of its relation, with every latent of the
// window (oldest first) and every nonzero ε term.
func stepCoefficients(s Sampler, g *Grid, k, i, target int, dir Direction) ([]string, []float64, error) {
	if cr, ok := s.(coefficientReporter); ok {
		names, values := cr.stepCoefficients(g, i, target)
		return names, values, nil
	}
	ms, ok := s.(Multistep)
	if !ok {
		return nil, nil, fmt.Errorf("no coefficient table for %s", s.Name())
	}
	w := min(s.Window(), k+1)
	lo := target
	if dir == Inversion {
		lo = target - w
	}
	ex, err := ms.Relation(g, lo, w, dir).Solve(target)
	if err != nil {
		return nil, nil, err
	}
	level := func(j int) int { // the window's j-th newest latent, j = 1 … w
		if dir == Inversion {
			return i - j + 1
		}
		return i + j - 1
	}
	var names []string
	var values []float64
	for j := w; j >= 1; j-- { // oldest first
		names, values = append(names, "x_"+rel(level(j)-i)), append(values, ex.A[level(j)-ex.Lo])
	}
	for j := w; j >= 1; j-- {
		if c := ex.C[level(j)-ex.Lo]; c != 0 {
			names, values = append(names, "eps_"+rel(level(j)-i)), append(values, c)
		}
	}
	return names, values, nil
}

// rel names level i+d: "i", "i+1", "i-1".
func rel(d int) string {
	switch {
	case d == 0:
		return "i"
	case d > 0:
		return fmt.Sprintf("{i+%d}", d)
	}
	return fmt.Sprintf("{i%d}", d)
}
