package belm

import (
	"math"
	"strings"
	"testing"
)

func sdGrid(t *testing.T, n int) *Grid {
	t.Helper()
	g, err := mustSchedule(t, SDConfig).Grid(n)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// Spec §1.2 test vectors (SD linspace, N=10, float64 betas), printed to 9 digits: 1e-8.
func TestOBELMTestVectors(t *testing.T) {
	g := sdGrid(t, 10)
	for _, tc := range []struct {
		name    string
		k       int // code loop index: the step from level N−k to N−k−1
		hi, hn  float64
		A, B, C float64
	}{
		{"k=1 (t 888→777)", 1, 3.23070874, 6.77475836, 0.706316344, 1.29465015, -1.01164974},
		{"k=9 (t 0→clean)", 9, 0.0291671582, 0.339490587, 0.00786691466, 0.993040834, -0.0316730395},
	} {
		lo := g.N() - tc.k - 1 // target level i−1
		if h := g.H(lo + 1); !near(h, tc.hi, 1e-8) {
			t.Errorf("%s: h_i = %.10g, want %.10g", tc.name, h, tc.hi)
		}
		if h := g.H(lo + 2); !near(h, tc.hn, 1e-8) {
			t.Errorf("%s: h_{i+1} = %.10g, want %.10g", tc.name, h, tc.hn)
		}
		ex, err := OBELM{}.Relation(g, lo, 2, Sampling).Solve(lo)
		if err != nil {
			t.Fatal(err)
		}
		A, B, C := ex.A[2], ex.A[1], ex.C[1]
		if !near(A, tc.A, 1e-8) || !near(B, tc.B, 1e-8) || !near(C, tc.C, 1e-8) {
			t.Errorf("%s: A, B, C = %.10g, %.10g, %.10g; want %.10g, %.10g, %.10g", tc.name, A, B, C, tc.A, tc.B, tc.C)
		}
	}
	// The first DDIM step (999 → 888): coef_x = 1.85348202, coef_ε = −0.85719521.
	ex, err := DDIM{}.Relation(g, 9, 1, Sampling).Solve(9)
	if err != nil {
		t.Fatal(err)
	}
	if !near(ex.A[1], 1.85348202, 1e-8) || !near(ex.C[1], -0.85719521, 1e-8) {
		t.Errorf("DDIM 999→888: %.10g, %.10g", ex.A[1], ex.C[1])
	}
}

// Eq. 19 (the closed-form inverse) equals Eq. 18's relation solved for x_{i+1}, at every step
// of several grids; and BDIA's Eq. 25 equals its Eq. 24 solved likewise.
func TestInverseIsTheReversedRelation(t *testing.T) {
	ddpm, _ := mustSchedule(t, DDPMConfig).Grid(20)
	for _, g := range []*Grid{sdGrid(t, 10), sdGrid(t, 50), ddpm} {
		for lo := 0; lo+2 <= g.N(); lo++ {
			i := lo + 1
			hi, hn := g.H(i), g.H(i+1)
			a0, a1, a2 := g.Levels[lo].Alpha, g.Levels[i].Alpha, g.Levels[i+1].Alpha
			// Eq. 19.
			wantPrev := (hn * hn) / (hi * hi) * a2 / a0
			wantCur := (hi*hi - hn*hn) / (hi * hi) * a2 / a1
			wantEps := hn * (hi + hn) / hi * a2
			ex, err := OBELM{}.Relation(g, lo, 2, Inversion).Solve(lo + 2)
			if err != nil {
				t.Fatal(err)
			}
			if !near(ex.A[0], wantPrev, 1e-12) || !near(ex.A[1], wantCur, 1e-12) || !near(ex.C[1], wantEps, 1e-12) {
				t.Fatalf("N=%d lo=%d: O-BELM inverse %v %v, want %g %g %g", g.N(), lo, ex.A, ex.C, wantPrev, wantCur, wantEps)
			}
			// BDIA Eq. 25 with γ = 0.96.
			gamma := 0.96
			l0, l1, l2 := g.Levels[lo], g.Levels[i], g.Levels[i+1]
			bx := l2.Alpha/l1.Alpha - l0.Alpha/(gamma*l1.Alpha)
			be := (l2.Sigma - l2.Alpha*l1.Sigma/l1.Alpha) - (l0.Sigma-l0.Alpha*l1.Sigma/l1.Alpha)/gamma
			bex, err := BDIA{Gamma: gamma}.Relation(g, lo, 2, Inversion).Solve(lo + 2)
			if err != nil {
				t.Fatal(err)
			}
			if !near(bex.A[0], 1/gamma, 1e-12) || !near(bex.A[1], bx, 1e-12) || !near(bex.C[1], be, 1e-12) {
				t.Fatalf("N=%d lo=%d: BDIA inverse %v %v, want %g %g %g", g.N(), lo, bex.A, bex.C, 1/gamma, bx, be)
			}
		}
	}
	if _, err := (BDIA{Gamma: 0}).Relation(sdGrid(t, 10), 0, 2, Inversion).Solve(2); err == nil {
		t.Error("BDIA γ=0 solved upward: no error")
	}
	if err := (BDIA{Gamma: 0}).Validate(Inversion); err == nil {
		t.Error("BDIA γ=0 validated for inversion")
	}
}

// General k-step BELM: k=2 reproduces O-BELM to 1e-14 (x̄ coefficients of Prop. 4) on real
// grids; k=3 with equal steps gives a = (−9, 9, 1), b = (−6, −6) (spec §2.10).
func TestBELMOrderConditions(t *testing.T) {
	for _, g := range []*Grid{sdGrid(t, 10), sdGrid(t, 100)} {
		for lo := 0; lo+2 <= g.N(); lo++ {
			a, b, err := BELMCoefficients(g, lo, 2)
			if err != nil {
				t.Fatal(err)
			}
			hi, hn := g.H(lo+1), g.H(lo+2)
			a1 := (hn*hn - hi*hi) / (hn * hn)
			a2 := hi * hi / (hn * hn)
			b1 := -(hi + hn) / hn
			if math.Abs(a[0]-a1) > 1e-14*math.Max(1, math.Abs(a1)) || math.Abs(a[1]-a2) > 1e-14 || math.Abs(b[0]-b1) > 1e-14*math.Abs(b1) {
				t.Fatalf("N=%d lo=%d: k=2 gives a=%v b=%v, O-BELM a=(%g,%g) b=%g", g.N(), lo, a, b, a1, a2, b1)
			}
		}
	}
	eq, _ := SigmaBarGrid([]float64{1, 1.5, 2, 2.5})
	a, b, err := BELMCoefficients(eq, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{-9, 9, 1, -6, -6}
	got := append(a, b...)
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("k=3 equal steps: %v, want %v", got, want)
		}
	}
	// x-space sampling coefficients of general BELM k=2 equal O-BELM's to 1e-14 relative.
	g := sdGrid(t, 50)
	for lo := 0; lo+2 <= g.N(); lo++ {
		e1, _ := OBELM{}.Relation(g, lo, 2, Sampling).Solve(lo)
		e2, _ := BELM{K: 2}.Relation(g, lo, 2, Sampling).Solve(lo)
		for j := range e1.A {
			if !near(e2.A[j], e1.A[j], 1e-13) || !near(e2.C[j], e1.C[j], 1e-13) {
				t.Fatalf("lo=%d: belm2 %v %v vs O-BELM %v %v", lo, e2.A, e2.C, e1.A, e1.C)
			}
		}
	}
}

func TestParseSampler(t *testing.T) {
	for name, want := range map[string]string{"ddim": "ddim", "EDICT": "edict", "bdia": "bdia", "belm": "belm", "obelm": "belm", "lag": "belm", "belm3": "belm3", "belm-k4": "belm4",
		"O-BELM": "belm", "o_belm": "belm", "belm_k4": "belm4", "BELM k=3": "belm3", "belm2": "belm2", " ddim-diffusers": "ddim-inverse-diffusers"} {
		s, err := ParseSampler(name, DefaultSamplerOptions)
		if err != nil || s.Name() != want {
			t.Errorf("%s: %v, %v", name, s, err)
		}
	}
	for _, bad := range []string{"dpm", "belm1", "belm99", ""} {
		if _, err := ParseSampler(bad, DefaultSamplerOptions); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// An unknown name is answered with the registry's names.
	if _, err := ParseSampler("dpm", DefaultSamplerOptions); err == nil ||
		!strings.Contains(err.Error(), "use ddim, ddim-inverse-diffusers, edict, bdia, belm (O-BELM) or belmK (e.g. belm3)") {
		t.Errorf("unknown sampler: %v", err)
	}
	if _, err := ParseSampler("bdia", SamplerOptions{BDIAGamma: 1.5, EDICTP: 0.9}); err == nil {
		t.Error("γ=1.5: no error")
	}
	if _, err := ParseSampler("edict", SamplerOptions{EDICTP: 0}); err == nil {
		t.Error("p=0: no error")
	}
}
