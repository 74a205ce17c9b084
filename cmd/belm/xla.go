package main

import (
	"fmt"
	"os"

	"github.com/belmlab/workbench/belm/backends"
)

func init() {
	register("install-xla", "download and install the PJRT plugin of the xla backend (cpu or cuda; needs -tags xla and network access)", runInstallXLA)
}

// runInstallXLA is the opt-in download of a PJRT plugin: nothing else in the workbench
// downloads one (the xla backend's own auto-install is switched off).
func runInstallXLA(args []string) error {
	fs := newFlagSet("install-xla")
	plugin := fs.Choice("plugin", "cuda", []string{"cpu", "cuda"}, "the PJRT plugin")
	if err := fs.parse(args); err != nil {
		return err
	}
	dir, err := backends.InstallXLA(*plugin)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "installed the %s PJRT plugin into %s: use --backend xla:%s\n", *plugin, dir, *plugin)
	return nil
}
