//go:build !xla

package backends

import "errors"

// InstallXLA installs a PJRT plugin; this binary has no xla backend to use one.
func InstallXLA(plugin string) (string, error) {
	return "", errors.New("this binary has no xla backend: rebuild with `-tags xla` (e.g. `go build -tags xla -o belm ./cmd/belm`), then run `belm install-xla`")
}
