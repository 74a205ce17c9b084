package train

import (
	"slices"
	"strings"
	"testing"
)

func newBatcher(t *testing.T, n, batch int, seed uint64) *Batcher {
	t.Helper()
	b, err := NewBatcher(n, batch, seed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An epoch deals each item at most once (drop_last), the next epoch reshuffles, a Batcher
// resumed from a State deals the same stream, another seed another order.
func TestBatcher(t *testing.T) {
	b := newBatcher(t, 10, 3, 7)
	var seen []int
	for range 3 { // one epoch: 9 of 10 items, drop_last
		seen = append(seen, b.Next()...)
	}
	if st := b.State(); st.Epoch != 0 || st.Pos != 9 {
		t.Fatalf("state %+v", st)
	}
	s := slices.Clone(seen)
	slices.Sort(s)
	if len(slices.Compact(s)) != 9 {
		t.Errorf("epoch repeats items: %v", seen)
	}
	next := b.Next() // first batch of epoch 1, in a new order
	if b.State().Epoch != 1 || slices.Equal(next, seen[:3]) {
		t.Errorf("epoch 1 starts with %v (epoch 0: %v)", next, seen[:3])
	}
	// Resuming from a state deals the same stream.
	st := b.State()
	want := [][]int{b.Next(), b.Next(), b.Next()}
	r := newBatcher(t, 10, 3, 7)
	if err := r.SetState(st); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got := r.Next(); !slices.Equal(got, want[i]) {
			t.Errorf("resumed batch %d: %v, want %v", i, got, want[i])
		}
	}
	// Another seed, another order.
	if o := newBatcher(t, 10, 3, 8).Next(); slices.Equal(o, seen[:3]) {
		t.Errorf("seeds 7 and 8 give the same first batch %v", o)
	}
}

// A batch larger than the data, an empty batch and a position past the data are errors
// that say what is wrong.
func TestBatcherErrors(t *testing.T) {
	for _, c := range []struct{ n, batch int }{{5, 6}, {5, 0}, {0, 1}} {
		if _, err := NewBatcher(c.n, c.batch, 1); err == nil || !strings.Contains(err.Error(), "batch size") {
			t.Errorf("NewBatcher(%d, %d): %v", c.n, c.batch, err)
		}
	}
	b := newBatcher(t, 5, 2, 1)
	if err := b.SetState(BatcherState{Epoch: 0, Pos: 6}); err == nil || !strings.Contains(err.Error(), "5 items") {
		t.Errorf("position past the data: %v", err)
	}
}
