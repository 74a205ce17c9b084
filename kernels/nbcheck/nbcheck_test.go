package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A 1x1 PNG.
var tinyPNG = base64.StdEncoding.EncodeToString(append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 16)...))

type nbCell = map[string]any

func code(n any, outputs ...map[string]any) nbCell {
	if outputs == nil {
		outputs = []map[string]any{}
	}
	return nbCell{"cell_type": "code", "id": "c", "source": []string{"fmt.Println(1)\n", "x := 2"},
		"execution_count": n, "metadata": map[string]any{}, "outputs": outputs}
}

func stream(text string) map[string]any {
	return map[string]any{"output_type": "stream", "name": "stdout", "text": []string{text}}
}

func display(mime, data string) map[string]any {
	return map[string]any{"output_type": "display_data", "data": map[string]any{mime: data}, "metadata": map[string]any{}}
}

func makeNB(t *testing.T, expect any, cells ...nbCell) []byte {
	t.Helper()
	meta := map[string]any{"kernelspec": map[string]any{"name": "belm-go"}}
	if expect != nil {
		meta["belm"] = map[string]any{"expect": expect}
	}
	b, err := json.Marshal(map[string]any{"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": cells})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func check(t *testing.T, nb []byte) *Report {
	t.Helper()
	r, err := Check(nb)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return r
}

func wantOK(t *testing.T, r *Report) {
	t.Helper()
	if !r.OK() {
		t.Fatalf("want OK, got problems:\n%s", strings.Join(r.Problems, "\n"))
	}
}

func wantFail(t *testing.T, r *Report, substr string) {
	t.Helper()
	if r.OK() {
		t.Fatalf("want a failure containing %q, got OK", substr)
	}
	all := strings.Join(r.Problems, "\n")
	if !strings.Contains(all, substr) {
		t.Fatalf("want a failure containing %q, got:\n%s", substr, all)
	}
}

func TestPassingNotebook(t *testing.T) {
	nb := makeNB(t,
		[]any{
			map[string]any{"regex": `O-BELM LTE slope = ([0-9.]+)`, "min": 2.75, "max": 3.25},
			map[string]any{"regex": `(?m)^backends: .*go`},
			map[string]any{"min_images": 2},
		},
		nbCell{"cell_type": "markdown", "source": "# Title", "metadata": map[string]any{}},
		code(1, stream("backends: [go]\n")),
		code(2, display("image/png", tinyPNG), display("image/svg+xml", "<svg xmlns='http://www.w3.org/2000/svg'></svg>")),
		code(3, map[string]any{"output_type": "execute_result", "execution_count": 3,
			"data": map[string]any{"text/plain": []string{"O-BELM LTE slope = ", "3.01"}}, "metadata": map[string]any{}}),
		code(nil), // blank cell: never executed by nbclient, fine
	)
	// Make the last cell blank.
	var m map[string]any
	json.Unmarshal(nb, &m)
	cells := m["cells"].([]any)
	cells[len(cells)-1].(map[string]any)["source"] = "  \n"
	nb, _ = json.Marshal(m)

	r := check(t, nb)
	wantOK(t, r)
	if r.Images != 2 || r.Expects != 3 || r.Executed != 3 || r.CodeCells != 4 {
		t.Errorf("report = %+v", r)
	}
}

func TestErrorOutput(t *testing.T) {
	nb := makeNB(t, nil, code(1), code(2,
		map[string]any{"output_type": "stream", "name": "stderr", "text": "panic: boom\n\ngoroutine 1 [running]:\n"},
		map[string]any{"output_type": "error", "ename": "ERROR",
			"evalue": "panic: boom", "traceback": []string{"\x1b[31mgoroutine 1 [running]:\x1b[0m", "main.main()"}}))
	r := check(t, nb)
	wantFail(t, r, `cell 2 (id c) "fmt.Println(1)" has an error output: ERROR: panic: boom`)
	wantFail(t, r, "goroutine 1 [running]:\n")   // ANSI colours stripped
	wantFail(t, r, "stderr:\n      panic: boom") // the cell's stderr (a Go panic message) is quoted
}

func TestCellDidNotRun(t *testing.T) {
	wantFail(t, check(t, makeNB(t, nil, code(1), code(nil))), "cell 2 (id c) \"fmt.Println(1)\" did not run")
}

func TestRegexMissing(t *testing.T) {
	nb := makeNB(t, []any{map[string]any{"regex": "slope = ", "note": "LTE order"}}, code(1, stream("nothing here")))
	wantFail(t, check(t, nb), `belm.expect[0] (LTE order): regex "slope = " matches no text output`)
}

func TestTextSources(t *testing.T) {
	// stream, text/plain and text/markdown all count; text/html does not.
	nb := makeNB(t, []any{
		map[string]any{"regex": "from-stream"},
		map[string]any{"regex": "from-plain"},
		map[string]any{"regex": "from-markdown"},
	}, code(1, stream("from-stream"), display("text/plain", "from-plain"), display("text/markdown", "from-markdown")))
	wantOK(t, check(t, nb))

	nb = makeNB(t, []any{map[string]any{"regex": "from-html"}}, code(1, display("text/html", "<b>from-html</b>")))
	wantFail(t, check(t, nb), "matches no text output")
}

func TestNumericBounds(t *testing.T) {
	re := `O-BELM LTE slope = ([0-9.]+)`
	for _, tc := range []struct {
		text string
		min  any
		max  any
		fail string
	}{
		{"O-BELM LTE slope = 3.01", 2.75, 3.25, ""},
		{"O-BELM LTE slope = 2.75", 2.75, 3.25, ""}, // inclusive
		{"O-BELM LTE slope = 2.10", 2.75, 3.25, `= 2.1, want within [2.75, 3.25]`},
		{"O-BELM LTE slope = 4", 2.75, 3.25, `= 4, want within [2.75, 3.25]`},
		{"O-BELM LTE slope = 4", 2.75, nil, ""},
		{"O-BELM LTE slope = 1", nil, 3.25, ""},
		{"O-BELM LTE slope = 1.2.3", 0, 5, `captured "1.2.3", not a number`},
	} {
		e := map[string]any{"regex": re}
		if tc.min != nil {
			e["min"] = tc.min
		}
		if tc.max != nil {
			e["max"] = tc.max
		}
		r := check(t, makeNB(t, []any{e}, code(1, stream(tc.text+"\n"))))
		if tc.fail == "" {
			wantOK(t, r)
		} else {
			wantFail(t, r, tc.fail)
		}
	}
	// min/max need a capture group.
	r := check(t, makeNB(t, []any{map[string]any{"regex": "slope", "min": 1}}, code(1, stream("slope"))))
	wantFail(t, r, "has no capture group")
}

func TestMinImages(t *testing.T) {
	nb := makeNB(t, []any{map[string]any{"min_images": 1}}, code(1, stream("no images")))
	wantFail(t, check(t, nb), "0 image output(s)")

	// A PNG output whose payload is not a PNG does not count.
	nb = makeNB(t, []any{map[string]any{"min_images": 1}}, code(1, display("image/png", base64.StdEncoding.EncodeToString([]byte("GIF89a")))))
	wantFail(t, check(t, nb), "0 image output(s)")

	// base64 split over several lines (as Jupyter stores it) is fine.
	nb = makeNB(t, []any{map[string]any{"min_images": 1}}, code(1, display("image/png", tinyPNG[:10]+"\n"+tinyPNG[10:])))
	wantOK(t, check(t, nb))
}

func TestBadExpectSchema(t *testing.T) {
	for expect, want := range map[string]string{
		`[{"regex": "x", "min_image": 1}]`: `unknown field "min_image"`,
		`{"regex": "x"}`:                   "want a list",
		`[{}]`:                             `needs "regex" and/or "min_images"`,
		`[{"min_images": 1, "min": 2}]`:    `"min"/"max" need a "regex"`,
		`[{"regex": "("}]`:                 "bad regex",
	} {
		nb := makeNB(t, json.RawMessage(expect), code(1, stream("x"), display("image/png", tinyPNG)))
		wantFail(t, check(t, nb), want)
	}
}

func TestNotANotebook(t *testing.T) {
	if _, err := Check([]byte("{")); err == nil {
		t.Error("want an error for broken JSON")
	}
	if _, err := Check([]byte(`{"nbformat": 3, "cells": []}`)); err == nil {
		t.Error("want an error for nbformat 3")
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ipynb")
	bad := filepath.Join(dir, "bad.ipynb")
	os.WriteFile(good, makeNB(t, []any{map[string]any{"regex": "hi"}}, code(1, stream("hi"))), 0o644)
	os.WriteFile(bad, makeNB(t, nil, code(nil)), 0o644)

	var out, errOut bytes.Buffer
	if rc := run([]string{good}, &out, &errOut); rc != 0 {
		t.Fatalf("good: rc=%d\n%s", rc, out.String())
	}
	if !strings.Contains(out.String(), "ok   "+good+": 1/1 code cells ran, 0 image(s), 1 belm.expect check(s)") {
		t.Errorf("good: output %q", out.String())
	}
	out.Reset()
	if rc := run([]string{good, bad, filepath.Join(dir, "missing.ipynb")}, &out, &errOut); rc != 1 {
		t.Fatalf("bad: rc=%d", rc)
	}
	for _, want := range []string{"FAIL " + bad, "did not run", "missing.ipynb", "2 of 3 notebook(s) failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if rc := run(nil, &out, &errOut); rc != 2 {
		t.Errorf("no args: rc=%d, want 2", rc)
	}
}
