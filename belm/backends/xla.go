//go:build xla

package backends

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/gomlx/go-xla/compute/xla" // registers "xla"
	"github.com/gomlx/go-xla/installer"
)

func init() {
	// Never download a plugin behind the user's back (a test, an offline machine): the user
	// opts in with InstallXLA (`belm install-xla`).
	if os.Getenv("GOMLX_NO_AUTO_INSTALL") == "" {
		os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	}
	startHints = append(startHints, xlaPluginHint)
}

// XLAPluginDir is the folder InstallXLA installs PJRT plugins into and go-xla searches by
// default: ~/.local/lib/go-xla on Linux.
func XLAPluginDir() (string, error) {
	lib, err := installer.DefaultHomeLibPath()
	if err != nil {
		return "", err
	}
	return filepath.Join(lib, "go-xla"), nil
}

// InstallXLA downloads and installs a PJRT plugin ("cpu", "cuda") into XLAPluginDir (a
// download from the network: the user's explicit choice, never a test's).
func InstallXLA(plugin string) (string, error) {
	switch plugin {
	case "cpu", "cuda":
	default:
		return "", fmt.Errorf("unknown PJRT plugin %q: use cpu or cuda", plugin)
	}
	dir, err := XLAPluginDir()
	if err != nil {
		return "", err
	}
	if err := installer.AutoInstallPlugin(plugin, filepath.Dir(dir), true, installer.Normal); err != nil {
		return "", fmt.Errorf("installing the %s PJRT plugin into %s: %w (offline: %s)", plugin, dir, err, xlaOffline(plugin, dir))
	}
	return dir, nil
}

// xlaPluginHint turns go-xla's "no plugins found" into the fix.
func xlaPluginHint(config string, err error) error {
	if Name(config) != "xla" || !strings.Contains(err.Error(), "no plugins found") && !strings.Contains(err.Error(), "not found in paths") {
		return err
	}
	plugin := "cpu"
	if strings.Contains(config, "cuda") {
		plugin = "cuda"
	}
	dir, _ := XLAPluginDir()
	return fmt.Errorf("the xla backend needs a PJRT plugin and found none: with network access run `belm install-xla --plugin %s` (installs into %s); offline, %s (%w)",
		plugin, dir, xlaOffline(plugin, dir), err)
}

func xlaOffline(plugin, dir string) string {
	return fmt.Sprintf("copy pjrt_c_api_%s_plugin.so into %s or /usr/local/lib/go-xla, or set PJRT_PLUGIN_LIBRARY_PATH to the folder holding it", plugin, dir)
}
