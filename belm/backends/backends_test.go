package backends

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	t.Setenv(EnvVar, "")
	if got := Resolve(""); got != "go:ops_sequential" {
		t.Errorf("default: %q", got)
	}
	t.Setenv(EnvVar, "onnx:cpu")
	if got := Resolve(""); got != "onnx:cpu" || Name(got) != "onnx" {
		t.Errorf("from $GOMLX_BACKEND: %q", got)
	}
	if got := Resolve("go:ops_parallel"); got != "go:ops_parallel" {
		t.Errorf("explicit configuration: %q", got)
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
