//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package safetensors

import (
	"errors"
	"os"
)

// mapFile is not supported here: Open reads the file instead.
func mapFile(f *os.File, size int) ([]byte, func([]byte) error, error) {
	return nil, nil, errors.New("memory mapping not supported")
}
