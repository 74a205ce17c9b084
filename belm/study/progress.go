package study

import (
	"context"
	"fmt"

	"github.com/belmlab/workbench/belm"
)

// Progress is told how a study advances: done of total network steps (of every pass, both
// directions), and what is running ("belm N=10").
type Progress func(done, total int, what string)

// Batches selects the batches a run does: a shard of a study split across processes does
// the batches k with Batches(k), each with the same noise or images as in the whole run, and
// the shards' results merge into the whole run's (MergeReconstructions, MergeFrechet). nil
// does every batch.
type Batches func(k int) bool

func (b Batches) has(k int) bool { return b == nil || b(k) }

// count is the number of batches of size batch over n items that b selects.
func (b Batches) count(n, batch int) int {
	c := 0
	for k := 0; k*batch < n; k++ {
		if b.has(k) {
			c++
		}
	}
	return c
}

// tracker counts a runner's steps for a Progress, as the runner's Observer while a study
// runs (the previous Observer is restored by stop).
type tracker struct {
	r           *belm.Runner
	prev        func(belm.StepInfo)
	progress    Progress
	done, total int
	what        string
}

func track(r *belm.Runner, progress Progress, total int) *tracker {
	t := &tracker{r: r, prev: r.Observer, progress: progress, total: total}
	if progress != nil {
		r.Observer = func(belm.StepInfo) {
			t.done++
			progress(min(t.done, t.total), t.total, t.what)
		}
	}
	return t
}

// at names what runs next.
func (t *tracker) at(format string, a ...any) { t.what = fmt.Sprintf(format, a...) }

func (t *tracker) stop() {
	if t.progress != nil {
		t.r.Observer = t.prev
	}
}

// stopped is ctx's error, naming what was not done, once ctx is cancelled: studies check it
// before every batch and return it, with what they finished (already handed to the caller).
func stopped(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopped before %s: %w", what, err)
	}
	return nil
}

// rowKey names a sampler and N: "belm N=10".
func rowKey(sampler string, n int) string { return fmt.Sprintf("%s N=%d", sampler, n) }

// Images is a list of images a study reads a batch at a time: Names[i] names image i, and
// Load(i, j) returns images [i, j) as flat NCHW values in [−1, 1] of the pipeline's image
// shape (pipeline.LoadImages for files).
type Images struct {
	Names []string
	Load  func(i, j int) ([]float64, error)
}

// ImagesOf is the Images of n images already in memory (x, flat NCHW), named "0", "1", ….
func ImagesOf(x []float64, n int) Images {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprint(i)
	}
	per := 0
	if n > 0 {
		per = len(x) / n
	}
	return Images{Names: names, Load: func(i, j int) ([]float64, error) {
		if i < 0 || j > n || i > j || per*n != len(x) {
			return nil, fmt.Errorf("images [%d, %d) of %d (%d values)", i, j, n, len(x))
		}
		return x[i*per : j*per], nil
	}}
}
