package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func markdown(src string) nbCell {
	return nbCell{"cell_type": "markdown", "id": "m", "source": src, "metadata": map[string]any{}}
}

// stripped is a notebook as committed (nbstrip: no outputs, no execution counts) with the same
// cells as an executed one.
func stripped(t *testing.T, expect any, cells ...nbCell) []byte {
	t.Helper()
	var out []nbCell
	for _, c := range cells {
		s := nbCell{}
		for k, v := range c {
			s[k] = v
		}
		if s["cell_type"] == "code" {
			s["outputs"], s["execution_count"] = []any{}, nil
		}
		out = append(out, s)
	}
	return makeNB(t, expect, out...)
}

func TestCurrentCopy(t *testing.T) {
	expect := []any{map[string]any{"regex": `A = ([0-9.]+)`, "min": 2, "max": 2.1}}
	exe := makeNB(t, expect, markdown("# Title"), code(1, stream("A = 2.07\n")))
	problems := func(nb, exe []byte) string {
		t.Helper()
		p, err := CurrentCopy(nb, exe)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(p, "\n")
	}

	// The same cells: current, whatever the outputs and execution counts (the notebook has none).
	if p := problems(stripped(t, expect, markdown("# Title"), code(1)), exe); p != "" {
		t.Errorf("want current, got %s", p)
	}
	// Code or markdown edited, a cell added or removed, a cell's type changed: not current.
	edited := code(1)
	edited["source"] = []string{"fmt.Println(1)\n", "x := 3"}
	for name, tc := range map[string]struct {
		nb   []byte
		want string
	}{
		"code edited":     {stripped(t, expect, markdown("# Title"), edited), `cell 2 differs: the notebook's code cell line 2 "x := 3", the executed copy's code cell line 2 "x := 2"`},
		"markdown edited": {stripped(t, expect, markdown("# Title, why A spikes"), code(1)), `cell 1 differs: the notebook's markdown cell line 1 "# Title, why A spikes"`},
		"cell added":      {stripped(t, expect, markdown("# Title"), code(1), markdown("The end.")), `the notebook has 3 cells, the executed copy 2: cell 3 (markdown "The end.") is new`},
		"cell removed":    {stripped(t, expect, markdown("# Title")), `the notebook has 1 cells, the executed copy 2: its cell 2 (code "fmt.Println(1)") was removed`},
		"type changed":    {stripped(t, expect, markdown("# Title"), markdown("fmt.Println(1)\nx := 2")), `cell 2 differs: the notebook's markdown cell`},
	} {
		if p := problems(tc.nb, exe); !strings.Contains(p, tc.want) {
			t.Errorf("%s: want a problem containing\n  %s\ngot\n  %s", name, tc.want, p)
		}
	}
	// The executed copy is held to the notebook's belm.expect as it is now, not to its own.
	stricter := []any{map[string]any{"regex": `A = ([0-9.]+)`, "min": 2.5}}
	if p := problems(stripped(t, stricter, markdown("# Title"), code(1)), exe); !strings.Contains(p, `"A = 2.07" = 2.07, want within [2.5, +inf]`) {
		t.Errorf("notebook's new belm.expect not applied: %q", p)
	}
	// It must have run without errors.
	failed := makeNB(t, expect, markdown("# Title"), code(nil))
	if p := problems(stripped(t, expect, markdown("# Title"), code(1)), failed); !strings.Contains(p, "did not run") {
		t.Errorf("a copy whose cell did not run: %q", p)
	}
}

func TestCurrentDirs(t *testing.T) {
	dir := t.TempDir()
	nbDir, exeDir := filepath.Join(dir, "notebooks"), filepath.Join(dir, "notebooks", "executed")
	os.MkdirAll(exeDir, 0o755)
	write := func(path string, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(nbDir, "01_a.ipynb"), stripped(t, nil, code(1)))
	write(filepath.Join(exeDir, "01_a.ipynb"), makeNB(t, nil, code(1, stream("hi"))))
	write(filepath.Join(nbDir, "02_b.ipynb"), stripped(t, nil, code(1)))

	var out, errOut bytes.Buffer
	run := func(args ...string) int {
		out.Reset()
		errOut.Reset()
		return run(args, &out, &errOut)
	}
	// 02_b has no executed copy.
	if rc := run("-current", exeDir, nbDir); rc != 1 {
		t.Fatalf("rc = %d, want 1\n%s", rc, out.String())
	}
	for _, want := range []string{
		"FAIL " + exeDir + " is not current with " + nbDir,
		filepath.Join(exeDir, "02_b.ipynb") + ": no executed copy of " + filepath.Join(nbDir, "02_b.ipynb"),
		"Regenerate the executed copies: make notebooks-executed",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "01_a.ipynb:") {
		t.Errorf("01_a is current, yet reported:\n%s", out.String())
	}
	// All current.
	write(filepath.Join(exeDir, "02_b.ipynb"), makeNB(t, nil, code(1)))
	if rc := run("-current", exeDir, nbDir); rc != 0 || !strings.Contains(out.String(), "every executed copy is current") {
		t.Fatalf("rc = %d\n%s", rc, out.String())
	}
	// A copy whose notebook is gone.
	write(filepath.Join(exeDir, "03_gone.ipynb"), makeNB(t, nil, code(1)))
	if rc := run("-current", exeDir, nbDir); rc != 1 || !strings.Contains(out.String(), "03_gone.ipynb: no notebook") {
		t.Errorf("rc = %d\n%s", rc, out.String())
	}
	// Usage errors.
	if rc := run("-current", exeDir); rc != 2 {
		t.Errorf("one dir: rc = %d, want 2", rc)
	}
	if rc := run("-current", exeDir, filepath.Join(dir, "empty")); rc != 2 || !strings.Contains(errOut.String(), "no notebooks in") {
		t.Errorf("no notebooks: rc = %d, %s", rc, errOut.String())
	}
	// Not JSON.
	write(filepath.Join(exeDir, "02_b.ipynb"), []byte("{"))
	os.Remove(filepath.Join(exeDir, "03_gone.ipynb"))
	if rc := run("-current", exeDir, nbDir); rc != 1 || !strings.Contains(out.String(), "02_b.ipynb: executed copy: not a notebook") {
		t.Errorf("broken copy: rc = %d\n%s", rc, out.String())
	}
}
