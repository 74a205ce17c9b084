package train

import (
	"fmt"
	"math/rand/v2"
)

// Batcher deals indices 0…n−1 in batches, reshuffled every epoch. Epoch e's order is a
// permutation drawn from PCG(seed, e), so the whole stream is a function of (seed, epoch,
// position): a Batcher is resumed exactly from its State. The UNet's training and the
// classifier's (belm/quality) draw their data order from it.
type Batcher struct {
	n, batch int
	seed     uint64
	st       BatcherState
	perm     []int
	permOf   int // the epoch perm was drawn for, −1 for none
}

// BatcherState is where a Batcher is in its stream (a checkpoint's "data" entry).
type BatcherState struct {
	Epoch int `json:"epoch"`
	Pos   int `json:"pos"` // the next index of the epoch's permutation to deal
}

// NewBatcher deals batches of size batch from n items; batch must be in 1…n.
func NewBatcher(n, batch int, seed uint64) (*Batcher, error) {
	if batch < 1 || batch > n {
		return nil, fmt.Errorf("train: a batch of %d from %d items: the batch size must be in 1…%d (fewer images than a batch?)", batch, n, max(n, 1))
	}
	return &Batcher{n: n, batch: batch, seed: seed, permOf: -1}, nil
}

// State returns the current position (to checkpoint).
func (b *Batcher) State() BatcherState { return b.st }

// SetState resumes at a position from State.
func (b *Batcher) SetState(s BatcherState) error {
	if s.Epoch < 0 || s.Pos < 0 || s.Pos > b.n {
		return fmt.Errorf("train: invalid data position %+v for %d items", s, b.n)
	}
	b.st = s
	return nil
}

// Perm returns epoch e's order of the n items.
func (b *Batcher) Perm(epoch int) []int {
	if b.permOf != epoch {
		b.perm = rand.New(rand.NewPCG(b.seed, uint64(epoch))).Perm(b.n)
		b.permOf = epoch
	}
	return b.perm
}

// Next returns the next batch of indices. A batch never straddles two epochs: the last
// n mod batch items of an epoch's order are skipped (drop_last, as the training scripts do).
func (b *Batcher) Next() []int {
	if b.st.Pos+b.batch > b.n {
		b.st = BatcherState{Epoch: b.st.Epoch + 1}
	}
	p := b.Perm(b.st.Epoch)
	out := append([]int(nil), p[b.st.Pos:b.st.Pos+b.batch]...)
	b.st.Pos += b.batch
	return out
}
