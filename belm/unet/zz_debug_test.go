package unet

import (
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
)

func TestZZSinusoid(t *testing.T) {
	u := loadTiny(t)
	io := openIO(t)
	x, xShape := fixture(t, io, "x")
	ts, _ := fixture(t, io, "t")
	outs := runDebug(t, u, dtypes.Float32, x, xShape, ts, []string{"t_proj"})
	want, _ := fixture(t, io, "t_proj")
	for i := range want {
		fmt.Printf("%d want %.9g got %.9g  diff %g\n", i, want[i], outs[1][i], outs[1][i]-want[i])
	}
	// host float32 emulation
	for _, tv := range ts {
		for k := 0; k < 4; k++ {
			e := float32(float32(-math.Log(10000)) * float32(k))
			e = e / float32(3)
			f := float32(math.Exp(float64(e)))
			a := float32(tv) * f
			fmt.Printf("t=%g k=%d f=%.9g arg=%.9g sin=%.9g cos=%.9g\n", tv, k, f, a, float32(math.Sin(float64(a))), float32(math.Cos(float64(a))))
		}
	}
}

func TestZZSoftmax(t *testing.T) {
	io := openIO(t)
	x, xShape := fixture(t, io, "x")
	ts, _ := fixture(t, io, "t")
	want, _ := fixture(t, io, "eps_f64")
	for _, on := range []int{0, -1, 8, 16} {
		u := loadTiny(t, withFloat32Softmax(on))
		eps := runDebug(t, u, dtypes.Float64, x, xShape, ts, nil)[0]
		fmt.Printf("f32softmax=%v diff=%g\n", on, maxAbsDiff(t, eps, want))
	}
}

func TestZZF64Debug(t *testing.T) {
	io := openIO(t)
	x, xShape := fixture(t, io, "x")
	ts, _ := fixture(t, io, "t")
	want, _ := fixture(t, io, "eps_f64")
	want32, _ := fixture(t, io, "eps")
	u := loadTiny(t)
	names := append([]string{"t_proj", "t_emb"}, debugNames...)
	outs := runDebug(t, u, dtypes.Float64, x, xShape, ts, names)
	fmt.Printf("eps diff=%g ; eps_f64 vs eps fixture: %g\n", maxAbsDiff(t, outs[0], want), maxAbsDiff(t, want32, want))
	for i, name := range names {
		key := name
		if name[:2] != "t_" {
			key = "debug." + name
		}
		w, _ := fixture(t, io, key)
		fmt.Printf("%s: %g\n", name, maxAbsDiff(t, outs[i+1], w))
	}
	// per-element diff
	for i := range want {
		if d := math.Abs(outs[0][i] - want[i]); d > 1e-9 {
			fmt.Printf("  elem %d (batch %d): diff %g\n", i, i/(3*64), d)
		}
	}
}

func TestZZPrimitives64(t *testing.T) {
	b := goBackend(t)
	n := 37
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = math.Sin(float64(i)*1.7) * 3
	}
	e := MustNewExec(b, func(x *Node) []*Node {
		w := Reshape(x, 1, n)
		return []*Node{Exp(x), Sqrt(Abs(x)), Sin(x), Softmax(w, -1), ReduceSum(x), DotGeneral(w, []int{1}, nil, w, []int{1}, nil), ReduceMean(x)}
	})
	outs := e.MustExec(tensors.FromFlatDataAndDimensions(xs, n))
	ex := tensors.MustCopyFlatData[float64](outs[0])
	sq := tensors.MustCopyFlatData[float64](outs[1])
	sn := tensors.MustCopyFlatData[float64](outs[2])
	sm := tensors.MustCopyFlatData[float64](outs[3])
	var de, ds, dsn, dsm float64
	m := -1e300
	for _, v := range xs {
		m = math.Max(m, v)
	}
	sum := 0.0
	for _, v := range xs {
		sum += math.Exp(v - m)
	}
	dot, tot := 0.0, 0.0
	for i, v := range xs {
		de = math.Max(de, math.Abs(ex[i]-math.Exp(v))/math.Exp(v))
		ds = math.Max(ds, math.Abs(sq[i]-math.Sqrt(math.Abs(v))))
		dsn = math.Max(dsn, math.Abs(sn[i]-math.Sin(v)))
		dsm = math.Max(dsm, math.Abs(sm[i]-math.Exp(v-m)/sum))
		dot += v * v
		tot += v
	}
	fmt.Printf("exp rel %g sqrt %g sin %g softmax %g sum %g dot %g mean %g\n", de, ds, dsn, dsm,
		tensors.MustCopyFlatData[float64](outs[4])[0]-tot, tensors.MustCopyFlatData[float64](outs[5])[0]-dot, tensors.MustCopyFlatData[float64](outs[6])[0]-tot/float64(n))
}

func TestZZBatch(t *testing.T) {
	io := openIO(t)
	x, xShape := fixture(t, io, "x")
	ts, _ := fixture(t, io, "t")
	want, _ := fixture(t, io, "eps_f64")
	var res [][]float64
	for _, o := range [][]Option{{}, {withFloat32Softmax(8)}, {WithFloat32Sinusoid(false)}} {
		u := loadTiny(t, o...)
		eps := runDebug(t, u, dtypes.Float64, x, xShape, ts, nil)[0]
		res = append(res, eps)
		fmt.Printf("b0 %g b1 %g\n", maxAbsDiff(t, eps[:192], want[:192]), maxAbsDiff(t, eps[192:], want[192:]))
	}
	fmt.Printf("softmax effect %g, sinusoid effect b0 %g b1 %g\n", maxAbsDiff(t, res[0], res[1]), maxAbsDiff(t, res[0][:192], res[2][:192]), maxAbsDiff(t, res[0][192:], res[2][192:]))
}

func TestZZSleefGraph(t *testing.T) {
	b := goBackend(t)
	n := 100000
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = float64(float32(-float64(i) * 20 / float64(n)))
	}
	e := MustNewExec(b, func(x *Node) *Node { return sleefExpGraph(x) })
	out := tensors.MustCopyFlatData[float64](e.MustExec(tensors.FromFlatDataAndDimensions(xs, n))[0])
	nd, nc := 0, 0
	for i, v := range xs {
		h := sleefExpf(float32(v))
		if float32(out[i]) != h {
			nd++
		}
		if h != float32(math.Exp(v)) {
			nc++
		}
	}
	fmt.Printf("graph vs host sleef: %d differ of %d; sleef vs correctly rounded: %d\n", nd, n, nc)
}
