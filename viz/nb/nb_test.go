package nb

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A failing call prints its error exactly once and exits 1.
func TestMustReportsOnce(t *testing.T) {
	var out bytes.Buffer
	code := -1
	stderr, exit = &out, func(c int) { code = c }
	defer func() { stderr, exit = nil, nil }()

	if v := Must(3, nil); v != 3 || code != -1 || out.Len() != 0 {
		t.Fatalf("success: v=%d code=%d out=%q", v, code, out.String())
	}
	Must(0, errors.New(`unknown sampler "bdai"`))
	got := out.String()
	if code != 1 || strings.Count(got, `unknown sampler "bdai"`) != 1 || !strings.HasPrefix(got, "error: ") {
		t.Errorf("code %d, output %q: want exit 1 and the error once", code, got)
	}
	out.Reset()
	a, b := Must2(1, "x", nil)
	Check(nil)
	if a != 1 || b != "x" || out.Len() != 0 {
		t.Errorf("Must2/Check on success: %v %v %q", a, b, out.String())
	}
	Check(errors.New("boom"))
	if out.String() != "error: boom\n" {
		t.Errorf("Check: %q", out.String())
	}
}

// ShowImages refuses values that are not whole images of the shape, and shows nothing (no
// error) outside a notebook.
func TestShowImages(t *testing.T) {
	if err := ShowImages(make([]float64, 2*3*4*4), []int{3, 4, 4}, 2, "row"); err != nil {
		t.Errorf("two 3×4×4 images: %v", err)
	}
	for _, bad := range []struct {
		n     int
		shape []int
	}{{10, []int{3, 4, 4}}, {48, []int{4, 4}}, {0, []int{0, 4, 4}}} {
		if err := ShowImages(make([]float64, bad.n), bad.shape, 2); err == nil || !strings.Contains(err.Error(), "[C, H, W]") {
			t.Errorf("%d values, shape %v: %v", bad.n, bad.shape, err)
		}
	}
}
