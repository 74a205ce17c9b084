package belm

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// BELM is the general k-step bidirectional explicit linear multistep sampler (paper Eq. 14):
//
//	x̄_{i−1} = Σ_{j=1..k} a_j x̄_{i−1+j} + Σ_{j=1..k−1} b_j h_{i−1+j} ε̄_θ(x̄_{i−1+j}, σ̄_{i−1+j}),
//
// with ε only at the k−1 interior points, so the relation is explicit in both x_{i−1}
// (sampling) and x_{i−1+k} (inversion, exact whenever a_k ≠ 0, Prop. 2). Its 2k−1
// coefficients are the unique solution of the order conditions (paper Eqs. 30–34): with
// s_j = σ̄_{i−1+j} − σ̄_{i−1} and ε̄ = dx̄/dσ̄, the Taylor expansion of the relation about
// σ̄_{i−1} vanishes up to order 2k−2,
//
//	Σ_j a_j s_j^m + m Σ_j b_j h_{i−1+j} s_j^{m−1} = [m = 0],   m = 0 … 2k−2,
//
// solved numerically here for any k (k = 2 is O-BELM, Prop. 4; k = 3 with equal steps gives
// a = (−9, 9, 1), b = (−6, −6), App. A.4). The LTE is O(h^{2k−1}), but for k ≥ 3 the method is
// not zero-stable (Dahlquist's barrier: a root ≈ −9.9 for k = 3 with equal steps), so errors
// grow ~10× per step: a sampler to study, not to use (spec §2.10). The first k−1 steps
// bootstrap with DDIM, then 2-, 3-, … step BELM, down to the grid's level 0 (the clean
// endpoint α = 1, σ = 0; not diffusers' ᾱ₀, see DDIM.Final). State: the last k latents; NFE: 1
// per step.
type BELM struct{ K int }

// NewBELM returns k-step BELM, k ≥ 2.
func NewBELM(k int) (BELM, error) {
	if k < 2 || k > 8 {
		return BELM{}, fmt.Errorf("k-step BELM needs 2 ≤ k ≤ 8, got k = %d", k)
	}
	return BELM{K: k}, nil
}

// belm3Entry stands in the registry for the k-step BELM family (belmK, belm-kK for any k);
// 3-step BELM is the one the paper derives in closed form (App. A.4).
var belm3Entry = belmKEntry(3)

// belmKEntry is the registry entry of k-step BELM: LTE O(h^{2k−1}) (2k−1 order conditions);
// a global order only for k = 2 (O-BELM), since k ≥ 3 is not zero-stable.
func belmKEntry(k int) SamplerInfo {
	e := SamplerInfo{Name: "belm" + strconv.Itoa(k), Aliases: []string{"belm-k" + strconv.Itoa(k)},
		Label: "BELM k=" + strconv.Itoa(k), NFEPerStep: 1, Exact: true, LTESlope: float64(2*k - 1),
		New:    func(SamplerOptions) (Sampler, error) { return NewBELM(k) },
		Family: "belmK", members: belmKMember}
	switch k {
	case 2:
		e.GlobalOrder = 2
	case 3:
		e.Color = "#E69F00" // orange
	}
	return e
}

// belmKMember recognises a k-step BELM name: belm3, belm-k3, belm_k3, belmk3, belm-3, "belm k=3"
// (the label) all give k = 3. k < 2 or k > 8 is recognised, and refused by NewBELM.
func belmKMember(n string) (SamplerInfo, bool) {
	rest, ok := strings.CutPrefix(n, "belm")
	if !ok {
		return SamplerInfo{}, false
	}
	rest = strings.TrimPrefix(strings.TrimPrefix(strings.TrimLeft(rest, "-_ "), "k"), "=")
	k, err := strconv.Atoi(rest)
	if err != nil || k < 1 {
		return SamplerInfo{}, false
	}
	return belmKEntry(k), true
}

func (b BELM) Name() string               { return belmKEntry(b.K).Name }
func (BELM) NFEPerStep() int              { return belm3Entry.NFEPerStep }
func (b BELM) Window() int                { return b.K }
func (BELM) Validate(dir Direction) error { return nil }

// instabilityHint: k ≥ 3 is not zero-stable (Dahlquist's barrier, spec §2.10).
func (b BELM) instabilityHint(Direction) string {
	if b.K >= 3 {
		return fmt.Sprintf("; %d-step BELM is not zero-stable, errors grow ~10× per step (spec §2.10): use belm (O-BELM)", b.K)
	}
	return ""
}

// Relation is the w-step BELM relation over levels lo … lo+w (DDIM for w = 1). When its order
// conditions cannot be solved, the relation carries the error, which Solve returns.
func (b BELM) Relation(g *Grid, lo, w int, dir Direction) Relation {
	if w < 2 {
		return ddimRelation(g, lo, dir)
	}
	a, bb, err := BELMCoefficients(g, lo, w)
	if err != nil {
		return Relation{Lo: lo, X: make([]float64, w+1), E: make([]float64, w+1), Err: err}
	}
	// x-space: x_lo = Σ a_j (α_lo/α_{lo+j}) x_{lo+j} + Σ b_j h_{lo+j} α_lo ε_{lo+j}.
	alo := g.Levels[lo].Alpha
	xa := make([]float64, w)
	xc := make([]float64, w)
	for j := 1; j <= w; j++ {
		xa[j-1] = a[j-1] * alo / g.Levels[lo+j].Alpha
		if j < w {
			xc[j-1] = bb[j-1] * g.H(lo+j) * alo
		}
	}
	return explicitRelation(lo, xa, xc)
}

// BELMCoefficients solves the order conditions of w-step BELM on the grid levels lo … lo+w,
// returning a_1 … a_w and b_1 … b_{w−1} in the paper's x̄ form (Eq. 14).
func BELMCoefficients(g *Grid, lo, w int) (a, b []float64, err error) {
	n := 2*w - 1
	scale := g.SigmaBar(lo+w) - g.SigmaBar(lo) // coefficients are invariant to rescaling σ̄
	s := make([]float64, w+1)
	hs := make([]float64, w+1)
	for j := 1; j <= w; j++ {
		s[j] = (g.SigmaBar(lo+j) - g.SigmaBar(lo)) / scale
		hs[j] = g.H(lo+j) / scale
	}
	m := make([][]float64, n)
	rhs := make([]float64, n)
	rhs[0] = 1
	for row := 0; row < n; row++ {
		m[row] = make([]float64, n)
		for j := 1; j <= w; j++ {
			m[row][j-1] = math.Pow(s[j], float64(row))
			if j < w && row >= 1 {
				m[row][w+j-1] = float64(row) * hs[j] * math.Pow(s[j], float64(row-1))
			}
		}
	}
	u, err := solveLinear(m, rhs)
	if err != nil {
		return make([]float64, w), make([]float64, w-1), fmt.Errorf(
			"%d-step BELM at levels %d…%d (σ̄ %.6g … %.6g): the order conditions (paper Eqs. 30–34) are a singular system (%v): "+
				"their nodes σ̄ must be distinct and finite, which every grid from NewGrid or Schedule.Grid is; build the grid with NewGrid, or use belm (O-BELM)",
			w, lo, lo+w, g.SigmaBar(lo), g.SigmaBar(lo+w), err)
	}
	return u[:w], u[w:], nil
}

// solveLinear solves m·u = rhs by Gaussian elimination with partial pivoting (m is modified).
func solveLinear(m [][]float64, rhs []float64) ([]float64, error) {
	n := len(rhs)
	for col := 0; col < n; col++ {
		p := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[p][col]) {
				p = r
			}
		}
		if m[p][col] == 0 || math.IsNaN(m[p][col]) {
			return nil, fmt.Errorf("no pivot in column %d of %d", col+1, n)
		}
		m[col], m[p] = m[p], m[col]
		rhs[col], rhs[p] = rhs[p], rhs[col]
		for r := col + 1; r < n; r++ {
			f := m[r][col] / m[col][col]
			for c := col; c < n; c++ {
				m[r][c] -= f * m[col][c]
			}
			rhs[r] -= f * rhs[col]
		}
	}
	u := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		v := rhs[r]
		for c := r + 1; c < n; c++ {
			v -= m[r][c] * u[c]
		}
		u[r] = v / m[r][r]
		if math.IsNaN(u[r]) || math.IsInf(u[r], 0) {
			return nil, fmt.Errorf("unknown %d of %d is %g", r+1, n, u[r])
		}
	}
	return u, nil
}
