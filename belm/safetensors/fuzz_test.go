package safetensors

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func FuzzParse(f *testing.F) {
	valid, err := Encode([]Tensor{
		FromFloat32("w", []int{2, 2}, []float32{1, 2, 3, 4}),
		FromInt64("n", []int{1}, []int64{7}),
		{Name: "h", DType: F16, Shape: []int{2}, Data: u16s(0x3C00, 0x7C00)},
		{Name: "b", DType: BF16, Shape: []int{}, Data: u16s(0x3F80)},
		{Name: "z", DType: U8, Shape: []int{0}},
	}, map[string]string{"k": "v"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(file(`{}`, nil))
	f.Add(file(`{"__metadata__":null,"z":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"I8","shape":[2],"data_offsets":[1,3]},"e":{"dtype":"F64","shape":[3,0],"data_offsets":[1,1]}}`, []byte{1, 2, 3}))
	f.Add(file(` {"\u0061\ud800":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1],"x":[{}]}} `, []byte{1}))
	f.Add(prefixed(1<<60, []byte("{}")))
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))
	f.Add(file(`{"__metadata__":{"k":1}}`, nil))

	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := Parse(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is %T, want *FormatError", err, err)
			}
			return
		}
		// A valid file re-encodes to a valid file holding the same tensors.
		var ts []Tensor
		for _, name := range sf.Names() {
			info, ok := sf.Info(name)
			raw, err := sf.Raw(name)
			if !ok || err != nil {
				t.Fatalf("%q: Info %v, Raw %v", name, ok, err)
			}
			n := int64(info.DType.Size())
			for _, d := range info.Shape {
				n *= int64(d)
			}
			if int64(len(raw)) != n || info.End-info.Begin != n {
				t.Fatalf("%q: %d raw bytes, %+v", name, len(raw), info)
			}
			// Conversions must not panic; those that apply must give one value per element.
			if v, _, err := sf.Float64(name); err == nil && int64(len(v))*int64(info.DType.Size()) != n {
				t.Fatalf("%q: Float64 gave %d values", name, len(v))
			}
			sf.Float32(name)
			sf.Int64(name)
			ts = append(ts, Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: raw})
		}
		enc, err := Encode(ts, sf.Metadata)
		if err != nil {
			t.Fatalf("Encode of a parsed file: %v", err)
		}
		again, err := Parse(enc)
		if err != nil {
			t.Fatalf("Parse of a re-encoded file: %v", err)
		}
		if !slices.Equal(again.Names(), sf.Names()) || !mapsEqual(again.Metadata, sf.Metadata) {
			t.Fatalf("re-encoded names/metadata differ: %v %v vs %v %v", again.Names(), again.Metadata, sf.Names(), sf.Metadata)
		}
		for _, name := range sf.Names() {
			a, _ := sf.Info(name)
			b, _ := again.Info(name)
			ra, _ := sf.Raw(name)
			rb, _ := again.Raw(name)
			if a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) || !bytes.Equal(ra, rb) {
				t.Fatalf("%q differs after re-encoding: %+v vs %+v", name, a, b)
			}
		}
	})
}
