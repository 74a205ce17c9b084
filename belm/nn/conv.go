package nn

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/gomlx/compute"

	. "github.com/gomlx/gomlx/core/graph"
	timage "github.com/gomlx/gomlx/core/tensors/images"
)

// Convolutions.
//
// ONNX Runtime (and XLA) have fast convolution kernels: there a conv is one Convolve op,
// NCHW/OIHW as the weights are stored. The pure-Go backend's Convolve is a direct loop
// (~0.5–1.5 GFLOP/s), while its DotGeneral is a packed, cache-blocked matmul (AVX2/AVX-512
// kernels when built with GOEXPERIMENT=simd): there every convolution is rewritten as patch
// extraction ("im2col") followed by one large matmul, exactly (same products, summed in
// another order; float64 stays float64):
//
//	x [B, C, H, W] → transpose [C, B, H, W] → pad → kh·kw strided slices, stacked
//	→ patches [C·kh·kw, B·Ho·Wo] ;  y = W[O, C·kh·kw] · patches → [O, B, Ho, Wo] → [B, O, Ho, Wo]
//
// The channels-major layout [C, B·H·W] makes the patches the matmul's right-hand side in
// the backend's native [contracting, cross] layout, so the 9×-sized patch matrix is never
// transposed; only the conv's input and output are (free at batch 1). 1×1 convolutions are
// a plain matmul. See BENCHMARKS.md for the measurements behind this choice.

// ConvAlgorithm selects how convolutions are built into the graph.
type ConvAlgorithm int32

const (
	// ConvAuto: im2col + matmul on the pure-Go backend, the backend's Convolve elsewhere.
	ConvAuto ConvAlgorithm = iota
	// ConvDirect: always the backend's Convolve op.
	ConvDirect
	// ConvIm2col: always patches + one matmul.
	ConvIm2col
)

func (a ConvAlgorithm) String() string {
	switch a {
	case ConvAuto:
		return "auto"
	case ConvDirect:
		return "direct"
	case ConvIm2col:
		return "im2col"
	}
	return fmt.Sprintf("ConvAlgorithm(%d)", int32(a))
}

var convAlgorithm atomic.Int32

// SetConvAlgorithm sets, process-wide, how graphs built from now on express convolutions
// (benchmarks compare them; ConvAuto is the default and the right choice). It returns the
// previous setting. Graphs already compiled keep their algorithm.
func SetConvAlgorithm(a ConvAlgorithm) ConvAlgorithm {
	return ConvAlgorithm(convAlgorithm.Swap(int32(a)))
}

// useIm2col reports whether convolutions of graph g are built as patches + matmul.
func useIm2col(g *Graph) bool {
	switch ConvAlgorithm(convAlgorithm.Load()) {
	case ConvDirect:
		return false
	case ConvIm2col:
		return true
	}
	return PureGo(g.Backend())
}

// PureGo reports whether be is the embedded pure-Go backend (String() "go", Name() "Go
// Backend"), which executes a graph op by op as written: no graph optimiser, Go memory.
func PureGo(be compute.Backend) bool {
	return be.String() == "go" || strings.HasPrefix(be.Name(), "Go ")
}

// Conv2D is the convolution of x [B, C, H, W] with w [O, C, kh, kw] (PyTorch's Conv2d
// without bias; padding {before, after} per spatial axis), expressed the fastest way for
// the graph's backend (patches + matmul on the pure-Go backend, the backend's Convolve
// elsewhere, following SetConvAlgorithm) and differentiable on every backend: a strided
// convolution off the pure-Go backend is a stride-1 Convolve then a subsampling, and the
// weight gradient one matmul (see convDifferentiable), because ONNX Runtime has no backward
// pass for a strided Conv.
func Conv2D(x, w *Node, stride int, padding [2][2]int) *Node {
	if useIm2col(x.Graph()) {
		return convPatches(x, w, stride, padding)
	}
	return convDifferentiable(x, w, stride, padding)
}

// Conv2DInference is Conv2D for graphs that need no gradient on ONNX Runtime: off the
// pure-Go backend it is one Convolve with the stride (~4× cheaper for a strided convolution
// than Conv2D's stride-1 convolution and subsampling). Same values as Conv2D.
func Conv2DInference(x, w *Node, stride int, padding [2][2]int) *Node {
	if useIm2col(x.Graph()) {
		return convPatches(x, w, stride, padding)
	}
	return convDirect(x, w, stride, padding)
}

// convDifferentiable is the backend's convolution arranged for training on ONNX Runtime:
//
//   - a strided convolution is a stride-1 convolution followed by keeping rows and columns
//     0, s, 2s, …: the stride-1 output (H1 × W1) is padded at the end to s·Ho × s·Wo,
//     reshaped to [B, O, Ho, s, Wo, s] and sliced at index 0 of both s axes (ORT has no
//     backward for a strided Conv: "input dilations > 1 not supported");
//   - the weight gradient is one matmul (convWeightGrad) instead of the convolution GoMLX's
//     autodiff builds, which ORT runs as a convolution with an H×W kernel over the batch as
//     channels (~7 GFLOP/s: half of a Fashion-MNIST train step).
//
// The forward value and the input gradient are the backend's Convolve, as in convDirect.
func convDifferentiable(x, w *Node, stride int, padding [2][2]int) *Node {
	var dy *Node // ∂L/∂y of the stride-1 output, captured on the way back
	wd := w.Shape().Dimensions
	w = IdentityWithCustomGradient(w, func(w, _ *Node) *Node {
		// Reverse mode visits nodes from the newest back, so y's gradient below (y is built
		// after w) has set dy by now. The adjoint GoMLX built for w (the slow convolution)
		// is left unused: ORT removes it (its profile of a train step shows no such conv).
		if dy == nil { // the loss does not depend on y
			return ZerosLike(w)
		}
		return convWeightGrad(x, dy, wd[2], wd[3], padding)
	})
	y := IdentityWithCustomGradient(convDirect(x, w, 1, padding), func(_, v *Node) *Node {
		dy = v
		return v
	})
	if stride == 1 {
		return y
	}
	return subsample(y, stride)
}

// convWeightGrad is ∂L/∂w of a stride-1 convolution of x [B, C, H, W] with a [O, C, kh, kw]
// kernel, given dy = ∂L/∂y [B, O, Ho, Wo]:
//
//	∂L/∂w[o, c, i, j] = Σ_{b,h,w} dy[b, o, h, w] · xpad[b, c, h+i, w+j]
//
// as one matmul: dy as [O, B·Ho·Wo] times the channels-last patches of the padded input,
// [B·Ho·Wo, kh·kw·C] (the kh·kw shifted windows concatenated). Contracting over (b, h, w)
// in place, as an Einsum, ran at under 1 GFLOP/s on ORT (its transposes dominate).
func convWeightGrad(x, dy *Node, kh, kw int, padding [2][2]int) *Node {
	xd, d := x.Shape().Dimensions, dy.Shape().Dimensions
	b, c, o, ho, wo := xd[0], xd[1], d[1], d[2], d[3]
	xl := TransposeAllAxes(x, 0, 2, 3, 1) // [B, H, W, C]
	xl = Pad(xl, ScalarZero(x.Graph(), x.DType()), PadAxis{},
		PadAxis{Start: padding[0][0], End: padding[0][1]}, PadAxis{Start: padding[1][0], End: padding[1][1]}, PadAxis{})
	taps := make([]*Node, 0, kh*kw)
	for i := range kh {
		for j := range kw {
			taps = append(taps, Slice(xl, AxisRange(), AxisRange(i, i+ho), AxisRange(j, j+wo), AxisRange()))
		}
	}
	patches := Reshape(Concatenate(taps, -1), b*ho*wo, kh*kw*c)  // [N, (i, j, c)]
	dyT := Reshape(TransposeAllAxes(dy, 1, 0, 2, 3), o, b*ho*wo) // [O, N]
	g := MatMul(dyT, patches)                                    // [O, (i, j, c)]
	return TransposeAllAxes(Reshape(g, o, kh, kw, c), 0, 3, 1, 2)
}

// subsample keeps rows and columns 0, s, 2s, … of y [B, O, H1, W1] (see convDifferentiable).
func subsample(y *Node, stride int) *Node {
	d := y.Shape().Dimensions
	b, o, h1, w1 := d[0], d[1], d[2], d[3]
	ho, wo := (h1-1)/stride+1, (w1-1)/stride+1
	y = Pad(y, ScalarZero(y.Graph(), y.DType()), PadAxis{}, PadAxis{},
		PadAxis{End: stride*ho - h1}, PadAxis{End: stride*wo - w1})
	y = Reshape(y, b, o, ho, stride, wo, stride)
	y = Slice(y, AxisRange(), AxisRange(), AxisRange(), AxisElem(0), AxisRange(), AxisElem(0))
	return Reshape(y, b, o, ho, wo)
}

// convDirect is the backend's own convolution, NCHW/OIHW.
func convDirect(x, w *Node, stride int, padding [2][2]int) *Node {
	return Convolve(x, w).ChannelsAxis(timage.ChannelsFirst).Strides(stride).
		PaddingPerDim([][2]int{padding[0], padding[1]}).Done()
}

// convPatches picks the faster patches + matmul form for the pure-Go backend: shifted rows
// (convShift) for stride-1 convolutions whose padded grid is at most ~35% larger than the
// output (maps of 16×16 and up with a 3×3 kernel), strided slices (convIm2col) otherwise.
func convPatches(x, w *Node, stride int, padding [2][2]int) *Node {
	xd, wd := x.Shape().Dimensions, w.Shape().Dimensions
	kh, kw := wd[2], wd[3]
	if stride == 1 && (kh > 1 || kw > 1) {
		hp, wp := xd[2]+padding[0][0]+padding[0][1], xd[3]+padding[1][0]+padding[1][1]
		ho, wo := hp-kh+1, wp-kw+1
		if 100*hp*wp <= 135*ho*wo {
			return convShift(x, w, padding)
		}
	}
	return convIm2col(x, w, stride, padding)
}

// convIm2col is the convolution of x [B, C, H, W] with w [O, C, kh, kw] (stride, padding
// per spatial axis {before, after}) as patch extraction + one matmul; see the comment above.
func convIm2col(x, w *Node, stride int, padding [2][2]int) *Node {
	xd, wd := x.Shape().Dimensions, w.Shape().Dimensions
	batch, ch, h, wi := xd[0], xd[1], xd[2], xd[3]
	out, kh, kw := wd[0], wd[2], wd[3]
	if wd[1] != ch {
		panic(fmt.Errorf("nn: conv weight %v does not match input %v", wd, xd))
	}
	ho := (h+padding[0][0]+padding[0][1]-kh)/stride + 1
	wo := (wi+padding[1][0]+padding[1][1]-kw)/stride + 1
	// Channels-major input: [C, B, H, W] (a reshape at batch 1).
	xc := x
	if batch > 1 {
		xc = TransposeAllAxes(x, 1, 0, 2, 3)
	}
	var patches *Node // [C·kh·kw, B·Ho·Wo], row c·kh·kw + i·kw + j
	if kh == 1 && kw == 1 && stride == 1 && padding == [2][2]int{} {
		patches = Reshape(xc, ch, batch*h*wi)
	} else {
		if padding != [2][2]int{} {
			xc = Pad(xc, ScalarZero(x.Graph(), x.DType()), PadAxis{}, PadAxis{},
				PadAxis{Start: padding[0][0], End: padding[0][1]}, PadAxis{Start: padding[1][0], End: padding[1][1]})
		}
		taps := make([]*Node, 0, kh*kw)
		for i := range kh {
			for j := range kw {
				t := Slice(xc, AxisRange(), AxisRange(),
					AxisRange(i, i+stride*(ho-1)+1).Stride(stride),
					AxisRange(j, j+stride*(wo-1)+1).Stride(stride))
				taps = append(taps, Reshape(t, ch, 1, batch*ho*wo))
			}
		}
		patches = Reshape(Concatenate(taps, 1), ch*kh*kw, batch*ho*wo)
	}
	wm := Reshape(w, out, ch*kh*kw)
	y := DotGeneral(wm, []int{1}, nil, patches, []int{0}, nil) // [O, B·Ho·Wo]
	y = Reshape(y, out, batch, ho, wo)
	if batch > 1 {
		return TransposeAllAxes(y, 1, 0, 2, 3)
	}
	return Reshape(y, batch, out, ho, wo)
}

// convShift is the stride-1 convolution of x [B, C, H, W] with w [O, C, kh, kw] as a
// matmul over shifted copies of the flattened, channels-last, padded input: with
// X [B·Hp·Wp, C] the padded image, tap (i, j) reads row m + i·Wp + j for output row m, a
// whole-row shift that the pure-Go backend's Pad does with one memmove per row (its Slice
// copies element by element). Outputs are computed on the padded grid and cropped.
func convShift(x, w *Node, padding [2][2]int) *Node {
	xd, wd := x.Shape().Dimensions, w.Shape().Dimensions
	batch, ch, h, wi := xd[0], xd[1], xd[2], xd[3]
	out, kh, kw := wd[0], wd[2], wd[3]
	hp, wp := h+padding[0][0]+padding[0][1], wi+padding[1][0]+padding[1][1]
	ho, wo := hp-kh+1, wp-kw+1
	g := x.Graph()
	zero := ScalarZero(g, x.DType())
	xt := TransposeAllAxes(x, 0, 2, 3, 1) // [B, H, W, C]
	xt = Pad(xt, zero, PadAxis{}, PadAxis{Start: padding[0][0], End: padding[0][1]},
		PadAxis{Start: padding[1][0], End: padding[1][1]}, PadAxis{})
	rows := batch * hp * wp
	xf := Reshape(xt, rows, ch)
	maxOff := (kh-1)*wp + (kw - 1)
	taps := make([]*Node, 0, kh*kw)
	for i := range kh {
		for j := range kw {
			off := i*wp + j
			taps = append(taps, Pad(xf, zero, PadAxis{Start: maxOff - off, End: off}, PadAxis{}))
		}
	}
	patches := Concatenate(taps, 1) // [rows+maxOff, kh·kw·C], column (i·kw+j)·C + c
	wm := Reshape(TransposeAllAxes(w, 0, 2, 3, 1), out, kh*kw*ch)
	y := DotGeneral(patches, []int{1}, nil, wm, []int{1}, nil) // [rows+maxOff, O]
	// Row maxOff + b·Hp·Wp + i·Wp + j is output (b, i, j) = [b, i+kh−1, j+kw−1] of [B+1, Hp, Wp, O].
	y = Pad(y, zero, PadAxis{End: hp*wp - maxOff}, PadAxis{})
	y = Reshape(y, batch+1, hp, wp, out)
	y = Slice(y, AxisRange(0, batch), AxisRange(kh-1, kh-1+ho), AxisRange(kw-1, kw-1+wo), AxisRange())
	return TransposeAllAxes(y, 0, 3, 1, 2)
}
