package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header accepted, in bytes (the reference
// implementation's limit).
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header entry holding the file's metadata.
const metadataKey = "__metadata__"

// memoryName stands for the file name in errors from Parse.
const memoryName = "<memory>"

var (
	// ErrNotFound is wrapped by the errors for names the file does not hold.
	ErrNotFound = errors.New("tensor not found")
	// ErrClosed is wrapped by the errors for reads after Close.
	ErrClosed = errors.New("file is closed")
)

// FormatError reports an invalid safetensors file.
type FormatError struct {
	File    string // the path given to Open, or "<memory>" for Parse
	Tensor  string // the tensor concerned, or "" when the problem is not about one tensor
	Problem string
}

func (e *FormatError) Error() string {
	if e.Tensor != "" {
		return fmt.Sprintf("safetensors: %s: tensor %q: %s", e.File, e.Tensor, e.Problem)
	}
	return fmt.Sprintf("safetensors: %s: %s", e.File, e.Problem)
}

// TensorInfo describes one tensor of a file. Begin and End are byte offsets
// relative to the start of the data section.
type TensorInfo struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64
}

// File is a validated safetensors file. Its tensor views are valid until Close.
type File struct {
	// Metadata is the header's "__metadata__" (empty, not nil, when absent).
	Metadata map[string]string

	path   string
	data   []byte // the whole file, mapped or read
	body   []byte // the data section, a suffix of data
	infos  map[string]TensorInfo
	names  []string
	unmap  func([]byte) error
	closed bool
}

// Open opens and validates the safetensors file at path. It memory-maps the
// file read-only where the platform allows and reads it otherwise.
//
// Write replaces files by renaming, so a File stays valid if its path is
// rewritten by Write; truncating a mapped file in place (which Write never
// does) would make later reads fault.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	size := st.Size()
	if !st.Mode().IsRegular() {
		return nil, &FormatError{File: path, Problem: "not a regular file"}
	}
	if size > math.MaxInt {
		return nil, &FormatError{File: path, Problem: fmt.Sprintf("file of %d bytes is too large for this platform", size)}
	}
	// Check the length prefix before mapping or reading anything large.
	prefix := make([]byte, min(size, 8))
	if _, err := io.ReadFull(fh, prefix); err != nil {
		return nil, fmt.Errorf("safetensors: reading %s: %w", path, err)
	}
	if _, err := checkPrefix(path, prefix, size); err != nil {
		return nil, err
	}
	data, unmap, err := mapFile(fh, int(size))
	if err != nil {
		// No mapping on this platform or file system: read the file instead.
		data = make([]byte, size)
		if _, err := fh.ReadAt(data, 0); err != nil {
			return nil, fmt.Errorf("safetensors: reading %s: %w", path, err)
		}
		unmap = nil
	}
	f, err := parse(path, data)
	if err != nil {
		if unmap != nil {
			unmap(data)
		}
		return nil, err
	}
	f.unmap = unmap
	return f, nil
}

// Parse validates an in-memory safetensors file, with the same checks as Open.
// The File refers to data, which must not be modified while the File is used.
func Parse(data []byte) (*File, error) {
	return parse(memoryName, data)
}

// checkPrefix validates the length prefix of a file of fileSize bytes, given
// at least its first min(fileSize, 8) bytes, and returns the header length.
func checkPrefix(file string, data []byte, fileSize int64) (int64, error) {
	if fileSize < 8 {
		return 0, &FormatError{File: file, Problem: fmt.Sprintf(
			"file is %d bytes, shorter than the 8-byte header length: it is truncated or not a safetensors file; re-download or re-create it", fileSize)}
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderSize {
		return 0, &FormatError{File: file, Problem: fmt.Sprintf(
			"header length %d exceeds the %d-byte limit: the file is corrupt or not a safetensors file", n, MaxHeaderSize)}
	}
	if n > uint64(fileSize-8) {
		return 0, &FormatError{File: file, Problem: fmt.Sprintf(
			"header length %d exceeds the %d bytes that follow it: the file is truncated; re-download it", n, fileSize-8)}
	}
	return int64(n), nil
}

func parse(file string, data []byte) (*File, error) {
	n, err := checkPrefix(file, data, int64(len(data)))
	if err != nil {
		return nil, err
	}
	header, body := data[8:8+n], data[8+n:]
	fail := func(tensor, format string, args ...any) error {
		return &FormatError{File: file, Tensor: tensor, Problem: fmt.Sprintf(format, args...)}
	}
	if !utf8.Valid(header) {
		return nil, fail("", "header is not valid UTF-8: the file is corrupt or not a safetensors file")
	}

	f := &File{Metadata: map[string]string{}, path: file, data: data, body: body, infos: map[string]TensorInfo{}}
	err = walkObject(header, func(name string, value json.RawMessage) error {
		if name == metadataKey {
			return parseMetadata(value, f.Metadata, fail)
		}
		info, err := parseInfo(name, value, int64(len(body)), fail)
		if err != nil {
			return err
		}
		f.infos[name] = info
		f.names = append(f.names, name)
		return nil
	})
	if err != nil {
		var fe *FormatError
		var dup duplicateKeyError
		switch {
		case errors.As(err, &fe):
			return nil, err
		case errors.As(err, &dup):
			return nil, fail(string(dup), "the name appears more than once in the header: the file is corrupt")
		case errors.Is(err, errNotObject):
			return nil, fail("", "header is not a JSON object: the file is corrupt or not a safetensors file")
		}
		return nil, fail("", "header is not valid JSON (%v): the file is corrupt or not a safetensors file", err)
	}
	slices.Sort(f.names)

	// The tensors must tile the data section exactly.
	order := slices.Clone(f.names)
	slices.SortStableFunc(order, func(a, b string) int {
		ia, ib := f.infos[a], f.infos[b]
		if c := cmpInt64(ia.Begin, ib.Begin); c != 0 {
			return c
		}
		return cmpInt64(ia.End, ib.End)
	})
	var pos int64
	prev := ""
	for _, name := range order {
		info := f.infos[name]
		if info.Begin < pos {
			return nil, fail(name, "data_offsets [%d, %d] overlap tensor %q, which ends at %d", info.Begin, info.End, prev, pos)
		}
		if info.Begin > pos {
			return nil, fail(name, "data_offsets [%d, %d] leave a hole: bytes [%d, %d) of the data section belong to no tensor", info.Begin, info.End, pos, info.Begin)
		}
		pos, prev = info.End, name
	}
	if pos != int64(len(body)) {
		return nil, fail("", "bytes [%d, %d) at the end of the data section belong to no tensor: the file is corrupt", pos, len(body))
	}
	return f, nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// duplicateKeyError is returned by walkObject for a key seen twice.
type duplicateKeyError string

func (e duplicateKeyError) Error() string { return fmt.Sprintf("duplicate key %q", string(e)) }

// errNotObject is returned by walkObject for JSON values other than objects.
var errNotObject = errors.New("not a JSON object")

// walkObject calls fn for every member of the JSON object in data, in order.
// It fails on invalid JSON, on anything but one object (and whitespace), and
// on duplicate keys, which encoding/json would otherwise silently merge.
func walkObject(data []byte, fn func(key string, value json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return errNotObject
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok { // cannot happen: the decoder only yields string keys
			return fmt.Errorf("object key is %v, not a string", tok)
		}
		if seen[key] {
			return duplicateKeyError(key)
		}
		seen[key] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return err
		}
		if err := fn(key, value); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return fmt.Errorf("unexpected data after the object: %v", err)
		}
		return fmt.Errorf("unexpected data after the object: %v", tok)
	}
	return nil
}

// jsonKind names the kind of a JSON value for error messages.
func jsonKind(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

type failFunc func(tensor, format string, args ...any) error

func parseMetadata(value json.RawMessage, into map[string]string, fail failFunc) error {
	if jsonKind(value) == "null" {
		return nil
	}
	if jsonKind(value) != "an object" {
		return fail("", "%s is %s, not an object of strings", metadataKey, jsonKind(value))
	}
	err := walkObject(value, func(key string, v json.RawMessage) error {
		if jsonKind(v) != "a string" {
			return fail("", "%s value for key %q is %s, not a string", metadataKey, key, jsonKind(v))
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return fail("", "%s value for key %q: %v", metadataKey, key, err)
		}
		into[key] = s
		return nil
	})
	var fe *FormatError
	if err != nil && !errors.As(err, &fe) {
		return fail("", "%s: %v", metadataKey, err)
	}
	return err
}

// parseInfo parses the header entry of one tensor, {"dtype": ..., "shape": [...],
// "data_offsets": [begin, end]}, and checks that its offsets lie in the data section
// (of bodyLen bytes) and span exactly the bytes its dtype and shape need.
func parseInfo(name string, value json.RawMessage, bodyLen int64, fail failFunc) (TensorInfo, error) {
	info := TensorInfo{Name: name}
	if k := jsonKind(value); k != "an object" {
		return info, fail(name, "header entry is %s, not an object", k)
	}
	dtype, shape, offsets, err := entryFields(name, value, fail)
	if err != nil {
		return info, err
	}
	if info.DType, err = parseDType(name, dtype, fail); err != nil {
		return info, err
	}
	var nbytes int64
	if info.Shape, nbytes, err = parseShape(name, shape, info.DType, fail); err != nil {
		return info, err
	}
	err = parseOffsets(&info, offsets, nbytes, bodyLen, fail)
	return info, err
}

// entryFields returns the dtype, shape and data_offsets of a header entry, all of which
// must be present.
func entryFields(name string, value json.RawMessage, fail failFunc) (dtype, shape, offsets json.RawMessage, err error) {
	err = walkObject(value, func(key string, v json.RawMessage) error {
		switch key {
		case "dtype":
			dtype = v
		case "shape":
			shape = v
		case "data_offsets":
			offsets = v
		}
		return nil // other keys are ignored, as by the reference implementation
	})
	if err != nil {
		return nil, nil, nil, fail(name, "invalid header entry: %v", err)
	}
	for _, f := range []struct {
		key string
		v   json.RawMessage
	}{{"dtype", dtype}, {"shape", shape}, {"data_offsets", offsets}} {
		if f.v == nil {
			return nil, nil, nil, fail(name, "header entry has no %q", f.key)
		}
	}
	return dtype, shape, offsets, nil
}

// parseDType parses a header entry's dtype, a string naming a known DType.
func parseDType(name string, dtype json.RawMessage, fail failFunc) (DType, error) {
	if k := jsonKind(dtype); k != "a string" {
		return "", fail(name, "dtype is %s, not a string", k)
	}
	var ds string
	if err := json.Unmarshal(dtype, &ds); err != nil {
		return "", fail(name, "dtype: %v", err)
	}
	dt := DType(ds)
	if !dt.Valid() {
		return dt, fail(name, "unknown dtype %q (known: %s)", ds, knownDTypes())
	}
	return dt, nil
}

// parseShape parses a header entry's shape, an array of dimensions ≥ 0, and returns it
// with the tensor's size in bytes as dtype dt, checked not to overflow int64 (a tensor
// with a 0 dimension has 0 bytes, whatever its other dimensions).
func parseShape(name string, shape json.RawMessage, dt DType, fail failFunc) ([]int, int64, error) {
	dims, err := parseInts(shape)
	if err != nil {
		return nil, 0, fail(name, "shape: %v", err)
	}
	nbytes := int64(dt.Size())
	out := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 {
			return out, 0, fail(name, "shape %v has a negative dimension", dims)
		}
		if d > math.MaxInt {
			return out, 0, fail(name, "shape %v has a dimension too large for this platform", dims)
		}
		out[i] = int(d)
		if d == 0 {
			continue
		}
		if nbytes > math.MaxInt64/d {
			return out, 0, fail(name, "shape %v of %s overflows int64 bytes", dims, dt)
		}
		nbytes *= d
	}
	if slices.Contains(dims, 0) {
		nbytes = 0
	}
	return out, nbytes, nil
}

// parseOffsets parses a header entry's data_offsets, [begin, end] relative to the data
// section, into info.Begin and info.End, and checks that they lie within the bodyLen bytes
// of the data section and span the nbytes the tensor needs.
func parseOffsets(info *TensorInfo, offsets json.RawMessage, nbytes, bodyLen int64, fail failFunc) error {
	name := info.Name
	offs, err := parseInts(offsets)
	if err != nil {
		return fail(name, "data_offsets: %v", err)
	}
	if len(offs) != 2 {
		return fail(name, "data_offsets has %d values, want 2: [begin, end]", len(offs))
	}
	info.Begin, info.End = offs[0], offs[1]
	switch {
	case info.Begin < 0 || info.End < 0:
		return fail(name, "data_offsets %v are negative", offs)
	case info.Begin > info.End:
		return fail(name, "data_offsets %v: begin is after end", offs)
	case info.End > bodyLen:
		return fail(name, "data_offsets %v end beyond the %d-byte data section: the file is truncated; re-download it", offs, bodyLen)
	case info.End-info.Begin != nbytes:
		return fail(name, "data_offsets %v span %d bytes, but shape %v of %s needs %d", offs, info.End-info.Begin, info.Shape, info.DType, nbytes)
	}
	return nil
}

// parseInts parses a JSON array of integers (no fractions, no exponents).
func parseInts(v json.RawMessage) ([]int64, error) {
	if k := jsonKind(v); k != "an array" {
		return nil, fmt.Errorf("is %s, not an array of integers", k)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		return nil, err
	}
	out := make([]int64, len(raw))
	for i, r := range raw {
		s := string(bytes.TrimSpace(r))
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("element %d (%s) is not an int64", i, s)
		}
		out[i] = x
	}
	return out, nil
}

func knownDTypes() string {
	var ds []string
	for d := range dtypeSizes {
		ds = append(ds, string(d))
	}
	slices.Sort(ds)
	return strings.Join(ds, ", ")
}

// Close releases the file's memory. Views returned by Raw must not be used
// afterwards. Close is idempotent.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	data := f.data
	f.data, f.body = nil, nil
	if f.unmap != nil {
		if err := f.unmap(data); err != nil {
			return fmt.Errorf("safetensors: closing %s: %w", f.path, err)
		}
	}
	return nil
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info describes the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	info, ok := f.infos[name]
	info.Shape = slices.Clone(info.Shape)
	return info, ok
}

// Require returns an error listing every name the file lacks, or nil.
func (f *File) Require(names ...string) error {
	var missing []string
	for _, name := range names {
		if _, ok := f.infos[name]; !ok {
			missing = append(missing, strconv.Quote(name))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("safetensors: %s: %w: %d of %d required tensors are missing: %s (the file has %d tensors: is it the right checkpoint?)",
		f.path, ErrNotFound, len(missing), len(names), strings.Join(missing, ", "), len(f.names))
}

// Raw returns the named tensor's bytes: a read-only view into the file,
// valid until Close.
func (f *File) Raw(name string) ([]byte, error) {
	_, raw, err := f.lookup(name)
	return raw, err
}

func (f *File) lookup(name string) (TensorInfo, []byte, error) {
	if f.closed {
		return TensorInfo{}, nil, fmt.Errorf("safetensors: %s: reading %q: %w", f.path, name, ErrClosed)
	}
	info, ok := f.infos[name]
	if !ok {
		return info, nil, fmt.Errorf("safetensors: %s: %w: %q (the file has %d tensors)", f.path, ErrNotFound, name, len(f.names))
	}
	return info, f.body[info.Begin:info.End:info.End], nil
}

func (f *File) convertError(info TensorInfo, to, accepted string) error {
	return fmt.Errorf("safetensors: %s: tensor %q is %s; %s converts %s only", f.path, info.Name, info.DType, to, accepted)
}
