package nn

import (
	"fmt"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
)

// TestFLOPs checks the count on hand-counted products and convolutions: a batched matmul,
// a Linear, and the UNet's kinds of convolution, each built directly and as patches +
// matmul (the pure-Go backend's form), which must count the same where it computes the same
// products (strided slices; the shifted-rows form also multiplies the padded border).
func TestFLOPs(t *testing.T) {
	g := NewGraph(goBackend(t), "flops")
	f32 := func(dims ...int) *Node {
		return Parameter(g, fmt.Sprintf("p%d", len(g.Nodes())), shapes.Make(dtypes.Float32, dims...))
	}
	_ = MatMul(f32(2, 3, 4), f32(2, 4, 5))   // 2·(2·3·5)·4 = 240
	_ = Linear(f32(7, 6), f32(9, 6), f32(9)) // 2·(7·9)·6 = 756
	want := int64(240 + 756)
	got, err := FLOPs(g)
	if err != nil || got != want {
		t.Fatalf("matmuls: FLOPs = %d, %v; want %d", got, err, want)
	}
	for _, c := range []convCase{
		{b: 2, c: 3, h: 8, w: 8, o: 6, k: 3, stride: 1, pad: [2][2]int{{1, 1}, {1, 1}}},
		{b: 1, c: 4, h: 8, w: 8, o: 5, k: 3, stride: 2, pad: [2][2]int{{0, 1}, {0, 1}}},
		{b: 3, c: 4, h: 5, w: 5, o: 2, k: 1, stride: 1},
	} {
		for _, build := range []struct {
			name string
			f    func(x, w *Node, stride int, padding [2][2]int) *Node
		}{{"direct", convDirect}, {"im2col", convIm2col}} {
			g := NewGraph(goBackend(t), "conv")
			x := Parameter(g, "x", shapes.Make(dtypes.Float32, c.b, c.c, c.h, c.w))
			w := Parameter(g, "w", shapes.Make(dtypes.Float32, c.o, c.c, c.k, c.k))
			_ = build.f(x, w, c.stride, c.pad)
			got, err := FLOPs(g)
			if err != nil || float64(got) != c.flops() {
				t.Errorf("%s %s: FLOPs = %d, %v; want %.0f", c, build.name, got, err, c.flops())
			}
		}
	}
}
