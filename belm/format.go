package belm

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The String methods of the types people print (in notebooks, in test failures): a level on
// one line, grids and coefficient tables as aligned text tables. Numbers have 9 significant
// digits, as `belm coeffs` and the spec's test vectors print them.

// String writes the level on one line: "t=888 α=0.376… σ=0.926… σ̄=2.46…", the clean
// endpoint as "clean (α=1, σ=0, σ̄=0)"; a level of a continuous grid (no network timestep)
// has no t.
func (l Level) String() string {
	if l == Clean {
		return "clean (α=1, σ=0, σ̄=0)"
	}
	t := ""
	if !math.IsNaN(l.T) {
		t = "t=" + num(l.T) + " "
	}
	return fmt.Sprintf("%sα=%s σ=%s σ̄=%s", t, num(l.Alpha), num(l.Sigma), num(l.SigmaBar()))
}

// String writes the grid as a table of its levels i = 0 … N (the least noisy first): network
// timestep t ("clean" at the clean endpoint, "-" on continuous grids), α, σ, σ̄ and the step
// h_i = σ̄_i − σ̄_{i−1}; then the levels whose ε is evaluated at another network time (Net).
func (g *Grid) String() string {
	if g == nil {
		return "<nil grid>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "grid of %d steps: levels i = 0 … %d, σ̄ from %s to %s (sampling walks i = %d → 0, inversion 0 → %d)\n",
		g.N(), g.N(), num(g.SigmaBar(0)), num(g.SigmaBar(g.N())), g.N(), g.N())
	rows := make([][]string, len(g.Levels))
	for i, l := range g.Levels {
		h := ""
		if i > 0 {
			h = num(g.H(i))
		}
		rows[i] = []string{fmt.Sprint(i), levelTime(l), num(l.Alpha), num(l.Sigma), num(l.SigmaBar()), h}
	}
	b.WriteString(alignedTable([]string{"i", "t", "α", "σ", "σ̄", "h_i"}, rows))
	b.WriteString("h_i = σ̄_i − σ̄_{i−1}\n")
	for i := range g.Net {
		if i < len(g.Levels) && !sameLevel(g.Net[i], g.Levels[i]) {
			fmt.Fprintf(&b, "ε at level %d is evaluated at %s\n", i, g.Net[i])
		}
	}
	return b.String()
}

// sameLevel is == with NaN timesteps (continuous grids) equal.
func sameLevel(a, b Level) bool {
	return a.Alpha == b.Alpha && a.Sigma == b.Sigma && (a.T == b.T || math.IsNaN(a.T) && math.IsNaN(b.T))
}

func levelTime(l Level) string {
	switch {
	case l == Clean:
		return "clean"
	case math.IsNaN(l.T):
		return "-"
	}
	return num(l.T)
}

// String writes the row on one line: "sampling step 1: t 888 → 777, h_i = …, h_{i+1} = …,
// x_{i+1} = …, x_i = …, eps_i = …" (t −1 is written "clean").
func (r CoeffRow) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s step %d: t %s → %s, h_i = %s, h_{i+1} = %s", r.Dir, r.Step, rowTime(r.T), rowTime(r.TNext), num(r.Hi), num(r.Hnext))
	for _, name := range r.names() {
		fmt.Fprintf(&b, ", %s = %s", name, num(r.Coef[name]))
	}
	return b.String()
}

// names are the coefficient names in display order: Names, or the sorted keys of Coef when
// Names is empty (a row read back from JSON).
func (r CoeffRow) names() []string {
	if len(r.Names) > 0 {
		return r.Names
	}
	names := make([]string, 0, len(r.Coef))
	for k := range r.Coef {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// rowTime writes a CoeffRow timestep: −1 is the clean endpoint.
func rowTime(t float64) string {
	if t == -1 {
		return "clean"
	}
	return num(t)
}

// String writes the table as `belm coeffs` does: one aligned table per direction, its header
// repeated where the coefficients change (DDIM's bootstrap step, then the multistep steps).
// Headers are the keys of CoeffRow.Coef; t "clean" is the clean endpoint.
func (tab CoeffTable) String() string {
	var b strings.Builder
	for start := 0; start < len(tab); {
		end := start + 1
		for end < len(tab) && tab[end].Dir == tab[start].Dir && slices.Equal(tab[end].names(), tab[start].names()) {
			end++
		}
		if start == 0 || tab[start].Dir != tab[start-1].Dir {
			if start > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "%s (a step from x_i produces x_%s):\n", tab[start].Dir,
				map[string]string{"sampling": "{i-1}", "inversion": "{i+1}"}[tab[start].Dir])
		}
		names := tab[start].names()
		header := append([]string{"step", "t", "t_next", "h_i", "h_{i+1}"}, names...)
		rows := make([][]string, 0, end-start)
		for _, r := range tab[start:end] {
			row := []string{fmt.Sprint(r.Step), rowTime(r.T), rowTime(r.TNext), num(r.Hi), num(r.Hnext)}
			for _, n := range names {
				row = append(row, num(r.Coef[n]))
			}
			rows = append(rows, row)
		}
		b.WriteString(alignedTable(header, rows))
		start = end
	}
	return b.String()
}

// String summarises the schedule on one line: its betas, training timesteps, spacing,
// prediction type and the range of ᾱ.
func (s *Schedule) String() string {
	if s == nil {
		return "<nil schedule>"
	}
	c := s.Config
	betas := fmt.Sprintf("%s β %s → %s", c.BetaSchedule, num(c.BetaStart), num(c.BetaEnd))
	switch {
	case len(c.TrainedBetas) > 0:
		betas = "given betas"
	case c.BetaSchedule == "squaredcos_cap_v2":
		betas = c.BetaSchedule
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %d training timesteps, %s spacing", betas, c.NumTrainTimesteps, c.TimestepSpacing)
	if c.StepsOffset != 0 {
		fmt.Fprintf(&b, " (steps_offset %d)", c.StepsOffset)
	}
	fmt.Fprintf(&b, ", %s prediction", c.PredictionType)
	if c.Float32 {
		b.WriteString(", float32 arithmetic")
	}
	if n := len(s.AlphasCumprod); n > 0 {
		fmt.Fprintf(&b, "; ᾱ from %s (t=0) to %s (t=%d)", num(s.AlphasCumprod[0]), num(s.AlphasCumprod[n-1]), n-1)
	}
	return b.String()
}

// num writes a number with 9 significant digits, in Go syntax (an ASCII minus: a value copied
// from a table into code parses).
func num(v float64) string { return strconv.FormatFloat(v, 'g', 9, 64) }

// alignedTable writes a header and rows as right-aligned columns two spaces apart, each line
// ending in a newline. Widths count what a monospace font shows: a combining mark (the bar of
// σ̄) takes no column. (text/tabwriter counts runes, so it would misalign σ̄.)
func alignedTable(header []string, rows [][]string) string {
	all := append([][]string{header}, rows...)
	var widths []int
	for _, row := range all {
		for j, cell := range row {
			if j == len(widths) {
				widths = append(widths, 0)
			}
			widths[j] = max(widths[j], displayWidth(cell))
		}
	}
	var b strings.Builder
	for _, row := range all {
		var line strings.Builder
		for j, cell := range row {
			if j > 0 {
				line.WriteString("  ")
			}
			line.WriteString(strings.Repeat(" ", widths[j]-displayWidth(cell)))
			line.WriteString(cell)
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// displayWidth is the number of columns s takes in a monospace font: its runes, less the
// combining marks.
func displayWidth(s string) int {
	n := utf8.RuneCountInString(s)
	for _, r := range s {
		if unicode.In(r, unicode.Mn, unicode.Me) {
			n--
		}
	}
	return n
}
