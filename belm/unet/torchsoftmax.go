package unet

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
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

// torchSoftmax32 is PyTorch 1.13's CPU float32 softmax over the last axis
// (_vec_softmax_lastdim with AVX2 8-lane vectors), emulated on float64 values holding
// float32 ones, bit for bit:
//
//	m = max(x);  e = exp(x − m) (SLEEF expf);  Σ = 8-lane vector sum of e, each lane
//	accumulating elements l, l+8, …, then reduced as ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7));
//	p = e · fl32(1/Σ).
//
// Checked against PyTorch 1.13.1 (Debian, CPU capability AVX2) on random rows: identical.
func torchSoftmax32(x *Node) *Node {
	const lanes = 8
	x = round32(x)
	last := x.Rank() - 1
	n := x.Shape().Dimensions[last]
	m := ReduceAndKeep(x, ReduceMax, last)
	e := sleefExpGraph(round32(Sub(x, m)))
	acc := make([]*Node, lanes) // nil: a lane holding 0
	for i := range n {
		col := SliceAxis(e, last, AxisRange(i, i+1))
		if l := i % lanes; acc[l] == nil {
			acc[l] = col
		} else {
			acc[l] = round32(Add(acc[l], col))
		}
	}
	add := func(a, b *Node) *Node {
		switch {
		case a == nil:
			return b
		case b == nil:
			return a
		}
		return round32(Add(a, b))
	}
	b := []*Node{add(acc[0], acc[4]), add(acc[1], acc[5]), add(acc[2], acc[6]), add(acc[3], acc[7])}
	sum := add(add(b[0], b[2]), add(b[1], b[3]))
	inv := round32(Reciprocal(sum))
	return round32(Mul(e, inv))
}
