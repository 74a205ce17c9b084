// Package backends selects the GoMLX compute backend the workbench runs on.
//
// The pure-Go backend ("go") is always compiled in and is the default: it needs no
// native library and is the only backend on which float64 is exact end to end.
// Others are opt-in at build time:
//
//	onnx  ONNX Runtime (fast on CPU); build with -tags onnx and run `make onnxruntime`
//	xla   XLA/PJRT (CPU or CUDA);     build with -tags xla and install a PJRT plugin (InstallXLA)
//
// The environment variable GOMLX_BACKEND (e.g. "go", "onnx", "onnx:cpu,threads=1") overrides
// the default.
//
// A bare "go" means "go:ops_sequential": graph ops run one after another (each op still uses
// every core). compute v0.1.6's parallel op scheduler can deadlock with its matmul workers (a
// batch-64 UNet forward hung for minutes, see BENCHMARKS.md), and sequential ops measured as
// fast on the UNet and faster on sampler steps. "go:ops_parallel" opts back in. Asking for a backend that is not compiled in is an error that says how to
// get it; GoMLX itself would panic or try to download a plugin.
package backends

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // the embedded default backend, "go"
)

// Default is the backend used when neither a name nor GOMLX_BACKEND is given.
const Default = "go"

// EnvVar is the environment variable that overrides the default backend.
const EnvVar = "GOMLX_BACKEND"

// howToGet says how to compile in each optional backend.
var howToGet = map[string]string{
	"onnx": "rebuild with `-tags onnx` (e.g. `go build -tags onnx ./cmd/belm`) and fetch the library with `make onnxruntime`",
	"xla":  "rebuild with `-tags xla` (e.g. `go build -tags xla ./cmd/belm`), then install a PJRT plugin with `belm install-xla --plugin cpu|cuda`",
}

// Compiled lists the backends compiled into this binary, sorted.
func Compiled() []string {
	l := compute.List()
	sort.Strings(l)
	return l
}

// Resolve returns the backend configuration to use: name if not empty, else
// $GOMLX_BACKEND if set, else Default; a bare "go" becomes "go:ops_sequential", and an
// "onnx" configuration without threads=N gets threads=GOMAXPROCS (see OnnxThreads).
func Resolve(name string) string {
	config := name
	if config == "" {
		config = strings.TrimSpace(os.Getenv(EnvVar))
	}
	if config == "" {
		config = Default
	}
	if config == "go" {
		config = "go:ops_sequential"
	}
	if Name(config) == "onnx" && !strings.Contains(strings.ToLower(config), "threads=") {
		config = withOption(config, "threads="+strconv.Itoa(OnnxThreads()))
	}
	return config
}

// withOption appends an option to a backend configuration: "onnx" + "threads=1" is
// "onnx:threads=1", "onnx:cpu" + "threads=1" is "onnx:cpu,threads=1".
func withOption(config, option string) string {
	if strings.Contains(config, ":") {
		return config + "," + option
	}
	return config + ":" + option
}

// OnnxThreads is the number of intra-op threads an "onnx" configuration gets when it does not
// say (e.g. "onnx:cpu,threads=1"): runtime.GOMAXPROCS, which follows $GOMAXPROCS and the
// container's CPU quota. ONNX Runtime's own default is one thread per physical core as its
// cpuinfo counts them, and on this project's 2-core virtual machines it counts one: the
// full-size UNet forward at batch 8 ran in ~700 ms on one thread and ~430 ms on two
// (BENCHMARKS.md). The option comes from our patch of compute-onnx (third_party/compute-onnx).
func OnnxThreads() int { return runtime.GOMAXPROCS(0) }

// SplitList splits a comma-separated list of backend configurations, keeping the options of
// one configuration together: in "go,onnx:cpu,threads=1" the piece "threads=1" (a key=value
// with no backend name before a colon) belongs to "onnx:cpu", giving ["go", "onnx:cpu,threads=1"];
// "onnx,threads=1" is "onnx:threads=1". An option before any backend is an error.
func SplitList(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
		case strings.Contains(p, "=") && !strings.Contains(p, ":"):
			if len(out) == 0 {
				return nil, fmt.Errorf("backend list %q: option %q comes before any backend (write e.g. onnx:cpu,%s)", s, p, p)
			}
			out[len(out)-1] = withOption(out[len(out)-1], p)
		default:
			out = append(out, p)
		}
	}
	return out, nil
}

// Name returns the backend name part of a configuration ("onnx:cpu" -> "onnx").
func Name(config string) string {
	n, _, _ := strings.Cut(config, ":")
	return n
}

var (
	mu    sync.Mutex
	cache = map[string]compute.Backend{}
)

// New returns the backend for config (see Resolve for the empty string). Backends are
// cached: asking twice for the same configuration returns the same backend, so
// compiled graphs and buffers can be shared.
func New(config string) (compute.Backend, error) {
	config = Resolve(config)
	name := Name(config)
	if !slices.Contains(compute.List(), name) {
		msg := fmt.Sprintf("backend %q is not compiled into this binary (compiled in: %s)", name, strings.Join(Compiled(), ", "))
		if how, ok := howToGet[name]; ok {
			msg += ": " + how
		} else {
			msg += fmt.Sprintf(": known backends are go, onnx, xla; check %s", EnvVar)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := cache[config]; ok && !b.IsFinalized() {
		return b, nil
	}
	b, err := newBackend(config)
	if err != nil {
		for _, hint := range startHints {
			err = hint(config, err)
		}
		return nil, fmt.Errorf("starting backend %q: %w", config, err)
	}
	cache[config] = b
	return b, nil
}

// startHints rewrite a backend's start error into one that says how to fix it (xla: the
// missing PJRT plugin).
var startHints []func(config string, err error) error

// newBackend calls compute.NewWithConfig, turning its panics into errors. The go backend
// prints its options (compute v0.1.6: "Go backend: parallelism set to 2") on standard
// output, where they would corrupt a command's --format json; while it starts, standard
// output is standard error. New holds mu, so no two starts swap it at once.
func newBackend(config string) (b compute.Backend, err error) {
	stdout := os.Stdout
	os.Stdout = os.Stderr
	defer func() {
		os.Stdout = stdout
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return compute.NewWithConfig(config)
}

// ExactFloat64 reports whether float64 computations on the named backend are really
// carried out in float64. ONNX Runtime silently runs float64 convolutions in float32
// (measured error ~1e-6 instead of ~1e-14), so it is not.
func ExactFloat64(config string) bool {
	return Name(Resolve(config)) != "onnx"
}
