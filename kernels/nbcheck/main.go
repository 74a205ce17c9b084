// Command nbcheck checks executed Jupyter notebooks (.ipynb, nbformat 4) for the workbench.
//
//	go run ./kernels/nbcheck [-q] EXECUTED.ipynb...
//
// A notebook fails when any output has output_type "error" (a cell panicked or failed to compile),
// when a non-empty code cell has no execution_count (it did not run), or when its metadata
// belm.expect is not satisfied. belm.expect is a list of objects such as
//
//	"belm": {"expect": [
//	  {"regex": "O-BELM LTE slope = ([0-9.]+)", "min": 2.75, "max": 3.25, "note": "order 3"},
//	  {"min_images": 2}
//	]}
//
// with the fields:
//
//	regex       Go RE2 pattern that must match the notebook's text output: every stream text,
//	            text/plain and text/markdown output of every cell, concatenated in order, each
//	            ending with a newline. Use (?m) for ^/$ per line, (?s) to let . cross lines.
//	min, max    inclusive bounds (each optional) on the first capture group of the first match
//	            of regex, parsed as a float.
//	min_images  the notebook must hold at least this many image outputs in total (outputs with
//	            image/png or image/svg+xml; a PNG payload must really be a PNG).
//	note        free text, printed with a failure.
//
// An entry may combine these fields; an empty entry is an error, and so is an unknown field, so a
// typo ("min_image") cannot silently disable a check.
//
// With -current (go run ./kernels/nbcheck -current notebooks/executed notebooks) it checks committed
// executed copies instead: each notebook has one, with the same cells (types and sources), executed
// without errors and passing the notebook's belm.expect; see current.go.
//
// It exits 0 when every notebook passes, 1 when one fails and 2 on usage errors. It is a package main
// with no imports outside the standard library, so it adds nothing to the root go.mod.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Expect is one entry of the notebook metadata list belm.expect.
type Expect struct {
	Regex     string   `json:"regex,omitempty"`
	Min       *float64 `json:"min,omitempty"`
	Max       *float64 `json:"max,omitempty"`
	MinImages *int     `json:"min_images,omitempty"`
	Note      string   `json:"note,omitempty"`
}

// multiline is a Jupyter string: either a string or a list of strings to concatenate.
type multiline string

func (m *multiline) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*m = multiline(s)
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("want a string or a list of strings, got %.40s", b)
	}
	*m = multiline(strings.Join(l, ""))
	return nil
}

type output struct {
	OutputType string                     `json:"output_type"`
	Name       string                     `json:"name"` // stream: stdout / stderr
	Text       multiline                  `json:"text"` // stream
	Data       map[string]json.RawMessage `json:"data"` // display_data, execute_result
	Ename      string                     `json:"ename"`
	Evalue     string                     `json:"evalue"`
	Traceback  []string                   `json:"traceback"`
}

type cell struct {
	ID             string    `json:"id"`
	CellType       string    `json:"cell_type"`
	Source         multiline `json:"source"`
	ExecutionCount *int      `json:"execution_count"`
	Outputs        []output  `json:"outputs"`
}

type notebook struct {
	NBFormat int    `json:"nbformat"`
	Cells    []cell `json:"cells"`
	Metadata struct {
		Belm *struct {
			Expect json.RawMessage `json:"expect"`
		} `json:"belm"`
	} `json:"metadata"`
}

// Report is the result of checking one notebook.
type Report struct {
	Cells, CodeCells, Executed int
	Images                     int
	Expects                    int // number of belm.expect entries
	Problems                   []string
}

// OK reports whether the notebook passed.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) fail(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// cellName names a cell for messages: its 1-based index, its id and its first source line.
func cellName(i int, c *cell) string {
	s := fmt.Sprintf("cell %d", i+1)
	if c.ID != "" {
		s += " (id " + c.ID + ")"
	}
	// The first line that says something (not GoNB's "%%" marker).
	first := ""
	for _, line := range strings.Split(string(c.Source), "\n") {
		if line = strings.TrimSpace(line); line != "" && line != "%%" {
			first = line
			break
		}
	}
	if len(first) > 60 {
		first = first[:57] + "..."
	}
	if first != "" {
		s += fmt.Sprintf(" %q", first)
	}
	return s
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// Check checks one executed notebook. An error means the file is not a readable notebook.
func Check(data []byte) (*Report, error) { return checkWith(data, nil, false) }

// checkWith is Check, with the belm.expect of another notebook (its source) when override is set.
func checkWith(data []byte, expect json.RawMessage, override bool) (*Report, error) {
	var nb notebook
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, fmt.Errorf("not a notebook: %w", err)
	}
	if nb.NBFormat != 4 {
		return nil, fmt.Errorf("nbformat %d not supported (want 4)", nb.NBFormat)
	}
	r := &Report{Cells: len(nb.Cells)}
	var text strings.Builder // the text outputs of all cells, which belm.expect's regexes search
	for i := range nb.Cells {
		if c := &nb.Cells[i]; c.CellType == "code" {
			r.checkCell(i, c, &text)
		}
	}
	if !override && nb.Metadata.Belm != nil {
		expect = nb.Metadata.Belm.Expect
	}
	r.checkExpects(expect, text.String())
	return r, nil
}

// addText appends one text output to text, ending it with a newline.
func addText(text *strings.Builder, s string) {
	text.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		text.WriteByte('\n')
	}
}

// checkCell checks that code cell i ran and has no error output, counts its images and
// appends its text outputs to text.
func (r *Report) checkCell(i int, c *cell, text *strings.Builder) {
	r.CodeCells++
	// nbclient skips code cells whose source is blank: they never get an execution_count.
	if strings.TrimSpace(string(c.Source)) != "" {
		if c.ExecutionCount == nil {
			r.fail("%s did not run (no execution_count)", cellName(i, c))
		} else {
			r.Executed++
		}
	}
	var stderr strings.Builder // the cell's stderr: where a Go panic message lands
	for _, o := range c.Outputs {
		if o.OutputType == "stream" && o.Name == "stderr" {
			stderr.WriteString(string(o.Text))
		}
	}
	for _, o := range c.Outputs {
		switch o.OutputType {
		case "error":
			r.fail("%s has an error output: %s", cellName(i, c), errorMessage(&o, stderr.String()))
		case "stream":
			addText(text, string(o.Text))
		case "display_data", "execute_result", "update_display_data":
			for _, mime := range []string{"text/plain", "text/markdown"} {
				if raw, ok := o.Data[mime]; ok {
					var m multiline
					if err := json.Unmarshal(raw, &m); err != nil {
						r.fail("%s: bad %s output: %v", cellName(i, c), mime, err)
						continue
					}
					addText(text, string(m))
				}
			}
			if isImage(o.Data) {
				r.Images++
			}
		}
	}
}

// errorMessage describes an error output: its name and value, its traceback (when it
// says more, shortened to 400 bytes) and the last lines of the cell's stderr.
func errorMessage(o *output, stderr string) string {
	msg := strings.TrimSpace(o.Ename + ": " + o.Evalue)
	if tb := strings.TrimSpace(ansi.ReplaceAllString(strings.Join(o.Traceback, "\n"), "")); tb != "" && !strings.Contains(msg, tb) {
		if len(tb) > 400 {
			tb = tb[:400] + "..."
		}
		msg += "\n      " + strings.ReplaceAll(tb, "\n", "\n      ")
	}
	if tail := lastLines(ansi.ReplaceAllString(stderr, ""), 12); tail != "" {
		msg += "\n      stderr:\n      " + strings.ReplaceAll(tail, "\n", "\n      ")
	}
	return msg
}

// checkExpects checks the entries of the metadata belm.expect (raw; absent or null: no
// checks) against the notebook's text output.
func (r *Report) checkExpects(raw json.RawMessage, text string) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var expects []Expect
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&expects); err != nil {
		r.fail("metadata belm.expect: want a list of {regex, min, max, min_images, note}: %v", err)
		return
	}
	r.Expects = len(expects)
	for k, e := range expects {
		r.checkExpect(k, &e, text)
	}
}

func (r *Report) checkExpect(k int, e *Expect, text string) {
	name := fmt.Sprintf("belm.expect[%d]", k)
	if e.Note != "" {
		name += " (" + e.Note + ")"
	}
	if e.Regex == "" && e.MinImages == nil {
		r.fail("%s: needs \"regex\" and/or \"min_images\"", name)
		return
	}
	if e.Regex == "" && (e.Min != nil || e.Max != nil) {
		r.fail("%s: \"min\"/\"max\" need a \"regex\" with a capture group", name)
	}
	if e.MinImages != nil && r.Images < *e.MinImages {
		r.fail("%s: %d image output(s) (image/png, image/svg+xml), want at least %d", name, r.Images, *e.MinImages)
	}
	if e.Regex == "" {
		return
	}
	re, err := regexp.Compile(e.Regex)
	if err != nil {
		r.fail("%s: bad regex: %v", name, err)
		return
	}
	m := re.FindStringSubmatch(text)
	if m == nil {
		r.fail("%s: regex %q matches no text output", name, e.Regex)
		return
	}
	if e.Min == nil && e.Max == nil {
		return
	}
	if len(m) < 2 {
		r.fail("%s: regex %q has no capture group for min/max", name, e.Regex)
		return
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(m[1]), 64)
	if err != nil {
		r.fail("%s: regex %q captured %q, not a number", name, e.Regex, m[1])
		return
	}
	if (e.Min != nil && !(v >= *e.Min)) || (e.Max != nil && !(v <= *e.Max)) {
		r.fail("%s: %q = %g, want within [%s, %s]", name, m[0], v, bound(e.Min, "-inf"), bound(e.Max, "+inf"))
	}
}

// lastLines returns the last n non-blank-trailing lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n "), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func bound(p *float64, none string) string {
	if p == nil {
		return none
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// isImage reports whether a display output carries a real image.
func isImage(data map[string]json.RawMessage) bool {
	if raw, ok := data["image/png"]; ok {
		var m multiline
		if json.Unmarshal(raw, &m) == nil {
			b64 := strings.Join(strings.Fields(string(m)), "")
			if b, err := base64.StdEncoding.DecodeString(b64); err == nil && bytes.HasPrefix(b, pngMagic) {
				return true
			}
		}
	}
	if raw, ok := data["image/svg+xml"]; ok {
		var m multiline
		if json.Unmarshal(raw, &m) == nil && strings.Contains(string(m), "<svg") {
			return true
		}
	}
	return false
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nbcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("q", false, "print failures only")
	current := fs.Bool("current", false, "check that EXECUTED_DIR holds a current executed copy of every notebook of NOTEBOOK_DIR")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nbcheck [-q] EXECUTED.ipynb...\n       nbcheck [-q] -current EXECUTED_DIR NOTEBOOK_DIR\n\n"+
			"Checks executed notebooks: no error outputs, every code cell ran, metadata belm.expect holds;\n"+
			"with -current, also that each executed copy has its notebook's cells as they are now.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *current {
		return runCurrent(fs.Args(), *quiet, stdout, stderr)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	failed := 0
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		var r *Report
		if err == nil {
			r, err = Check(data)
		}
		if err != nil {
			fmt.Fprintf(stdout, "FAIL %s: %v\n", path, err)
			failed++
			continue
		}
		if !r.OK() {
			failed++
			fmt.Fprintf(stdout, "FAIL %s\n", path)
			for _, p := range r.Problems {
				fmt.Fprintf(stdout, "  - %s\n", p)
			}
			continue
		}
		if !*quiet {
			exp := fmt.Sprintf("%d belm.expect check(s)", r.Expects)
			if r.Expects == 0 {
				exp = "no belm.expect metadata"
			}
			fmt.Fprintf(stdout, "ok   %s: %d/%d code cells ran, %d image(s), %s\n", path, r.Executed, r.CodeCells, r.Images, exp)
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "nbcheck: %d of %d notebook(s) failed\n", failed, fs.NArg())
		return 1
	}
	return 0
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
