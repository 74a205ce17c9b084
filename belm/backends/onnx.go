//go:build onnx

package backends

import (
	"os"
	"path/filepath"

	onnx "github.com/gomlx/compute-onnx" // registers "onnx"
)

// LibraryCacheDir is where kernels/onnxruntime.sh puts libonnxruntime.so.1.
func LibraryCacheDir() string {
	if d := os.Getenv("BELM_ONNXRUNTIME_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "belm", "onnxruntime")
	}
	return filepath.Join(os.TempDir(), "belm-onnxruntime")
}

func init() {
	// Never let compute-onnx try to download ONNX Runtime (these machines are offline):
	// point it at the library fetched by kernels/onnxruntime.sh unless the user set a path.
	// compute-onnx reads GOMLX_NO_AUTO_INSTALL in its own init, which runs before this one,
	// so setting the variable here is too late for it: turn the download off explicitly.
	if os.Getenv("GOMLX_NO_AUTO_INSTALL") == "" {
		os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
		onnx.EnableAutoInstall(false)
	}
	if os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH") == "" {
		lib := filepath.Join(LibraryCacheDir(), "libonnxruntime.so.1")
		if _, err := os.Stat(lib); err == nil {
			os.Setenv("ONNXRUNTIME_SHARED_LIBRARY_PATH", lib)
		}
	}
}
