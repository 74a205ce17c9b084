//go:build xla

package backends

import (
	"os"

	_ "github.com/gomlx/go-xla/compute/xla" // registers "xla"
)

func init() {
	// No plugin downloads: the user installs the PJRT plugin.
	if os.Getenv("GOMLX_NO_AUTO_INSTALL") == "" {
		os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	}
}
