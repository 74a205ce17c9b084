package nn

import (
	"math"

	. "github.com/gomlx/gomlx/core/graph"
)

// AdamW is PyTorch's AdamW (decoupled weight decay, ε outside the square root of the
// debiased v) preceded by torch.nn.utils.clip_grad_norm_ (g·min(1, c/(‖g‖+1e-6)) over all
// gradients together), built into a graph. At step k (1-based), for every weight w with
// gradient g:
//
//	g ← g·min(1, MaxGradNorm/(‖g‖+1e-6))            (‖g‖ over all weights; MaxGradNorm ≤ 0: no clipping)
//	m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²
//	w ← w − lr·λ·w − (lr/bc₁)·m / (√(v/bc₂) + ε),  bc_i = 1 − β_iᵏ   (λ = WeightDecay)
//
// belm/train (the UNet) and belm/quality (the classifier) train with it.
type AdamW struct {
	Beta1, Beta2, Epsilon, WeightDecay, MaxGradNorm float64
}

// Step returns the updated weights and moments for weights w with gradients grads and
// moments m, v (nodes of one graph), the scalar learning rate lr and bias corrections bc1,
// bc2 (BiasCorrections, fed in so that one compiled graph serves every step), and the global
// gradient norm before clipping.
func (o AdamW) Step(w, grads, m, v []*Node, lr, bc1, bc2 *Node) (nw, nm, nv []*Node, gnorm *Node) {
	g := lr.Graph()
	var sq *Node
	for _, gr := range grads {
		q := ReduceAllSum(Square(gr))
		if sq == nil {
			sq = q
		} else {
			sq = Add(sq, q)
		}
	}
	gnorm = Sqrt(sq)
	coef := ScalarOne(g, gnorm.DType())
	if c := o.MaxGradNorm; c > 0 {
		coef = Min(coef, Div(Scalar(g, gnorm.DType(), c), AddScalar(gnorm, 1e-6)))
	}
	b1, b2 := o.Beta1, o.Beta2
	nw, nm, nv = make([]*Node, len(w)), make([]*Node, len(w)), make([]*Node, len(w))
	for i := range w {
		gr := Mul(grads[i], coef)
		nm[i] = Add(MulScalar(m[i], b1), MulScalar(gr, 1-b1))
		nv[i] = Add(MulScalar(v[i], b2), MulScalar(Square(gr), 1-b2))
		wi := w[i]
		if wd := o.WeightDecay; wd > 0 {
			wi = Sub(wi, Mul(MulScalar(lr, wd), wi))
		}
		denom := AddScalar(Sqrt(Div(nv[i], bc2)), o.Epsilon)
		nw[i] = Sub(wi, Div(Mul(Div(lr, bc1), nm[i]), denom))
	}
	return nw, nm, nv, gnorm
}

// BiasCorrections are AdamW's 1−β₁ᵏ and 1−β₂ᵏ at step k (1-based).
func (o AdamW) BiasCorrections(k int) (bc1, bc2 float64) {
	return 1 - math.Pow(o.Beta1, float64(k)), 1 - math.Pow(o.Beta2, float64(k))
}
