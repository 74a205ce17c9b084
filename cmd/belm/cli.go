package main

// The flag layer every command parses with: it makes a class of mistakes impossible rather
// than fixing their instances one by one.
//
//   - A stray word is an error. Go's flag package stops at the first argument that is not a
//     flag and leaves the rest unparsed, so `--sampler_type ddim, belm --save_dir X` would
//     run with every flag after "belm" at its default.
//   - Numbers are range-checked after parsing, defaults included, so 0 never silently means
//     "the default" and an impossible value is refused before any work.
//   - "Not given" is distinguishable from any value (given), for flags whose default depends
//     on another flag.
//   - Output locations are checked before any work (checkOutputDir, checkOutputFile), and
//     sizes against the memory the machine has (checkMemory).
//
// Errors of this layer are usage errors: the command exits with status 2.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/belmlab/workbench/belm"
)

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// flagSet is a command's flags with the checks of this layer.
type flagSet struct {
	*flag.FlagSet
	checks []func() error
}

func newFlagSet(name string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned and printed once by main
	return &flagSet{FlagSet: fs}
}

// parse parses args, rejects positional arguments and runs every range check.
func (f *flagSet) parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "usage: belm %s [flags]\n\n", f.Name())
			f.SetOutput(os.Stderr)
			f.PrintDefaults()
			return err
		}
		return usageError{fmt.Errorf("%w (`belm %s -h` lists the flags)", err, f.Name())}
	}
	if f.NArg() > 0 {
		return usagef("unexpected argument %q: every argument is a --flag followed by its value, and lists are comma-separated without spaces (--sampler_type ddim,belm); the flags after it were not read", f.Arg(0))
	}
	var errs []error
	for _, c := range f.checks {
		if err := c(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// given reports whether the flag was set on the command line.
func (f *flagSet) given(name string) bool {
	found := false
	f.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	return found
}

// check adds a check run after parsing.
func (f *flagSet) check(c func() error) { f.checks = append(f.checks, c) }

// bounds is an allowed range of a numeric flag: [lo, hi], either end open.
type bounds struct {
	lo, hi         float64
	openLo, openHi bool
}

func atLeast(lo float64) bounds { return bounds{lo: lo, hi: math.Inf(1)} }
func above(lo float64) bounds   { return bounds{lo: lo, hi: math.Inf(1), openLo: true} }
func between(lo, hi float64) bounds {
	return bounds{lo: lo, hi: hi}
}

func (b bounds) ok(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	loOK := v > b.lo || (!b.openLo && v == b.lo)
	hiOK := v < b.hi || (!b.openHi && v == b.hi)
	return loOK && hiOK
}

func (b bounds) String() string {
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	switch {
	case math.IsInf(b.hi, 1) && b.openLo:
		return "> " + num(b.lo)
	case math.IsInf(b.hi, 1):
		return "≥ " + num(b.lo)
	}
	l, r := "[", "]"
	if b.openLo {
		l = "("
	}
	if b.openHi {
		r = ")"
	}
	return fmt.Sprintf("in %s%s, %s%s", l, num(b.lo), num(b.hi), r)
}

func (f *flagSet) rangeCheck(name string, get func() float64, b bounds) {
	f.check(func() error {
		if v := get(); !b.ok(v) {
			return fmt.Errorf("--%s %s: must be %s", name, f.Lookup(name).Value, b)
		}
		return nil
	})
}

// IntVar registers an int flag whose value must lie in b.
func (f *flagSet) IntVar(p *int, name string, def int, b bounds, usage string) {
	f.FlagSet.IntVar(p, name, def, usage)
	f.rangeCheck(name, func() float64 { return float64(*p) }, b)
}

// Int registers an int flag whose value must lie in b.
func (f *flagSet) Int(name string, def int, b bounds, usage string) *int {
	p := new(int)
	f.IntVar(p, name, def, b, usage)
	return p
}

// Float64Var registers a float flag whose value must be finite and lie in b.
func (f *flagSet) Float64Var(p *float64, name string, def float64, b bounds, usage string) {
	f.FlagSet.Float64Var(p, name, def, usage)
	f.rangeCheck(name, func() float64 { return *p }, b)
}

// Float64 registers a float flag whose value must be finite and lie in b.
func (f *flagSet) Float64(name string, def float64, b bounds, usage string) *float64 {
	p := new(float64)
	f.Float64Var(p, name, def, b, usage)
	return p
}

// Choice registers a string flag that must be one of choices.
func (f *flagSet) Choice(name, def string, choices []string, usage string) *string {
	p := f.String(name, def, usage+" ("+strings.Join(choices, " | ")+")")
	f.check(func() error {
		for _, c := range choices {
			if *p == c {
				return nil
			}
		}
		return fmt.Errorf("--%s %q: must be one of %s", name, *p, strings.Join(choices, ", "))
	})
	return p
}

// NonEmpty registers a string flag that must not be empty.
func (f *flagSet) NonEmpty(name, def, usage string) *string {
	p := f.String(name, def, usage)
	f.check(func() error {
		if strings.TrimSpace(*p) == "" || len(splitList(*p)) == 0 {
			return fmt.Errorf("--%s is empty", name)
		}
		return nil
	})
	return p
}

// Ints registers a comma-separated list of ints, each in b, at least minLen of them.
func (f *flagSet) Ints(name, def string, b bounds, minLen int, usage string) *[]int {
	s := f.String(name, def, usage)
	out := new([]int)
	f.check(func() error {
		v, err := parseInts(*s, name)
		if err != nil {
			return err
		}
		for _, n := range v {
			if !b.ok(float64(n)) {
				return fmt.Errorf("--%s %s: each value must be %s", name, *s, b)
			}
		}
		if len(v) < minLen {
			return fmt.Errorf("--%s %s: give at least %d values (comma-separated)", name, *s, minLen)
		}
		*out = v
		return nil
	})
	return out
}

// formatFlag registers --format table|json.
func (f *flagSet) formatFlag(what string) *string {
	return f.Choice("format", "table", []string{"table", "json"}, what)
}

// checkOutputDir checks, before any work, that dir can hold the outputs: it is named, it
// is a folder or can be created as one (its nearest existing ancestor is a writable
// folder), and it neither is nor lies inside one of the input folders (the outputs would be
// read back as inputs by the next run). Nothing is created.
func checkOutputDir(flagName, dir string, inputs ...string) error {
	if strings.TrimSpace(dir) == "" {
		return usagef("--%s is empty: give a folder for the outputs", flagName)
	}
	if err := writableDir(flagName, dir); err != nil {
		return err
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		if inside(dir, in) {
			return usagef("--%s %s is (inside) the input folder %s: the outputs would be read as inputs by the next run; choose a folder outside it", flagName, dir, in)
		}
	}
	return nil
}

// checkOutputFile checks, before any work, that path can be written: named, not a folder,
// its folder writable or creatable, and not one of the inputs.
func checkOutputFile(flagName, path string, inputs ...string) error {
	if strings.TrimSpace(path) == "" {
		return usagef("--%s is empty: give a file name", flagName)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usagef("--%s %s is a folder: give a file name", flagName, path)
	}
	for _, in := range inputs {
		if in != "" && sameFile(path, in) {
			return usagef("--%s %s is also the input: it would be overwritten; write to another file", flagName, path)
		}
	}
	return writableDir(flagName, filepath.Dir(path))
}

// writableDir checks that dir is a folder, or that its nearest existing ancestor is a
// writable folder (so it can be created).
func writableDir(flagName, dir string) error {
	p := filepath.Clean(dir)
	for {
		st, err := os.Stat(p)
		if err == nil {
			if !st.IsDir() {
				if p == filepath.Clean(dir) {
					return usagef("--%s %s is a file, not a folder", flagName, dir)
				}
				return usagef("--%s %s cannot be created: %s is a file, not a folder", flagName, dir, p)
			}
			if err := canWrite(p); err != nil {
				return usagef("--%s %s: %s is not writable (%v)", flagName, dir, p, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) { // ENOTDIR: a file above it, found next
			return usagef("--%s %s: %v", flagName, dir, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return usagef("--%s %s: no existing folder above it", flagName, dir)
		}
		p = parent
	}
}

// canWrite tries to create (and removes) a file in dir: permission bits alone do not say
// (root, read-only mounts).
func canWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".belm-write-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// inside reports whether folder a is folder b or lies inside it.
func inside(a, b string) bool {
	ra, rb := realPath(a), realPath(b)
	return ra == rb || strings.HasPrefix(ra, rb+string(filepath.Separator))
}

func sameFile(a, b string) bool {
	if sa, err1 := os.Stat(a); err1 == nil {
		if sb, err2 := os.Stat(b); err2 == nil {
			return os.SameFile(sa, sb)
		}
	}
	return realPath(a) == realPath(b)
}

// realPath is the absolute path with symlinks of its existing part resolved.
func realPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	rest := ""
	for q := abs; ; q = filepath.Dir(q) {
		if r, err := filepath.EvalSymlinks(q); err == nil {
			return filepath.Join(r, rest)
		}
		if filepath.Dir(q) == q {
			return abs
		}
		rest = filepath.Join(filepath.Base(q), rest)
	}
}

// checkMemory refuses work that would need more memory than the machine has available: the
// error names the flags responsible and the number it would need. The estimates are upper
// ones (the go backend's im2col convolutions, its garbage-collected heap): where one is
// wrong for a backend, BELM_MEMORY_CHECK=0 runs anyway.
func checkMemory(what string, need float64) error {
	avail := availableMemory()
	if avail <= 0 || need <= float64(avail) || os.Getenv("BELM_MEMORY_CHECK") == "0" {
		return nil
	}
	return usagef("%s would need about %s of memory; this machine has %s available: use smaller values (the estimate is an upper one; BELM_MEMORY_CHECK=0 runs anyway)",
		what, bytesString(need), bytesString(float64(avail)))
}

// availableMemory is MemAvailable of /proc/meminfo in bytes (0 when unknown).
func availableMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func bytesString(b float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB", "EB"}
	i := 0
	for b >= 1000 && i < len(units)-1 {
		b /= 1000
		i++
	}
	return fmt.Sprintf("%.3g %s", b, units[i])
}

// registeredSamplers lists the registered samplers for help texts, from the registry (a family by
// its pattern, e.g. belmK), so a new sampler shows up without editing the commands.
func registeredSamplers() string {
	var names []string
	for _, e := range belm.Samplers() {
		n := e.Name
		switch {
		case e.Family != "":
			n = e.Family // its label names one member
		case e.Label != "" && !strings.EqualFold(e.Label, n):
			n += " [" + e.Label + "]"
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}
