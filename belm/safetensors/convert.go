package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
)

var le = binary.LittleEndian

// Float16ToFloat32 converts IEEE 754 half-precision bits to float32, exactly
// (subnormals, infinities and NaN payloads included).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // infinity or NaN: keep the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0: // zero or subnormal: mant·2^-24, exact in float32
		v := float32(mant) * 0x1p-24
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp-15+127)<<23 | mant<<13)
}

// BFloat16ToFloat32 converts bfloat16 bits to float32, exactly.
func BFloat16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// Float32 returns the named tensor as float32 values, with its shape.
// F32, F16 and BF16 convert exactly; F64 is rounded to the nearest float32
// (values beyond float32's range become ±Inf, tiny ones lose precision or
// flush to zero).
func (f *File) Float32(name string) ([]float32, []int, error) {
	info, raw, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	n := int(info.End-info.Begin) / info.DType.Size()
	out := make([]float32, n)
	switch info.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = Float16ToFloat32(le.Uint16(raw[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = BFloat16ToFloat32(le.Uint16(raw[2*i:]))
		}
	default:
		return nil, nil, f.convertError(info, "Float32", "F32, F64, F16 and BF16")
	}
	return out, slices.Clone(info.Shape), nil
}

// Float64 returns the named tensor as float64 values, with its shape.
// F64, F32, F16 and BF16 all convert exactly.
func (f *File) Float64(name string) ([]float64, []int, error) {
	info, raw, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	n := int(info.End-info.Begin) / info.DType.Size()
	out := make([]float64, n)
	switch info.DType {
	case F64:
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
	case F32:
		for i := range out {
			out[i] = float64(math.Float32frombits(le.Uint32(raw[4*i:])))
		}
	case F16:
		for i := range out {
			out[i] = float64(Float16ToFloat32(le.Uint16(raw[2*i:])))
		}
	case BF16:
		for i := range out {
			out[i] = float64(BFloat16ToFloat32(le.Uint16(raw[2*i:])))
		}
	default:
		return nil, nil, f.convertError(info, "Float64", "F64, F32, F16 and BF16")
	}
	return out, slices.Clone(info.Shape), nil
}

// Int64 returns the named tensor as int64 values, with its shape.
// I64, I32, I16, I8, U32, U16, U8 and BOOL (0 or 1) convert exactly; U64
// converts when every value fits in an int64.
func (f *File) Int64(name string) ([]int64, []int, error) {
	info, raw, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	n := int(info.End-info.Begin) / info.DType.Size()
	out := make([]int64, n)
	switch info.DType {
	case I64:
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
	case U64:
		for i := range out {
			u := le.Uint64(raw[8*i:])
			if u > math.MaxInt64 {
				return nil, nil, fmt.Errorf("safetensors: %s: tensor %q: U64 element %d = %d does not fit in an int64", f.path, name, i, u)
			}
			out[i] = int64(u)
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(le.Uint32(raw[4*i:])))
		}
	case U32:
		for i := range out {
			out[i] = int64(le.Uint32(raw[4*i:]))
		}
	case I16:
		for i := range out {
			out[i] = int64(int16(le.Uint16(raw[2*i:])))
		}
	case U16:
		for i := range out {
			out[i] = int64(le.Uint16(raw[2*i:]))
		}
	case I8:
		for i := range out {
			out[i] = int64(int8(raw[i]))
		}
	case U8:
		for i := range out {
			out[i] = int64(raw[i])
		}
	case BOOL:
		for i := range out {
			if raw[i] != 0 {
				out[i] = 1
			}
		}
	default:
		return nil, nil, f.convertError(info, "Int64", "I64, I32, I16, I8, U64, U32, U16, U8 and BOOL")
	}
	return out, slices.Clone(info.Shape), nil
}

// Tensor returns the named tensor as a new GoMLX tensor of the given dtype:
// dtypes.Float32 (see Float32), dtypes.Float64 (see Float64) or
// dtypes.Int64 (see Int64).
func (f *File) Tensor(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	switch dtype {
	case dtypes.Float32:
		v, shape, err := f.Float32(name)
		if err != nil {
			return nil, err
		}
		return tensors.FromFlatDataAndDimensions(v, shape...), nil
	case dtypes.Float64:
		v, shape, err := f.Float64(name)
		if err != nil {
			return nil, err
		}
		return tensors.FromFlatDataAndDimensions(v, shape...), nil
	case dtypes.Int64:
		v, shape, err := f.Int64(name)
		if err != nil {
			return nil, err
		}
		return tensors.FromFlatDataAndDimensions(v, shape...), nil
	}
	return nil, fmt.Errorf("safetensors: %s: tensor %q: cannot make a GoMLX tensor of dtype %s: use Float32, Float64 or Int64", f.path, name, dtype)
}
