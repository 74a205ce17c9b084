// Package atomicfile writes files so that an interrupted run never leaves a half-written
// one: the data goes to a temporary file in the same directory, is flushed to disk, and is
// renamed over the target only when complete.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically, creating the directory; the file gets mode 0644.
// On any error nothing is left at path (an existing file stays as it was) and no temporary
// file remains.
func WriteFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil { // CreateTemp makes it 0600
		return err
	}
	return os.Rename(f.Name(), path)
}

// Staged is a folder of outputs written as one: the files go to a hidden temporary folder
// beside the target, and Commit moves them into the target only when all are written, so a
// run that fails part-way leaves the target as it was (no half-complete set of figures).
type Staged struct {
	final, tmp string
	created    []string // the folders Stage had to create for tmp, deepest first
}

// Stage prepares a staging folder for the target folder final.
func Stage(final string) (*Staged, error) {
	final = filepath.Clean(final)
	parent := filepath.Dir(final)
	var created []string
	for p := parent; ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || filepath.Dir(p) == p {
			break
		}
		created = append(created, p)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(final)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &Staged{final: final, tmp: tmp, created: created}, nil
}

// Path is the folder to write the outputs into.
func (s *Staged) Path() string { return s.tmp }

// Commit moves every staged file into the target folder (created if needed; files of the
// same name are replaced, others kept) and removes the staging folder.
func (s *Staged) Commit() error {
	err := filepath.WalkDir(s.tmp, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(s.tmp, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(s.final, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		return os.Rename(p, dst)
	})
	if err != nil {
		return fmt.Errorf("moving the outputs into %s: %w", s.final, err)
	}
	return os.RemoveAll(s.tmp)
}

// Abort removes the staging folder and the folders Stage created for it, those left empty
// (another process may have written into them since).
func (s *Staged) Abort() {
	os.RemoveAll(s.tmp)
	for _, d := range s.created {
		os.Remove(d) // only when empty
	}
}
