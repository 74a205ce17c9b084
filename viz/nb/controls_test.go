package nb

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// noExit makes fail record instead of exiting, for the test.
func noExit(t *testing.T) *bytes.Buffer {
	t.Helper()
	var out bytes.Buffer
	oldErr, oldExit := stderr, exit
	stderr, exit = &out, func(int) {}
	t.Cleanup(func() { stderr, exit = oldErr, oldExit })
	return &out
}

// A float slider's values are rounded to the decimals of its range, its default is exact,
// and the page's positions (int, JSON number, string) set it.
func TestSliderValues(t *testing.T) {
	s := Slider("γ", 0.05, 1, 0.01, 0.96)
	if s.Value() != 0.96 || len(s.in.choices) != 96 || s.in.choices[s.in.pos] != "0.96" {
		t.Fatalf("default: %v, %d positions, readout %q", s.Value(), len(s.in.choices), s.in.choices[s.in.pos])
	}
	for _, raw := range []any{25, 25.0, "25", " 25 "} {
		s.in.pos = 0
		changed, err := s.in.set(raw)
		if err != nil || !changed || s.Value() != 0.3 {
			t.Errorf("set(%#v): %v %v, value %v (want 0.3, not 0.30000000000000004)", raw, changed, err, s.Value())
		}
	}
	if changed, err := s.in.set("25"); changed || err != nil {
		t.Errorf("same position again: changed %v, %v", changed, err)
	}
	for _, bad := range []any{-1, 96, 2.5, "x", nil, true} {
		if changed, err := s.in.set(bad); changed || err == nil || s.Value() != 0.3 {
			t.Errorf("set(%#v) should be refused and change nothing: %v %v %v", bad, changed, err, s.Value())
		}
	}
	lambda := Slider("λ", 0, 1, 0.05, 0.5)
	if lambda.Value() != 0.5 || lambda.values[19] != 0.95 || lambda.in.choices[19] != "0.95" || lambda.in.String() != "λ = 0.50" {
		t.Errorf("λ: %v, values[19] %v %q, %q", lambda.Value(), lambda.values[19], lambda.in.choices[19], lambda.in.String())
	}
	n := Slider("N", 2, 50, 1, 10)
	if n.Value() != 10 || n.in.pos != 8 || n.in.choices[0] != "2" || len(n.values) != 49 {
		t.Errorf("int slider: %v at %d, %q, %d values", n.Value(), n.in.pos, n.in.choices[0], len(n.values))
	}
}

// A bad range or a default off the grid stops the cell as Must does, naming the slider.
func TestSliderRefusesBadSettings(t *testing.T) {
	out := noExit(t)
	for _, bad := range []func(){
		func() { Slider("a", 0, 1, 0.3, 0.3) },  // 1 is not 0 + k·0.3
		func() { Slider("b", 1, 0, 0.1, 0.5) },  // empty range
		func() { Slider("c", 0, 1, 0.0, 0.5) },  // no step
		func() { Slider("d", 0, 1, 0.1, 0.55) }, // off the grid
		func() { Slider("e", 0, 1e9, 1, 5) },    // too many positions
	} {
		out.Reset()
		bad()
		if !strings.HasPrefix(out.String(), "error: Slider ") {
			t.Errorf("want an error naming the slider, got %q", out.String())
		}
	}
}

func TestSelectAndChecks(t *testing.T) {
	s := Select("sampler", []string{"ddim", "belm"}, "belm").Labels(strings.ToUpper)
	if s.Value() != "belm" || s.in.String() != "sampler = BELM" {
		t.Errorf("select: %v %q", s.Value(), s.in.String())
	}
	if changed, err := s.in.set("0"); !changed || err != nil || s.Value() != "ddim" {
		t.Errorf("select set: %v %v %v", changed, err, s.Value())
	}
	c := Checks("N", []int{5, 10, 20, 50}, 50, 10)
	if got := c.Values(); !reflect.DeepEqual(got, []int{10, 50}) || c.in.String() != "N: 10, 50" {
		t.Errorf("checks default: %v (want the options' order), %q", got, c.in.String())
	}
	for _, tc := range []struct {
		raw  string
		want []int
	}{{"0,2", []int{5, 20}}, {" 3 ", []int{50}}, {"", nil}, {"3,1,3", []int{10, 50}}} {
		c.in.set(tc.raw)
		if got := c.Values(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("checks set(%q): %v, want %v", tc.raw, got, tc.want)
		}
	}
	if c.in.String() != "N: 10, 50" {
		t.Errorf("%q", c.in.String())
	}
	for _, bad := range []any{"4", "1,x", 2, "-1"} {
		if changed, err := c.in.set(bad); changed || err == nil || !reflect.DeepEqual(c.Values(), []int{10, 50}) {
			t.Errorf("checks set(%#v) should be refused: %v %v %v", bad, changed, err, c.Values())
		}
	}
	if changed, _ := c.in.set(""); !changed || c.in.String() != "N: none" {
		t.Errorf("no box ticked: %v %q", changed, c.in.String())
	}

	out := noExit(t)
	Select("s", []int{1, 2}, 3)
	Checks("c", []string{"a"}, "b")
	if strings.Count(out.String(), "error: ") != 2 || !strings.Contains(out.String(), "Select s: 3 is not one of [1 2]") {
		t.Errorf("bad defaults: %q", out.String())
	}
}

// The control bar has an element for each widget, the slider's readout, the checkboxes
// (ticked as the defaults are), the Done button's place and the status, labels escaped.
func TestBarHTML(t *testing.T) {
	ins := []*input{
		Slider("<λ>", 0, 1, 0.25, 0.5).input(),
		Select("s", []string{"a", "b"}, "b").input(),
		Checks("c", []string{"x&y", "z"}, "z").input(),
	}
	h := barHTML("bar", ins, "connecting…")
	for _, want := range []string{`id="bar"`, `<b>&lt;λ&gt;</b> <span id="bar-0"></span> <code id="bar-0-v">0.50</code>`,
		`<span id="bar-1"></span>`, `<span id="bar-2"><label style="margin-right:8px"><input type="checkbox" data-i="0">x&amp;y</label>`,
		`<input type="checkbox" data-i="1" checked>z`, `id="bar-done"`, `id="bar-status"`, `connecting…`} {
		if !strings.Contains(h, want) {
			t.Errorf("bar HTML lacks %s:\n%s", want, h)
		}
	}
	if s := summaryHTML(ins, "ended (Done)"); !strings.Contains(s, "&lt;λ&gt; = 0.50 · s = b · c: z — ended (Done)") {
		t.Errorf("summary: %s", s)
	}
}

func TestJSString(t *testing.T) {
	if got := jsString(`a"</script>`); got != `"a\"\u003c/script\u003e"` {
		t.Errorf("jsString: %s", got)
	}
}

// The sampler controls list the registry, by label, and give names back in its order.
func TestSamplerControls(t *testing.T) {
	c := SamplerChecks("samplers", "belm", "ddim")
	if got := c.Values(); !reflect.DeepEqual(got, []string{"ddim", "belm"}) {
		t.Errorf("SamplerChecks values %v", got)
	}
	if len(c.in.choices) < 5 || c.in.choices[0] != "DDIM" || !strings.Contains(c.in.String(), "DDIM, O-BELM") {
		t.Errorf("SamplerChecks labels %v, %q", c.in.choices, c.in.String())
	}
	s := SamplerSelect("sampler", "belm")
	if s.Value() != "belm" || s.in.String() != "sampler = O-BELM" {
		t.Errorf("SamplerSelect: %v %q", s.Value(), s.in.String())
	}
}
