package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Tensor is a tensor to write: raw little-endian row-major Data of the
// given DType and Shape (nil or empty Shape for a scalar).
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// FromFloat32 makes an F32 Tensor of v, which should hold product(shape)
// values (Encode and Write check it).
func FromFloat32(name string, shape []int, v []float32) Tensor {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		le.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: F32, Shape: slices.Clone(shape), Data: data}
}

// FromFloat64 makes an F64 Tensor of v, which should hold product(shape)
// values (Encode and Write check it).
func FromFloat64(name string, shape []int, v []float64) Tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		le.PutUint64(data[8*i:], math.Float64bits(x))
	}
	return Tensor{Name: name, DType: F64, Shape: slices.Clone(shape), Data: data}
}

// FromInt64 makes an I64 Tensor of v, which should hold product(shape)
// values (Encode and Write check it).
func FromInt64(name string, shape []int, v []int64) Tensor {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		le.PutUint64(data[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: I64, Shape: slices.Clone(shape), Data: data}
}

// Encode returns the safetensors file holding ts and metadata (nil or empty
// for none). Tensors are laid out in sorted name order.
func Encode(ts []Tensor, metadata map[string]string) ([]byte, error) {
	header, sorted, err := encodeHeader(ts, metadata)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	writeFile(&buf, header, sorted)
	return buf.Bytes(), nil
}

// Write writes the safetensors file holding ts and metadata to path,
// atomically: it writes a temporary file in the same directory, syncs it and
// renames it over path. On error nothing is left at path (an existing file
// there is untouched). Tensors are laid out in sorted name order.
func Write(path string, ts []Tensor, metadata map[string]string) (err error) {
	header, sorted, err := encodeHeader(ts, metadata)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		mode = st.Mode().Perm()
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("safetensors: writing %s: %w", path, err)
		}
	}()
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := writeFile(w, header, sorted); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename durable; not every platform can sync a directory.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

type writer interface {
	Write([]byte) (int, error)
}

func writeFile(w writer, header []byte, sorted []Tensor) error {
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(header)))
	if _, err := w.Write(prefix[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, t := range sorted {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}

// encodeHeader validates ts and metadata and returns the padded JSON header
// and the tensors in file order.
func encodeHeader(ts []Tensor, metadata map[string]string) ([]byte, []Tensor, error) {
	fail := func(name, format string, args ...any) error {
		if name == "" {
			return fmt.Errorf("safetensors: encoding: "+format, args...)
		}
		return fmt.Errorf("safetensors: encoding tensor %q: "+format, append([]any{name}, args...)...)
	}
	sorted := slices.Clone(ts)
	slices.SortFunc(sorted, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	for i, t := range sorted {
		switch {
		case t.Name == metadataKey:
			return nil, nil, fail(t.Name, "the name is reserved for the file's metadata")
		case !utf8.ValidString(t.Name):
			return nil, nil, fail(t.Name, "the name is not valid UTF-8")
		case i > 0 && sorted[i-1].Name == t.Name:
			return nil, nil, fail(t.Name, "the name is given twice")
		case !t.DType.Valid():
			return nil, nil, fail(t.Name, "unknown dtype %q", t.DType)
		}
		nbytes := int64(t.DType.Size())
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fail(t.Name, "shape %v has a negative dimension", t.Shape)
			}
			if d != 0 && nbytes > math.MaxInt64/int64(d) {
				return nil, nil, fail(t.Name, "shape %v overflows", t.Shape)
			}
			nbytes *= int64(d)
		}
		if int64(len(t.Data)) != nbytes {
			return nil, nil, fail(t.Name, "has %d bytes of data, but shape %v of %s needs %d", len(t.Data), t.Shape, t.DType, nbytes)
		}
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fail("", "metadata key %q or its value is not valid UTF-8", k)
		}
	}

	var h bytes.Buffer
	h.WriteByte('{')
	if len(metadata) > 0 {
		h.Write(marshal(metadataKey))
		h.WriteByte(':')
		h.Write(marshal(metadata)) // encoding/json sorts map keys
	}
	var offset int64
	for i, t := range sorted {
		if i > 0 || len(metadata) > 0 {
			h.WriteByte(',')
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		end := offset + int64(len(t.Data))
		fmt.Fprintf(&h, `%s:{"dtype":%s,"shape":%s,"data_offsets":[%d,%d]}`,
			marshal(t.Name), marshal(string(t.DType)), marshal(shape), offset, end)
		offset = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	if h.Len() > MaxHeaderSize {
		return nil, nil, errors.New("safetensors: encoding: the header exceeds 100 MB: too many tensors or too much metadata")
	}
	return h.Bytes(), sorted, nil
}

// marshal is json.Marshal without HTML escaping, for values that cannot fail.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // strings, string maps and int slices always encode
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
