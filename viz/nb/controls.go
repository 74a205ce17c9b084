package nb

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/viz"
)

// A Control is an input of Interact: a Slider, a Select or Checks. Its value is read in
// Interact's function (Value, Values); it starts at the value given to its constructor,
// which is all a run without a live page (nbconvert, go test) ever sees.
type Control interface {
	input() *input
}

// kind is what a control looks like on the page.
type kind int

const (
	sliderKind kind = iota // GoNB's widgets.Slider over the positions 0 … len(choices)−1
	selectKind             // GoNB's widgets.Select
	checksKind             // a row of checkboxes (gonbui/comms, as GoNB's widgets are built)
)

// input is what every control shares and what the page exchanges: positions, not values.
// A slider's position k is its k-th value, a select's the index of its option; checks send
// the indices of the ticked boxes, comma-separated ("0,2").
type input struct {
	label   string
	kind    kind
	choices []string // a slider's values, formatted (its readout); the options' labels otherwise
	pos     int      // slider, select: the chosen position
	checked []bool   // checks: which options are ticked
}

func (in *input) input() *input { return in }

// set applies a value from the page and reports whether the control's value changed. A
// value that is not a position of the control is an error, and changes nothing.
func (in *input) set(raw any) (bool, error) {
	if in.kind == checksKind {
		s, ok := raw.(string)
		if !ok {
			return false, fmt.Errorf("%s: %v (%T) is not a list of ticked boxes", in.label, raw, raw)
		}
		checked := make([]bool, len(in.choices))
		if s = strings.TrimSpace(s); s != "" {
			for _, f := range strings.Split(s, ",") {
				i, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil || i < 0 || i >= len(checked) {
					return false, fmt.Errorf("%s: %q is not a list of boxes 0…%d", in.label, s, len(checked)-1)
				}
				checked[i] = true
			}
		}
		changed := !slices.Equal(checked, in.checked)
		in.checked = checked
		return changed, nil
	}
	pos, err := position(raw)
	if err != nil || pos < 0 || pos >= len(in.choices) {
		return false, fmt.Errorf("%s: %v is not a position 0…%d", in.label, raw, len(in.choices)-1)
	}
	changed := pos != in.pos
	in.pos = pos
	return changed, nil
}

// position reads a position as the page sends it: an int, a whole float64 (JSON numbers)
// or a string of digits (an <input>'s value).
func position(raw any) (int, error) {
	switch v := raw.(type) {
	case int:
		return v, nil
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<30 {
			return 0, fmt.Errorf("%v is not a whole number", v)
		}
		return int(v), nil
	case string:
		return strconv.Atoi(strings.TrimSpace(v))
	}
	return 0, fmt.Errorf("%T is not a position", raw)
}

// String is the control's label and value as the summary line shows them: "λ = 0.50".
func (in *input) String() string {
	if in.kind != checksKind {
		return in.label + " = " + in.choices[in.pos]
	}
	var on []string
	for i, c := range in.checked {
		if c {
			on = append(on, in.choices[i])
		}
	}
	if len(on) == 0 {
		return in.label + ": none"
	}
	return in.label + ": " + strings.Join(on, ", ")
}

// Number is what a Slider slides over.
type Number interface{ ~int | ~float64 }

// SliderInput is a slider over lo, lo+step, …, hi (Slider).
type SliderInput[T Number] struct {
	in     input
	values []T
}

func (s *SliderInput[T]) input() *input { return &s.in }

// Value is the slider's value.
func (s *SliderInput[T]) Value() T { return s.values[s.in.pos] }

// Slider returns a slider over lo, lo+step, …, hi starting at value, which must be one of
// them (a bad range or value stops the cell, as Must does). Float values are rounded to
// the decimals of lo and step, so 0.05 + 18·0.05 is 0.95, not 0.9500000000000001; the
// readout shows them with those decimals.
//
//	gamma := Slider("BDIA γ", 0.05, 1, 0.01, 0.96) // float64
//	step := Slider("step", 0, 10, 1, 5)            // int
func Slider[T Number](label string, lo, hi, step, value T) *SliderInput[T] {
	s := &SliderInput[T]{in: input{label: label, kind: sliderKind}}
	n := float64(hi-lo) / float64(step)
	if !(step > 0) || !(hi > lo) || n > 10000 || math.Abs(n-math.Round(n)) > 1e-6 {
		fail(fmt.Errorf("Slider %s: %v … %v in steps of %v is not a range of at most 10000 steps", label, lo, hi, step))
		s.values, s.in.choices = []T{value}, []string{fmt.Sprint(value)}
		return s
	}
	digits := max(decimals(float64(lo)), decimals(float64(step)))
	s.in.pos = -1
	for k := 0; k <= int(math.Round(n)); k++ {
		v := float64(lo) + float64(k)*float64(step)
		text := strconv.FormatFloat(v, 'f', digits, 64)
		rounded, _ := strconv.ParseFloat(text, 64)
		s.values = append(s.values, T(rounded))
		s.in.choices = append(s.in.choices, text)
		if T(rounded) == value {
			s.in.pos = k
		}
	}
	if s.in.pos < 0 {
		fail(fmt.Errorf("Slider %s: %v is not one of %v, %v + %v, …, %v", label, value, lo, lo, step, hi))
		s.in.pos = 0
	}
	return s
}

// decimals is the number of decimals v needs (0 for whole numbers, at most 12).
func decimals(v float64) int {
	s := strconv.FormatFloat(math.Abs(v), 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return min(len(s)-i-1, 12)
	}
	return 0
}

// SelectInput is a drop-down list of options (Select).
type SelectInput[T comparable] struct {
	in      input
	options []T
}

func (s *SelectInput[T]) input() *input { return &s.in }

// Value is the selected option.
func (s *SelectInput[T]) Value() T { return s.options[s.in.pos] }

// Labels sets how the options are shown (fmt.Sprint by default), e.g. viz.SamplerLabel.
func (s *SelectInput[T]) Labels(label func(T) string) *SelectInput[T] {
	s.in.choices = labels(s.options, label)
	return s
}

// Select returns a drop-down list of the options, value selected (it must be one of them: a
// bad value stops the cell, as Must does).
//
//	sampler := Select("sampler", []string{"ddim", "belm"}, "belm").Labels(viz.SamplerLabel)
func Select[T comparable](label string, options []T, value T) *SelectInput[T] {
	s := &SelectInput[T]{in: input{label: label, kind: selectKind, choices: labels(options, nil)}, options: options}
	s.in.pos = slices.Index(options, value)
	if s.in.pos < 0 {
		fail(fmt.Errorf("Select %s: %v is not one of %v", label, value, options))
		s.in.pos = 0
	}
	return s
}

// ChecksInput is a row of checkboxes, one per option (Checks).
type ChecksInput[T comparable] struct {
	in      input
	options []T
}

func (c *ChecksInput[T]) input() *input { return &c.in }

// Values are the ticked options, in the order of the options (so that a default of every
// sampler gives them in the registry's order, whatever the order they were ticked in).
func (c *ChecksInput[T]) Values() []T {
	var out []T
	for i, on := range c.in.checked {
		if on {
			out = append(out, c.options[i])
		}
	}
	return out
}

// Labels sets how the options are shown (fmt.Sprint by default), e.g. viz.SamplerLabel.
func (c *ChecksInput[T]) Labels(label func(T) string) *ChecksInput[T] {
	c.in.choices = labels(c.options, label)
	return c
}

// Checks returns a checkbox per option, those in values ticked (each must be an option: a
// bad one stops the cell, as Must does).
//
//	samplers := Checks("samplers", []string{"ddim", "edict", "bdia", "belm", "belm3"}, "ddim", "belm")
//	ns := Checks("N", []int{5, 10, 20, 50, 100, 200}, 10, 20, 50, 100)
func Checks[T comparable](label string, options []T, values ...T) *ChecksInput[T] {
	c := &ChecksInput[T]{in: input{label: label, kind: checksKind, choices: labels(options, nil), checked: make([]bool, len(options))}, options: options}
	for _, v := range values {
		i := slices.Index(options, v)
		if i < 0 {
			fail(fmt.Errorf("Checks %s: %v is not one of %v", label, v, options))
			continue
		}
		c.in.checked[i] = true
	}
	return c
}

func labels[T any](options []T, label func(T) string) []string {
	out := make([]string, len(options))
	for i, o := range options {
		if label != nil {
			out[i] = label(o)
		} else {
			out[i] = fmt.Sprint(o)
		}
	}
	return out
}

// barHTML is the control bar: per control its label and an element (id BAR-i) that the
// widget goes into, a slider's readout (BAR-i-v), then the Done button's place (BAR-done)
// and the status line (BAR-status). Checkboxes are in the HTML already, with data-i their
// index.
func barHTML(bar string, ins []*input, status string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<div id="%s" style="display:flex;flex-wrap:wrap;align-items:center;gap:6px 22px;font:13px sans-serif;padding:4px 0">`, bar)
	for i, in := range ins {
		id := fmt.Sprintf("%s-%d", bar, i)
		fmt.Fprintf(&b, `<span style="white-space:nowrap"><b>%s</b> <span id="%s">`, html.EscapeString(in.label), id)
		if in.kind == checksKind {
			for j, c := range in.choices {
				on := ""
				if in.checked[j] {
					on = " checked"
				}
				fmt.Fprintf(&b, `<label style="margin-right:8px"><input type="checkbox" data-i="%d"%s>%s</label>`, j, on, html.EscapeString(c))
			}
		}
		b.WriteString(`</span>`)
		if in.kind == sliderKind {
			fmt.Fprintf(&b, ` <code id="%s-v">%s</code>`, id, html.EscapeString(in.choices[in.pos]))
		}
		b.WriteString(`</span>`)
	}
	fmt.Fprintf(&b, `<span id="%s-done"></span><span id="%s-status" style="color:#777">%s</span></div>`, bar, bar, html.EscapeString(status))
	return b.String()
}

// summaryHTML is what stays in the control bar's place when there are no live controls:
// the values the output below was computed with, and why.
func summaryHTML(ins []*input, why string) string {
	parts := make([]string, len(ins))
	for i, in := range ins {
		parts[i] = in.String()
	}
	return fmt.Sprintf(`<div style="color:#777;font:13px sans-serif;padding:4px 0">%s — %s</div>`,
		html.EscapeString(strings.Join(parts, " · ")), html.EscapeString(why))
}

// samplerNames are the registry's samplers (belm.Samplers: one per family, belm3 standing
// for k-step BELM), in its order: the options of SamplerChecks and SamplerSelect.
func samplerNames() []string {
	var names []string
	for _, e := range belm.Samplers() {
		names = append(names, e.Name)
	}
	return names
}

// SamplerChecks is a checkbox per registered sampler (belm.Samplers), shown by its label
// (viz.SamplerLabel), those in values ticked; Values gives the ticked names in the
// registry's order.
//
//	samplers := SamplerChecks("samplers", figures.Samplers...)
func SamplerChecks(label string, values ...string) *ChecksInput[string] {
	return Checks(label, samplerNames(), values...).Labels(viz.SamplerLabel)
}

// SamplerSelect is a drop-down list of the registered samplers (belm.Samplers), shown by
// their labels (viz.SamplerLabel), value selected.
func SamplerSelect(label, value string) *SelectInput[string] {
	return Select(label, samplerNames(), value).Labels(viz.SamplerLabel)
}
