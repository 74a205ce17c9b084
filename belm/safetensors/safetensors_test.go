package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
)

// u16s, u32s, ... encode little-endian test data.
func u16s(v ...uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

func u32s(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

func u64s(v ...uint64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return b
}

func TestRoundTripDTypes(t *testing.T) {
	tests := []struct {
		t   Tensor
		f64 []float64 // expected Float64 (and float32 of it for Float32), when convertible
		i64 []int64   // expected Int64, when convertible
	}{
		{t: FromFloat32("f32", []int{2, 3}, []float32{1, -2.5, float32(math.Inf(1)), 0x1p-149, math.MaxFloat32, float32(math.Copysign(0, -1))}),
			f64: []float64{1, -2.5, math.Inf(1), 0x1p-149, math.MaxFloat32, math.Copysign(0, -1)}},
		{t: FromFloat64("f64", []int{4}, []float64{1, -1e300, 0.1, 0x1p-1074}),
			f64: []float64{1, -1e300, 0.1, 0x1p-1074}},
		{t: Tensor{Name: "f16", DType: F16, Shape: []int{2, 5},
			Data: u16s(0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0xFC00, 0x8000, 0x03FF, 0x0400, 0x3555)},
			f64: []float64{1, -2, 65504, 0x1p-24, math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1023 * 0x1p-24, 0x1p-14, 0.333251953125}},
		{t: Tensor{Name: "bf16", DType: BF16, Shape: []int{5}, Data: u16s(0x3F80, 0xC000, 0x7F80, 0x0001, 0x4049)},
			f64: []float64{1, -2, math.Inf(1), 0x1p-133, 3.140625}},
		{t: FromInt64("i64", []int{2, 2}, []int64{math.MinInt64, -1, 0, math.MaxInt64}),
			i64: []int64{math.MinInt64, -1, 0, math.MaxInt64}},
		{t: Tensor{Name: "i32", DType: I32, Shape: []int{3}, Data: u32s(0x80000000, 0xFFFFFFFF, 7)},
			i64: []int64{math.MinInt32, -1, 7}},
		{t: Tensor{Name: "i16", DType: I16, Shape: []int{2}, Data: u16s(0x8000, 0x7FFF)},
			i64: []int64{math.MinInt16, math.MaxInt16}},
		{t: Tensor{Name: "i8", DType: I8, Shape: []int{3}, Data: []byte{0x80, 0x7F, 0xFF}},
			i64: []int64{-128, 127, -1}},
		{t: Tensor{Name: "u8", DType: U8, Shape: []int{2}, Data: []byte{0, 255}},
			i64: []int64{0, 255}},
		{t: Tensor{Name: "u16", DType: U16, Shape: []int{1}, Data: u16s(0xFFFF)},
			i64: []int64{65535}},
		{t: Tensor{Name: "u32", DType: U32, Shape: []int{1}, Data: u32s(0xFFFFFFFF)},
			i64: []int64{4294967295}},
		{t: Tensor{Name: "u64", DType: U64, Shape: []int{1}, Data: u64s(math.MaxInt64)},
			i64: []int64{math.MaxInt64}},
		{t: Tensor{Name: "bool", DType: BOOL, Shape: []int{3}, Data: []byte{0, 1, 2}},
			i64: []int64{0, 1, 1}},
		{t: Tensor{Name: "f8", DType: F8E4M3, Shape: []int{2}, Data: []byte{0x38, 0xB8}}},
		{t: FromFloat32("scalar", nil, []float32{42}), f64: []float64{42}},
		{t: FromFloat32("empty", []int{0, 3}, nil), f64: []float64{}},
	}
	var ts []Tensor
	for _, tt := range tests {
		ts = append(ts, tt.t)
	}
	path := filepath.Join(t.TempDir(), "all.safetensors")
	meta := map[string]string{"producer": "test", "<html> & \"quotes\"": "ünïcode"}
	if err := Write(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !mapsEqual(f.Metadata, meta) {
		t.Errorf("Metadata = %v, want %v", f.Metadata, meta)
	}
	var wantNames []string
	for _, tt := range tests {
		wantNames = append(wantNames, tt.t.Name)
	}
	slices.Sort(wantNames)
	if got := f.Names(); !slices.Equal(got, wantNames) {
		t.Errorf("Names() = %v, want %v", got, wantNames)
	}

	for _, tt := range tests {
		t.Run(tt.t.Name, func(t *testing.T) {
			info, ok := f.Info(tt.t.Name)
			wantShape := tt.t.Shape
			if wantShape == nil {
				wantShape = []int{}
			}
			if !ok || info.DType != tt.t.DType || !slices.Equal(info.Shape, wantShape) || info.End-info.Begin != int64(len(tt.t.Data)) {
				t.Fatalf("Info = %+v, %v; want dtype %s shape %v, %d bytes", info, ok, tt.t.DType, wantShape, len(tt.t.Data))
			}
			raw, err := f.Raw(tt.t.Name)
			if err != nil || !bytes.Equal(raw, tt.t.Data) {
				t.Errorf("Raw = %x, %v; want %x", raw, err, tt.t.Data)
			}

			f64, shape64, err64 := f.Float64(tt.t.Name)
			f32, shape32, err32 := f.Float32(tt.t.Name)
			i64, shapeI, errI := f.Int64(tt.t.Name)
			if tt.f64 != nil {
				if err64 != nil || err32 != nil {
					t.Fatalf("Float64: %v; Float32: %v", err64, err32)
				}
				if !slices.Equal(shape64, wantShape) || !slices.Equal(shape32, wantShape) {
					t.Errorf("shapes %v, %v; want %v", shape64, shape32, wantShape)
				}
				if len(f64) != len(tt.f64) || len(f32) != len(tt.f64) {
					t.Fatalf("Float64 = %v, Float32 = %v; want %v", f64, f32, tt.f64)
				}
				for i, want := range tt.f64 {
					if math.Float64bits(f64[i]) != math.Float64bits(want) {
						t.Errorf("Float64[%d] = %g, want %g", i, f64[i], want)
					}
					if math.Float32bits(f32[i]) != math.Float32bits(float32(want)) { // F64 rounds
						t.Errorf("Float32[%d] = %g, want %g", i, f32[i], float32(want))
					}
				}
			} else if err64 == nil || err32 == nil {
				t.Errorf("Float64/Float32 of %s: want errors, got %v, %v", tt.t.DType, err64, err32)
			}
			if tt.i64 != nil {
				if errI != nil || !slices.Equal(i64, tt.i64) || !slices.Equal(shapeI, wantShape) {
					t.Errorf("Int64 = %v, %v, %v; want %v, %v", i64, shapeI, errI, tt.i64, wantShape)
				}
			} else if errI == nil {
				t.Errorf("Int64 of %s: want an error", tt.t.DType)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestNaNAndU64Overflow(t *testing.T) {
	data, err := Encode([]Tensor{
		{Name: "f16", DType: F16, Shape: []int{2}, Data: u16s(0x7E00, 0xFC01)},
		{Name: "bf16", DType: BF16, Shape: []int{1}, Data: u16s(0x7FC0)},
		{Name: "u64", DType: U64, Shape: []int{2}, Data: u64s(1, 1<<63)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"f16", "bf16"} {
		v, _, err := f.Float64(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range v {
			if !math.IsNaN(x) {
				t.Errorf("%s[%d] = %g, want NaN", name, i, x)
			}
		}
	}
	if _, _, err := f.Int64("u64"); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("Int64(u64 with 2^63) error = %v, want 'does not fit'", err)
	}
}

func TestFloat16Bits(t *testing.T) {
	tests := []struct {
		bits uint16
		want float32
	}{
		{0x0000, 0}, {0x3C00, 1}, {0xC000, -2}, {0x7BFF, 65504}, {0xFBFF, -65504},
		{0x0001, 0x1p-24}, {0x8001, -0x1p-24}, {0x03FF, 0x3FFp-24}, {0x0400, 0x1p-14},
		{0x3555, 0.333251953125},
		{0x7C00, float32(math.Inf(1))}, {0xFC00, float32(math.Inf(-1))},
		{0x3800, 0.5}, {0x4248, 3.140625},
	}
	for _, tt := range tests {
		if got := Float16ToFloat32(tt.bits); math.Float32bits(got) != math.Float32bits(tt.want) {
			t.Errorf("Float16ToFloat32(%#04x) = %g, want %g", tt.bits, got, tt.want)
		}
	}
	if got := Float16ToFloat32(0x8000); math.Float32bits(got) != 0x80000000 {
		t.Errorf("Float16ToFloat32(0x8000) = %g, want -0", got)
	}
	// Exhaustively, against the definition.
	for b := 0; b < 1<<16; b++ {
		h := uint16(b)
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		e, m := int(h>>10&0x1f), float64(h&0x3ff)
		var want float64
		switch e {
		case 0x1f:
			if m != 0 {
				if got := Float16ToFloat32(h); !math.IsNaN(float64(got)) {
					t.Fatalf("Float16ToFloat32(%#04x) = %g, want NaN", h, got)
				}
				continue
			}
			want = sign * math.Inf(1)
		case 0:
			want = sign * math.Ldexp(m, -24)
		default:
			want = sign * math.Ldexp(1+m/1024, e-15)
		}
		if got := Float16ToFloat32(h); math.Float64bits(float64(got)) != math.Float64bits(want) {
			t.Fatalf("Float16ToFloat32(%#04x) = %g, want %g", h, got, want)
		}
	}
}

func TestBFloat16Bits(t *testing.T) {
	tests := []struct {
		bits uint16
		want float32
	}{
		{0x3F80, 1}, {0xC000, -2}, {0x4049, 3.140625}, {0x0001, 0x1p-133}, {0x0080, 0x1p-126},
		{0x7F7F, 0x1.FEp127}, {0x7F80, float32(math.Inf(1))}, {0xFF80, float32(math.Inf(-1))},
	}
	for _, tt := range tests {
		if got := BFloat16ToFloat32(tt.bits); got != tt.want {
			t.Errorf("BFloat16ToFloat32(%#04x) = %g, want %g", tt.bits, got, tt.want)
		}
	}
	if got := BFloat16ToFloat32(0x7FC1); !math.IsNaN(float64(got)) {
		t.Errorf("BFloat16ToFloat32(0x7FC1) = %g, want NaN", got)
	}
}

// file assembles a safetensors file from a header and a data section.
func file(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func prefixed(n uint64, rest []byte) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), rest...)
}

func TestParseValidation(t *testing.T) {
	ok := `"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}`
	d8 := make([]byte, 8)
	tests := []struct {
		name   string
		data   []byte
		tensor string // the FormatError's tensor
		want   string // a substring of the message
	}{
		{"empty file", nil, "", "0 bytes, shorter than the 8-byte header length"},
		{"7 bytes", make([]byte, 7), "", "shorter than the 8-byte"},
		{"header length 2^60", prefixed(1<<60, []byte("{}")), "", "exceeds the 100000000-byte limit"},
		{"header length 2^64-1", prefixed(math.MaxUint64, nil), "", "exceeds the 100000000-byte limit"},
		{"header length beyond file", prefixed(1000, []byte("{}")), "", "the file is truncated; re-download it"},
		{"empty header", file("", nil), "", "not valid JSON"},
		{"invalid JSON", file(`{"a":`, nil), "", "not valid JSON"},
		{"missing colon", file(`{"a" {}}`, nil), "", "not valid JSON"},
		{"trailing comma", file(`{`+ok+`,}`, d8), "", "not valid JSON"},
		{"not an object", file(`[1,2]`, nil), "", "header is not a JSON object"},
		{"string header", file(`"x"`, nil), "", "header is not a JSON object"},
		{"data after object", file(`{} {}`, nil), "", "unexpected data after the object"},
		{"garbage after object", file(`{}x`, nil), "", "not valid JSON"},
		{"invalid UTF-8", file("{\"\xff\":1}", nil), "", "not valid UTF-8"},
		{"entry not object", file(`{"a":3}`, nil), "a", "header entry is a number, not an object"},
		{"entry array", file(`{"a":[1]}`, nil), "a", "header entry is an array"},
		{"entry null", file(`{"a":null}`, nil), "a", "header entry is null"},
		{"missing dtype", file(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, d8), "a", `no "dtype"`},
		{"missing shape", file(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, d8), "a", `no "shape"`},
		{"missing offsets", file(`{"a":{"dtype":"F32","shape":[2]}}`, d8), "a", `no "data_offsets"`},
		{"case-folded key", file(`{"a":{"DTYPE":"F32","shape":[2],"data_offsets":[0,8]}}`, d8), "a", `no "dtype"`},
		{"duplicate field", file(`{"a":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, d8), "a", `duplicate key "dtype"`},
		{"unknown dtype", file(`{"a":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}}`, d8), "a", `unknown dtype "F128"`},
		{"dtype not string", file(`{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}`, d8), "a", "dtype is a number, not a string"},
		{"shape not array", file(`{"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}`, d8), "a", "shape: is a number"},
		{"shape null", file(`{"a":{"dtype":"F32","shape":null,"data_offsets":[0,8]}}`, d8), "a", "shape: is null"},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, d8), "a", "negative dimension"},
		{"fractional dim", file(`{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}`, d8), "a", "(2.0) is not an int64"},
		{"string dim", file(`{"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}`, d8), "a", "is not an int64"},
		{"huge dim", file(`{"a":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,8]}}`, d8), "a", "is not an int64"},
		{"shape overflow", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, d8), "a", "overflows int64"},
		{"byte size overflow", file(`{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}`, d8), "a", "overflows int64"},
		{"one offset", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}`, d8), "a", "data_offsets has 1 values, want 2"},
		{"three offsets", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}`, d8), "a", "data_offsets has 3 values"},
		{"offsets not ints", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}}`, d8), "a", "data_offsets: element 1"},
		{"offsets object", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":{}}}`, d8), "a", "data_offsets: is an object"},
		{"negative offset", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, d8), "a", "negative"},
		{"begin after end", file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, d8), "a", "begin is after end"},
		{"end beyond data", file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, d8), "a", "end beyond the 8-byte data section: the file is truncated"},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, d8), "a", "span 8 bytes, but shape [3] of F32 needs 12"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), "b", `overlap tensor "a"`},
		{"same offsets", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}`, d8), "b", "overlap"},
		{"empty tensor inside another", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}`, d8), "b", "overlap"},
		{"hole at start", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, d8), "a", "hole: bytes [0, 4)"},
		{"hole between", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), "b", "hole: bytes [4, 8)"},
		{"trailing bytes", file(`{`+ok+`}`, make([]byte, 9)), "", "bytes [8, 9) at the end of the data section belong to no tensor"},
		{"data without tensors", file(`{}`, d8), "", "bytes [0, 8) at the end"},
		{"duplicate name", file(`{`+ok+`,`+ok+`}`, d8), "a", "appears more than once"},
		{"duplicate escaped name", file(`{`+ok+`,"\u0061":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, d8), "a", "appears more than once"},
		{"duplicate metadata", file(`{"__metadata__":{},"__metadata__":{}}`, nil), "__metadata__", "appears more than once"},
		{"metadata number", file(`{"__metadata__":{"k":1},`+ok+`}`, d8), "", `__metadata__ value for key "k" is a number, not a string`},
		{"metadata object", file(`{"__metadata__":{"k":{}},`+ok+`}`, d8), "", `value for key "k" is an object`},
		{"metadata null value", file(`{"__metadata__":{"k":null}}`, nil), "", `value for key "k" is null`},
		{"metadata not object", file(`{"__metadata__":"x"}`, nil), "", "__metadata__ is a string, not an object"},
		{"metadata duplicate key", file(`{"__metadata__":{"k":"1","k":"2"}}`, nil), "", `__metadata__: duplicate key "k"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.data)
			if err == nil {
				t.Fatalf("Parse succeeded (%v), want an error containing %q", f.Names(), tt.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T, want *FormatError", err, err)
			}
			if fe.File != "<memory>" || fe.Tensor != tt.tensor || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q (tensor %q), want tensor %q and %q", err, fe.Tensor, tt.tensor, tt.want)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		names []string
		meta  map[string]string
	}{
		{"no tensors", file(`{}`, nil), nil, map[string]string{}},
		{"whitespace", file(" \n{ } \t ", nil), nil, map[string]string{}},
		{"null metadata", file(`{"__metadata__":null}`, nil), nil, map[string]string{}},
		{"metadata", file(`{"__metadata__":{"a":"b","c":"\u00e9"}}`, nil), nil, map[string]string{"a": "b", "c": "é"}},
		{"unknown fields ignored", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":[1]}}`, []byte{1}), []string{"a"}, map[string]string{}},
		{"unsorted offsets and zero-size tensors",
			file(`{"z":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]},"e":{"dtype":"F64","shape":[3,0],"data_offsets":[1,1]},"s":{"dtype":"F32","shape":[0],"data_offsets":[3,3]}}`, []byte{1, 2, 3}),
			[]string{"a", "e", "s", "z"}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Names(); !slices.Equal(got, tt.names) || !mapsEqual(f.Metadata, tt.meta) || f.Metadata == nil {
				t.Errorf("Names() = %v, Metadata = %v; want %v, %v", got, f.Metadata, tt.names, tt.meta)
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	data, err := Encode([]Tensor{FromFloat32("w", []int{3}, []float32{1, 2, 3}), FromInt64("n", []int{1}, []int64{7})}, map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(data); err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		if _, err := Parse(data[:n]); err == nil {
			t.Errorf("Parse of the first %d of %d bytes succeeded", n, len(data))
		}
	}
	path := filepath.Join(t.TempDir(), "cut.safetensors")
	if err := os.WriteFile(path, data[:len(data)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated; re-download it") {
		t.Errorf("Open(truncated) error = %v, want the path and 'truncated; re-download it'", err)
	}
	for _, n := range []int{0, 5, 20} { // short files and a header cut short
		os.WriteFile(path, data[:n], 0o644)
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Open(%d bytes) error = %v, want an error naming the file", n, err)
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) error = %v, want os.ErrNotExist", err)
	}
}

func TestEncodeLayout(t *testing.T) {
	got, err := Encode([]Tensor{
		FromFloat32("b", []int{1}, []float32{2}),
		FromFloat32("a", []int{1}, []float32{1}),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	header := `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`
	header += strings.Repeat(" ", (8-len(header)%8)%8)
	want := file(header, u32s(math.Float32bits(1), math.Float32bits(2)))
	if !bytes.Equal(got, want) {
		t.Errorf("Encode =\n%q\nwant\n%q", got, want)
	}

	got, err = Encode(nil, map[string]string{"b": "2", "a": "<1>"})
	if err != nil {
		t.Fatal(err)
	}
	header = `{"__metadata__":{"a":"<1>","b":"2"}}`
	header += strings.Repeat(" ", (8-len(header)%8)%8)
	if want := file(header, nil); !bytes.Equal(got, want) {
		t.Errorf("Encode =\n%q\nwant\n%q", got, want)
	}
	for n := range 9 { // every padding length
		data, err := Encode([]Tensor{{Name: strings.Repeat("x", n), DType: U8, Shape: []int{}, Data: []byte{1}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if hl := binary.LittleEndian.Uint64(data); hl%8 != 0 {
			t.Errorf("name length %d: header length %d is not a multiple of 8", n, hl)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		ts   []Tensor
		meta map[string]string
		want string
	}{
		{"duplicate", []Tensor{FromInt64("a", []int{1}, []int64{1}), FromInt64("a", []int{1}, []int64{2})}, nil, "given twice"},
		{"reserved", []Tensor{FromInt64("__metadata__", []int{1}, []int64{1})}, nil, "reserved"},
		{"length", []Tensor{FromFloat32("a", []int{2, 2}, []float32{1, 2, 3})}, nil, "has 12 bytes of data, but shape [2 2] of F32 needs 16"},
		{"negative", []Tensor{{Name: "a", DType: U8, Shape: []int{-1}}}, nil, "negative"},
		{"dtype", []Tensor{{Name: "a", DType: "F128", Shape: []int{1}, Data: []byte{1}}}, nil, "unknown dtype"},
		{"utf8 name", []Tensor{{Name: "\xff", DType: U8, Shape: []int{1}, Data: []byte{1}}}, nil, "not valid UTF-8"},
		{"utf8 metadata", nil, map[string]string{"k": "\xff"}, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Encode(tt.ts, tt.meta); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Encode error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	ts := []Tensor{FromFloat64("x", []int{2}, []float64{1, 2})}

	missing := filepath.Join(dir, "no", "such", "dir", "x.safetensors")
	if err := Write(missing, ts, nil); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Write into a missing dir: error = %v, want one naming the path", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Write into a missing dir left something: %v", err)
	}

	path := filepath.Join(dir, "x.safetensors")
	if err := Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	// A failing write leaves the existing file untouched.
	if err := Write(path, []Tensor{FromFloat64("x", []int{3}, []float64{1})}, nil); err == nil {
		t.Fatal("Write of an invalid tensor succeeded")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("a failed Write changed the existing file")
	}
	// A File open on the old contents stays valid while Write replaces it.
	old, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := Write(path, []Tensor{FromFloat64("y", []int{1}, []float64{3})}, map[string]string{"v": "2"}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, _, err := f.Float64("y"); err != nil || !slices.Equal(v, []float64{3}) || f.Metadata["v"] != "2" {
		t.Errorf("replaced file: y = %v, %v, metadata %v", v, err, f.Metadata)
	}
	if v, _, err := old.Float64("x"); err != nil || !slices.Equal(v, []float64{1, 2}) {
		t.Errorf("old File after replacement: x = %v, %v", v, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", st.Mode())
	}

	// Renaming over a directory fails: nothing must be left behind.
	sub := filepath.Join(dir, "sub")
	os.MkdirAll(filepath.Join(sub, "keep"), 0o755)
	if err := Write(sub, ts, nil); err == nil {
		t.Error("Write over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"sub", "x.safetensors"}) {
		t.Errorf("directory holds %v, want [sub x.safetensors] (no temporary files)", names)
	}
}

func TestCloseRequireTensor(t *testing.T) {
	data, err := Encode([]Tensor{
		FromFloat32("w", []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		FromInt64("n", []int{2}, []int64{10, 500}),
		{Name: "h", DType: F16, Shape: []int{2}, Data: u16s(0x3C00, 0xC000)},
		FromFloat64("s", nil, []float64{2.5}),
		FromFloat32("e", []int{0, 3}, nil),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Require("w", "n"); err != nil {
		t.Errorf("Require(present) = %v", err)
	}
	err = f.Require("w", "missing1", "n", "missing2")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `2 of 4 required tensors are missing: "missing1", "missing2"`) {
		t.Errorf("Require error = %v", err)
	}
	if _, err := f.Raw("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Raw(missing) error = %v", err)
	}

	tests := []struct {
		name  string
		dtype dtypes.DType
		shape []int
		want  any
	}{
		{"w", dtypes.Float32, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6}},
		{"w", dtypes.Float64, []int{2, 3}, []float64{1, 2, 3, 4, 5, 6}},
		{"h", dtypes.Float32, []int{2}, []float32{1, -2}},
		{"n", dtypes.Int64, []int{2}, []int64{10, 500}},
		{"s", dtypes.Float32, []int{}, []float32{2.5}},
		{"e", dtypes.Float64, []int{0, 3}, []float64{}},
	}
	for _, tt := range tests {
		tensor, err := f.Tensor(tt.name, tt.dtype)
		if err != nil {
			t.Fatal(err)
		}
		if tensor.DType() != tt.dtype || !slices.Equal(tensor.Shape().Dimensions, tt.shape) {
			t.Errorf("Tensor(%s, %s) shape = %s", tt.name, tt.dtype, tensor.Shape())
		}
		var got any
		switch tt.dtype {
		case dtypes.Float32:
			got = tensors.MustCopyFlatData[float32](tensor)
		case dtypes.Float64:
			got = tensors.MustCopyFlatData[float64](tensor)
		case dtypes.Int64:
			got = tensors.MustCopyFlatData[int64](tensor)
		}
		if !equalAny(got, tt.want) {
			t.Errorf("Tensor(%s, %s) = %v, want %v", tt.name, tt.dtype, got, tt.want)
		}
	}
	if _, err := f.Tensor("n", dtypes.Float32); err == nil {
		t.Error("Tensor(I64 as Float32) succeeded")
	}
	if _, err := f.Tensor("w", dtypes.Int32); err == nil {
		t.Error("Tensor(as Int32) succeeded")
	}

	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := f.Raw("w"); !errors.Is(err, ErrClosed) {
		t.Errorf("Raw after Close error = %v, want ErrClosed", err)
	}
	if _, _, err := f.Float32("w"); !errors.Is(err, ErrClosed) {
		t.Errorf("Float32 after Close error = %v, want ErrClosed", err)
	}
}

func equalAny(a, b any) bool {
	switch a := a.(type) {
	case []float32:
		return slices.Equal(a, b.([]float32))
	case []float64:
		return slices.Equal(a, b.([]float64))
	case []int64:
		return slices.Equal(a, b.([]int64))
	}
	return false
}
