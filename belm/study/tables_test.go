package study

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// CoefficientResult.String: the Eq. 18 steps of the SD schedule at N = 10 as an aligned table,
// with the spec's test vector (step 1) and the spike at step 8 (h_i/h_{i+1} = 1.32, A = 2.07).
func TestCoefficientResultString(t *testing.T) {
	r, err := OBELMCoefficients(Common{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(r.String(), "\n"), "\n")
	if lines[0] != "O-BELM, scaled_linear/linspace schedule, N = 10:  x_{i-1} = A·x_{i+1} + B·x_i + C·ε(x_i, t_i)" {
		t.Errorf("title: %q", lines[0])
	}
	if len(lines) != 11 { // title, header, steps 1 … 9
		t.Fatalf("%d lines, want 11:\n%s", len(lines), r)
	}
	if got := strings.Join(strings.Fields(lines[1]), " "); got != "step t t_next h_i h_{i+1} h_i/h_{i+1} A B C" {
		t.Errorf("header: %q", got)
	}
	for _, l := range lines[2:] { // right-aligned: every line as wide as the header
		if utf8.RuneCountInString(l) != utf8.RuneCountInString(lines[1]) {
			t.Errorf("misaligned:\n%s\n%s", lines[1], l)
		}
	}
	for k, want := range map[int]string{
		2:  "1 888 777 3.23070874 6.77475836 0.4769 0.706316344 1.29465015 -1.01164974",
		9:  "8 111 0 0.339490587 0.256319173 1.3245 2.06780293 -0.80353823 -0.788804908",
		10: "9 0 clean 0.0291671582 0.339490587 0.0859 0.00786691466 0.993040834 -0.0316730395",
	} {
		if got := strings.Join(strings.Fields(lines[k]), " "); got != want {
			t.Errorf("line %d:\n got %q\nwant %q", k, got, want)
		}
	}
}
