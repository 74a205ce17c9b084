package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The -current mode: executed copies kept next to their notebooks (notebooks/executed, committed so
// that a reader of the repository sees every notebook with its figures) must be the notebooks as they
// are now.
//
//	go run ./kernels/nbcheck -current notebooks/executed notebooks
//
// Every NOTEBOOK_DIR/NAME.ipynb needs EXECUTED_DIR/NAME.ipynb whose cells have the same types and
// sources, in the same order (nbconvert changes neither: a difference means that the notebook
// changed after its copy was executed), whose code cells all ran without an error output, and whose
// outputs satisfy the notebook's metadata belm.expect as it is now. An executed copy without a
// notebook is a failure too (the notebook was renamed or removed). It is a source comparison: nothing
// is executed, so it takes a few milliseconds.

// regenerate is the command that makes executed copies current, printed with every failure.
const regenerate = "make notebooks-executed"

// cellSource is what -current compares of a cell.
type cellSource struct {
	Type, Source string
}

// sources returns the type and source of every cell of a notebook, and its metadata belm.expect.
func sources(data []byte) ([]cellSource, json.RawMessage, error) {
	var nb notebook
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, nil, fmt.Errorf("not a notebook: %w", err)
	}
	cells := make([]cellSource, len(nb.Cells))
	for i, c := range nb.Cells {
		cells[i] = cellSource{c.CellType, string(c.Source)}
	}
	var expect json.RawMessage
	if nb.Metadata.Belm != nil {
		expect = nb.Metadata.Belm.Expect
	}
	return cells, expect, nil
}

// CurrentCopy checks one executed copy against its notebook; it returns the problems found.
func CurrentCopy(notebookData, executedData []byte) ([]string, error) {
	want, expect, err := sources(notebookData)
	if err != nil {
		return nil, fmt.Errorf("notebook: %w", err)
	}
	got, _, err := sources(executedData)
	if err != nil {
		return nil, fmt.Errorf("executed copy: %w", err)
	}
	var problems []string
	if d := firstDifference(want, got); d != "" {
		problems = append(problems, d)
	}
	// The copy ran without errors and its outputs pass the notebook's checks as they are now.
	r, err := checkWith(executedData, expect, true)
	if err != nil {
		return nil, fmt.Errorf("executed copy: %w", err)
	}
	return append(problems, r.Problems...), nil
}

// firstDifference describes the first cell where the executed copy differs from the notebook
// ("" when none does).
func firstDifference(want, got []cellSource) string {
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("the notebook has %d cells, the executed copy %d: cell %d (%s %q) is new", len(want), len(got), i+1, want[i].Type, firstLine(want[i].Source))
		case i >= len(want):
			return fmt.Sprintf("the notebook has %d cells, the executed copy %d: its cell %d (%s %q) was removed", len(want), len(got), i+1, got[i].Type, firstLine(got[i].Source))
		case want[i] != got[i]:
			return fmt.Sprintf("cell %d differs: the notebook's %s cell %s, the executed copy's %s cell %s",
				i+1, want[i].Type, lineDiff(want[i].Source, got[i].Source), got[i].Type, lineDiff(got[i].Source, want[i].Source))
		}
	}
	return ""
}

// lineDiff quotes the first line of a that differs from b, with its line number.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i, l := range al {
		if i >= len(bl) || l != bl[i] {
			return fmt.Sprintf("line %d %q", i+1, shorten(l))
		}
	}
	return fmt.Sprintf("ends after line %d", len(al))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return shorten(l)
}

func shorten(s string) string {
	if r := []rune(s); len(r) > 70 {
		return string(r[:67]) + "..."
	}
	return s
}

// Current checks that executedDir holds a current executed copy of every notebook of notebookDir
// and nothing else; it returns the problems, each naming its file.
func Current(executedDir, notebookDir string) ([]string, error) {
	notebooks, err := filepath.Glob(filepath.Join(notebookDir, "*.ipynb"))
	if err != nil {
		return nil, err
	}
	if len(notebooks) == 0 {
		return nil, fmt.Errorf("no notebooks in %s", notebookDir)
	}
	copies, err := filepath.Glob(filepath.Join(executedDir, "*.ipynb"))
	if err != nil {
		return nil, err
	}
	var problems []string
	for _, nb := range notebooks {
		problems = append(problems, currentFile(nb, filepath.Join(executedDir, filepath.Base(nb)))...)
	}
	for _, c := range copies {
		if !slices.Contains(notebooks, filepath.Join(notebookDir, filepath.Base(c))) {
			problems = append(problems, fmt.Sprintf("%s: no notebook %s (renamed or removed?): delete the copy", c, filepath.Join(notebookDir, filepath.Base(c))))
		}
	}
	return problems, nil
}

// currentFile checks the executed copy exe of notebook nb.
func currentFile(nb, exe string) []string {
	want, err := os.ReadFile(nb)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", nb, err)}
	}
	got, err := os.ReadFile(exe)
	if os.IsNotExist(err) {
		return []string{fmt.Sprintf("%s: no executed copy of %s", exe, nb)}
	} else if err != nil {
		return []string{fmt.Sprintf("%s: %v", exe, err)}
	}
	problems, err := CurrentCopy(want, got)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", exe, err)}
	}
	for i, p := range problems {
		problems[i] = exe + ": " + p
	}
	return problems
}

// runCurrent is `nbcheck -current EXECUTED_DIR NOTEBOOK_DIR`.
func runCurrent(args []string, quiet bool, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: nbcheck -current EXECUTED_DIR NOTEBOOK_DIR")
		return 2
	}
	problems, err := Current(args[0], args[1])
	if err != nil {
		fmt.Fprintf(stderr, "nbcheck -current: %v\n", err)
		return 2
	}
	if len(problems) == 0 {
		if !quiet {
			fmt.Fprintf(stdout, "ok   %s: every executed copy is current with %s\n", args[0], args[1])
		}
		return 0
	}
	fmt.Fprintf(stdout, "FAIL %s is not current with %s:\n", args[0], args[1])
	for _, p := range problems {
		fmt.Fprintf(stdout, "  - %s\n", p)
	}
	fmt.Fprintf(stdout, "Regenerate the executed copies: %s (all notebooks; NOTEBOOKS=%s/NAME.ipynb for some), then commit %s.\n",
		regenerate, args[1], args[0])
	return 1
}
