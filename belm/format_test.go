package belm

import (
	"encoding/json"
	"strings"
	"testing"
)

// tableLines returns one aligned table of s: the line that starts (after spaces) with first,
// and the lines after it that start with a space or a digit (rows of right-aligned columns).
func tableLines(t *testing.T, s, first string) []string {
	t.Helper()
	lines := strings.Split(s, "\n")
	for k, l := range lines {
		if !strings.HasPrefix(strings.TrimLeft(l, " "), first) {
			continue
		}
		end := k + 1
		for end < len(lines) && lines[end] != "" && (lines[end][0] == ' ' || lines[end][0] >= '0' && lines[end][0] <= '9') {
			end++
		}
		return lines[k:end]
	}
	t.Fatalf("no table starting with %q in\n%s", first, s)
	return nil
}

// wantAligned checks that every column of a right-aligned table ends at the same display
// column on every line (the header's column ends are taken as the reference).
func wantAligned(t *testing.T, table []string) {
	t.Helper()
	ends := func(l string) []int { // display columns where a cell ends
		var e []int
		col, in := 0, false
		for _, r := range l {
			if displayWidth(string(r)) == 0 {
				continue
			}
			if r == ' ' {
				if in {
					e = append(e, col)
				}
				in = false
			} else {
				in = true
			}
			col++
		}
		if in {
			e = append(e, col)
		}
		return e
	}
	ref := ends(table[0])
	for _, l := range table[1:] {
		got := ends(l)
		if len(got) > len(ref) || !equalInts(got, ref[:len(got)]) {
			t.Errorf("misaligned line (cell ends %v, header's %v):\n%s\n%s", got, ref, table[0], l)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGridString(t *testing.T) {
	g := sdGrid(t, 10)
	s := g.String()
	if !strings.HasPrefix(s, "grid of 10 steps: levels i = 0 … 10, σ̄ from 0 to ") {
		t.Errorf("first line: %q", strings.SplitN(s, "\n", 2)[0])
	}
	table := tableLines(t, s, "i ")
	if len(table) != 12 { // header + levels 0 … 10
		t.Fatalf("want 12 table lines, got %d:\n%s", len(table), s)
	}
	wantAligned(t, table)
	for _, f := range []string{"i", "t", "α", "σ", "σ̄", "h_i"} {
		if !strings.Contains(table[0], " "+f) && !strings.HasPrefix(strings.TrimLeft(table[0], " "), f) {
			t.Errorf("header %q lacks %q", table[0], f)
		}
	}
	// Level 0 is the clean endpoint (no h); level 9 is t = 888 with the spec's h_i.
	if f := strings.Fields(table[1]); len(f) != 5 || f[0] != "0" || f[1] != "clean" || f[2] != "1" || f[3] != "0" || f[4] != "0" {
		t.Errorf("level 0 row: %q", table[1])
	}
	if f := strings.Fields(table[10]); len(f) != 6 || f[0] != "9" || f[1] != "888" || f[5] != "3.23070874" {
		t.Errorf("level 9 row: %q (want t 888, h_i 3.23070874)", table[10])
	}
	if f := strings.Fields(table[2]); f[1] != "0" || f[5] != "0.0291671582" {
		t.Errorf("level 1 row: %q (want t 0, h_1 = σ̄(t=0) = 0.0291671582)", table[2])
	}
	if !strings.Contains(s, "ε at level 0 is evaluated at t=1 α=") {
		t.Errorf("no note on Net[0] (network t = 1 at the clean endpoint):\n%s", s)
	}

	// A continuous grid: no timesteps, Net = Levels (no note).
	pg, err := PowerGrid(2, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	ps := pg.String()
	table = tableLines(t, ps, "i ")
	wantAligned(t, table)
	if f := strings.Fields(table[3]); f[1] != "-" || f[4] != "0.5" || f[5] != "0.375" {
		t.Errorf("power grid level 2: %q (want t -, σ̄ 0.5, h 0.375)", table[3])
	}
	if strings.Contains(ps, "evaluated at") {
		t.Errorf("continuous grid has a Net note:\n%s", ps)
	}
	if (*Grid)(nil).String() != "<nil grid>" {
		t.Error("nil grid")
	}
}

func TestLevelString(t *testing.T) {
	for _, tc := range []struct {
		l    Level
		want string
	}{
		{Clean, "clean (α=1, σ=0, σ̄=0)"},
		{Level{T: 888, Alpha: 0.6, Sigma: 0.8}, "t=888 α=0.6 σ=0.8 σ̄=1.33333333"},
		{LevelAt(0.75), "α=0.8 σ=0.6 σ̄=0.75"},
	} {
		if got := tc.l.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.l, got, tc.want)
		}
	}
}

func TestCoeffTableString(t *testing.T) {
	g := sdGrid(t, 10)
	tab, err := CoefficientTable(OBELM{}, g)
	if err != nil {
		t.Fatal(err)
	}
	s := tab.String()
	for _, want := range []string{"sampling (a step from x_i produces x_{i-1}):\n", "\ninversion (a step from x_i produces x_{i+1}):\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in\n%s", want, s)
		}
	}
	// Sampling: the DDIM bootstrap (x_i, eps_i), then O-BELM (x_{i+1}, x_i, eps_i), each aligned.
	boot := tableLines(t, s, "step    t  t_next")
	if len(boot) != 2 || strings.Join(strings.Fields(boot[0]), " ") != "step t t_next h_i h_{i+1} x_i eps_i" {
		t.Errorf("bootstrap table:\n%s", strings.Join(boot, "\n"))
	}
	obelm := tableLines(t, s[strings.Index(s, boot[1]):], "step")
	if len(obelm) != 10 || strings.Join(strings.Fields(obelm[0]), " ") != "step t t_next h_i h_{i+1} x_{i+1} x_i eps_i" {
		t.Errorf("O-BELM sampling table (%d lines):\n%s", len(obelm), strings.Join(obelm, "\n"))
	}
	wantAligned(t, obelm)
	// The spec's test vector (step 888 → 777), and the last step's "clean" target.
	if got := strings.Join(strings.Fields(obelm[1]), " "); got != "1 888 777 3.23070874 6.77475836 0.706316344 1.29465015 -1.01164974" {
		t.Errorf("step 1 row: %q", got)
	}
	if f := strings.Fields(obelm[9]); f[1] != "0" || f[2] != "clean" {
		t.Errorf("last step row: %q", obelm[9])
	}

	// One row on one line; a row read back from JSON (no Names) lists its coefficients sorted.
	want := "sampling step 1: t 888 → 777, h_i = 3.23070874, h_{i+1} = 6.77475836, x_{i+1} = 0.706316344, x_i = 1.29465015, eps_i = -1.01164974"
	if got := tab[1].String(); got != want {
		t.Errorf("row String:\n got %q\nwant %q", got, want)
	}
	b, err := json.Marshal(tab)
	if err != nil {
		t.Fatal(err)
	}
	var back CoeffTable
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := back[1].String(); got != "sampling step 1: t 888 → 777, h_i = 3.23070874, h_{i+1} = 6.77475836, eps_i = -1.01164974, x_i = 1.29465015, x_{i+1} = 0.706316344" {
		t.Errorf("row from JSON: %q", got)
	}
	// The JSON is the list of rows, as before CoeffTable had a name.
	if !strings.HasPrefix(string(b), `[{"direction":"sampling","step":0,`) {
		t.Errorf("JSON: %.60s", b)
	}
}

func TestScheduleString(t *testing.T) {
	s := mustSchedule(t, SDConfig).String()
	for _, want := range []string{"scaled_linear β 0.00085 → 0.012", "1000 training timesteps", "linspace spacing", "epsilon prediction", "(t=999)"} {
		if !strings.Contains(s, want) {
			t.Errorf("schedule String %q lacks %q", s, want)
		}
	}
	if strings.Count(s, "\n") != 0 {
		t.Errorf("schedule String is not one line: %q", s)
	}
}

func TestDisplayWidth(t *testing.T) {
	for s, w := range map[string]int{"σ̄": 1, "h_i": 3, "α": 1, "": 0, "x̂₀": 2} {
		if got := displayWidth(s); got != w {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, w)
		}
	}
	if got := alignedTable([]string{"σ̄", "x"}, [][]string{{"1.5", "2"}, {"10", ""}}); got != "  σ̄  x\n1.5  2\n 10\n" {
		t.Errorf("alignedTable:\n%q", got)
	}
}
