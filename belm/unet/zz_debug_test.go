package unet

import (
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
	for _, on := range []bool{false, true} {
		u := loadTiny(t, withFloat32Softmax(on))
		eps := runDebug(t, u, dtypes.Float64, x, xShape, ts, nil)[0]
		fmt.Printf("f32softmax=%v diff=%g\n", on, maxAbsDiff(t, eps, want))
	}
}
