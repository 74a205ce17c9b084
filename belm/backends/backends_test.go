package backends

import (
	"fmt"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Setenv(EnvVar, "")
	if got := Resolve(""); got != "go:ops_sequential" {
		t.Errorf("default: %q", got)
	}
	threads := fmt.Sprintf("threads=%d", OnnxThreads())
	t.Setenv(EnvVar, "onnx:cpu")
	if got := Resolve(""); got != "onnx:cpu,"+threads || Name(got) != "onnx" {
		t.Errorf("from $GOMLX_BACKEND: %q", got)
	}
	for in, want := range map[string]string{
		"onnx":                 "onnx:" + threads,
		"onnx:cpu,threads=1":   "onnx:cpu,threads=1", // the user's choice is kept
		"onnx:threads=3,log=1": "onnx:threads=3,log=1",
		"onnx:cpu,Threads=1":   "onnx:cpu,Threads=1", // compute-onnx lowercases keys
	} {
		if got := Resolve(in); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Resolve("go:ops_parallel"); got != "go:ops_parallel" {
		t.Errorf("explicit configuration: %q", got)
	}
}

func TestSplitList(t *testing.T) {
	got, err := SplitList(" go, onnx:cpu,threads=1,spinning=0 ,onnx,, go:ops_parallel,onnx,Threads=1")
	want := []string{"go", "onnx:cpu,threads=1,spinning=0", "onnx", "go:ops_parallel", "onnx:Threads=1"}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SplitList = %q, %v; want %q", got, err, want)
	}
	if _, err := SplitList("threads=1,go"); err == nil || !strings.Contains(err.Error(), "before any backend") {
		t.Errorf("an option before any backend: %v", err)
	}
}

func TestNew(t *testing.T) {
	b, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := New("go"); b2 != b {
		t.Error("backends are not cached")
	}
	for name, hint := range map[string]string{"xla": "-tags xla", "nosuch": "known backends"} {
		if _, err := New(name); err == nil || !strings.Contains(err.Error(), hint) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if ExactFloat64("onnx") || !ExactFloat64("go") {
		t.Error("ExactFloat64")
	}
}
