package unet

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/compute/dtypes"
)

// round32 rounds x (float64) to float32 precision, keeping its dtype.
func round32(x *Node) *Node {
	return ConvertDType(ConvertDType(x, dtypes.Float32), x.DType())
}

// sleefExpGraph is sleefExpf in graph ops on a float64 node holding float32 values:
// every float32 operation is a float64 one followed by round32 (a fused multiply-add
// of float32 values is exact in float64 up to the final rounding).
func sleefExpGraph(d *Node) *Node {
	const (
		rLn2 = float32(1.442695040888963407359924681001892137426645954152985934135449406931)
		l2u  = float32(0.693145751953125)
		l2l  = float32(1.428606765330187045e-06)
	)
	g := d.Graph()
	dt := d.DType()
	c := func(v float32) *Node { return Scalar(g, dt, float64(v)) }
	q := Round(round32(Mul(d, c(rLn2))))
	s := round32(Add(Mul(q, c(-l2u)), d))
	s = round32(Add(Mul(q, c(-l2l)), s))
	u := BroadcastToShape(c(0.000198527617612853646278381), s.Shape())
	for _, k := range []float32{0.00139304355252534151077271, 0.00833336077630519866943359,
		0.0416664853692054748535156, 0.166666671633720397949219, 0.5} {
		u = round32(Add(Mul(u, s), c(k)))
	}
	u = round32(Add(Mul(round32(Mul(s, s)), u), s))
	u = round32(OnePlus(u))
	u = Mul(u, Pow(c(2), q))
	return Where(LessThan(d, c(-104)), ZerosLike(u), u)
}

// torchSoftmax32 is PyTorch's CPU float32 softmax over the last axis (vectorised with
// the given number of lanes: 8 for AVX2, 16 for AVX-512), emulated on float64 values:
// p = exp(x − max) · (1/Σ), the sum reduced lane-wise then across lanes in order.
func torchSoftmax32(x *Node, lanes int) *Node {
	x = round32(x)
	last := x.Rank() - 1
	n := x.Shape().Dimensions[last]
	m := ReduceAndKeep(x, ReduceMax, last)
	e := sleefExpGraph(round32(Sub(x, m)))
	sl := func(a, b int) *Node { return SliceAxis(e, last, AxisRange(a, b)) }
	var accs []*Node // one node per lane, each [..., 1]
	if n < lanes {
		for l := range n {
			accs = append(accs, sl(l, l+1))
		}
	} else {
		for l := range lanes {
			accs = append(accs, sl(l, l+1))
		}
		d := lanes
		for ; d+lanes <= n; d += lanes {
			for l := range lanes {
				accs[l] = round32(Add(accs[l], sl(d+l, d+l+1)))
			}
		}
		for l := 0; d+l < n; l++ {
			accs[l] = round32(Add(accs[l], sl(d+l, d+l+1)))
		}
	}
	sum := accs[0]
	for _, a := range accs[1:] {
		sum = round32(Add(sum, a))
	}
	inv := round32(Reciprocal(sum))
	return round32(Mul(e, inv))
}
