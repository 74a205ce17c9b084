//go:build xla

package backends

import (
	"strings"
	"testing"
)

// Without a plugin the xla backend is an error that names the fix (make test runs this with
// -tags xla and an empty plugin path; a machine with a plugin runs make test-xla instead).
func TestXLAMissingPlugin(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	_, err := New("xla:cpu")
	if err == nil {
		t.Fatal("xla started with PJRT_PLUGIN_LIBRARY_PATH and HOME empty: a plugin in a system folder (/usr/local/lib/go-xla) hides the error path; run make test-xla on this machine instead")
	}
	for _, want := range []string{"belm install-xla --plugin cpu", "PJRT_PLUGIN_LIBRARY_PATH", "pjrt_c_api_cpu_plugin.so"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q: %v", want, err)
		}
	}
	if _, err := InstallXLA("tpu9"); err == nil || !strings.Contains(err.Error(), "use cpu or cuda") {
		t.Errorf("unknown plugin: %v", err)
	}
}
