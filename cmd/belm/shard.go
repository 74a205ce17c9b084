package main

// Studies split across processes or machines (a Slurm array, Kubernetes indexed jobs, GNU
// parallel): `--shard i/n` makes a run do the batches k with k mod n = i — the same noises
// (batch k is seeded seed+k) and the same images as the whole run — and write its partial
// result as shard-i-of-n.json; `belm merge` checks that the shards are one run's, complete
// and not repeated, and writes what the whole run would have.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/belmlab/workbench/belm/study"
	"github.com/belmlab/workbench/internal/atomicfile"
)

// shard is a --shard i/n; the zero value is the whole run.
type shard struct{ Index, Count int }

func (s *shard) register(fs *flagSet) {
	fs.Var(s, "shard", "i/n: do only the batches k with k mod n = i (0 ≤ i < n) and write shard-i-of-n.json; `belm merge` combines the n shards")
}

func (s *shard) String() string {
	if s.Count == 0 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.Index, s.Count)
}

func (s *shard) Set(v string) error {
	a, b, ok := strings.Cut(v, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return fmt.Errorf("want i/n with 0 ≤ i < n (e.g. 0/3), got %q", v)
	}
	*s = shard{i, n}
	return nil
}

func (s shard) on() bool { return s.Count > 1 }

// has reports whether batch k belongs to this shard.
func (s shard) has(k int) bool { return !s.on() || k%s.Count == s.Index }

func (s shard) fileName() string { return fmt.Sprintf("shard-%d-of-%d.json", s.Index, s.Count) }

// shardFile is what a shard writes: its place, the run's settings (equal in every shard of
// the run) and its data.
type shardFile struct {
	Kind     string          `json:"kind"`
	Shard    shard           `json:"shard"`
	Settings json.RawMessage `json:"settings"`
	Data     json.RawMessage `json:"data"`
	path     string
}

func writeShard(dir, kind string, s shard, settings, data any) error {
	set, err1 := json.Marshal(settings)
	d, err2 := json.Marshal(data)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, shardFile{Kind: kind, Shard: s, Settings: set, Data: d}); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, s.fileName()), buf.Bytes())
}

// readShards reads the shard files named by inputs (files, folders holding shard-*.json, or
// glob patterns) and checks that they are the n shards of one run, each once.
func readShards(inputs []string) ([]shardFile, error) {
	var paths []string
	for _, in := range inputs {
		matches, err := filepath.Glob(in)
		if err != nil || len(matches) == 0 {
			return nil, fmt.Errorf("--inputs %s: no such file or folder", in)
		}
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.IsDir() {
				found, _ := filepath.Glob(filepath.Join(m, "shard-*-of-*.json"))
				if len(found) == 0 {
					return nil, fmt.Errorf("%s holds no shard-*-of-*.json (written by a run with --shard i/n)", m)
				}
				paths = append(paths, found...)
			} else {
				paths = append(paths, m)
			}
		}
	}
	var shards []shardFile
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var f shardFile
		if err := json.Unmarshal(b, &f); err != nil || f.Kind == "" || f.Shard.Count < 1 {
			return nil, fmt.Errorf("%s is not a shard file of belm (%v)", p, err)
		}
		f.path = p
		shards = append(shards, f)
	}
	return shards, checkShards(shards)
}

// checkShards: one kind, one run's settings, every index of 0…n−1 exactly once.
func checkShards(shards []shardFile) error {
	first := shards[0]
	byIndex := map[int]string{}
	for _, f := range shards {
		if f.Kind != first.Kind || f.Shard.Count != first.Shard.Count {
			return fmt.Errorf("%s is shard %s of a %s run, %s is shard %s of a %s run: merge the shards of one run", first.path, first.Shard.String(), first.Kind, f.path, f.Shard.String(), f.Kind)
		}
		if !bytes.Equal(f.Settings, first.Settings) {
			return fmt.Errorf("%s and %s come from runs with other settings:\n  %s\n  %s", first.path, f.path, first.Settings, f.Settings)
		}
		if other, dup := byIndex[f.Shard.Index]; dup {
			return fmt.Errorf("shard %s is given twice: %s and %s", f.Shard.String(), other, f.path)
		}
		byIndex[f.Shard.Index] = f.path
	}
	var missing []string
	for i := 0; i < first.Shard.Count; i++ {
		if _, ok := byIndex[i]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", i, first.Shard.Count))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("shard %s missing (have %d of %d): run it, or give its file", strings.Join(missing, ", "), len(shards), first.Shard.Count)
	}
	return nil
}

func init() {
	register("merge", "combine the shard-i-of-n.json of a run split with --shard i/n into the whole run's outputs", runMerge)
}

func runMerge(args []string) error {
	fs := newFlagSet("merge")
	inputs := fs.NonEmpty("inputs", "", "comma-separated shard files, folders holding them, or glob patterns (\"out/fd-*\")")
	saveDir := fs.String("save_dir", "", "folder for the merged outputs (as the unsharded run writes them)")
	format := fs.formatFlag("the summary on stdout")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := checkOutputDir("save_dir", *saveDir); err != nil {
		return err
	}
	shards, err := readShards(splitList(*inputs))
	if err != nil {
		return err
	}
	slices.SortFunc(shards, func(a, b shardFile) int { return a.Shard.Index - b.Shard.Index })
	switch shards[0].Kind {
	case "reconstruction":
		return mergeReconstruction(shards, *saveDir, *format)
	case "frechet":
		return mergeFrechet(shards, *saveDir, *format)
	}
	return fmt.Errorf("%s: unknown kind of shard %q", shards[0].path, shards[0].Kind)
}

// mergeReconstruction puts the rows of the shards back in the order of the whole run (step
// counts, then samplers, then images: study.MergeReconstructions) and writes its outputs.
func mergeReconstruction(shards []shardFile, dir, format string) error {
	var set reconSettings
	if err := json.Unmarshal(shards[0].Settings, &set); err != nil {
		return err
	}
	ds := make([]study.ReconstructionResult, len(shards))
	for i, f := range shards {
		if err := json.Unmarshal(f.Data, &ds[i]); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
	}
	all, err := study.MergeReconstructions(ds, set.Samplers, set.Steps, set.Images)
	if err != nil {
		return err
	}
	js, err := writeReconstruction(dir, set, all)
	if err != nil {
		return err
	}
	if format == "json" {
		_, err := os.Stdout.Write(js)
		return err
	}
	fmt.Printf("%s, %d images from %d shards, %s on %s (per image: %s)\n", set.ModelID, set.Images, len(shards), set.DType, set.Backend, filepath.Join(dir, "reconstruction.csv"))
	return printReconSummary(all)
}
