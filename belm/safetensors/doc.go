// Package safetensors reads and writes the safetensors tensor file format
// (https://github.com/huggingface/safetensors) without third-party code.
//
// # Format
//
// A safetensors file is:
//
//	[8 bytes]  N, the header length, a little-endian uint64
//	[N bytes]  the header: a UTF-8 JSON object
//	[rest]     the data section: every tensor's raw bytes, little-endian, row-major
//
// The header maps each tensor name to
//
//	{"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
//
// where begin and end are byte offsets relative to the start of the data
// section, and may hold one optional "__metadata__" entry, an object of
// string keys to string values. The writer pads the header with spaces to a
// multiple of 8 bytes, as the reference implementation does.
//
// # Validation
//
// Open and Parse validate the whole header before returning, so that a File
// handed to the caller is consistent: every read afterwards is a bounds-safe
// slice of the data section. The checks mirror the reference implementation:
//
//   - the file has at least the 8-byte length prefix;
//   - the header length does not exceed MaxHeaderSize (100 MB) nor the file
//     (it is checked before anything is allocated, so a corrupt length such as
//     2^60 fails at once);
//   - the header is valid UTF-8 and one JSON object, with nothing after it but
//     whitespace; every entry is an object; no name appears twice (Go's
//     encoding/json would silently keep the last, so the header is walked
//     token by token); "__metadata__" holds only string values;
//   - each tensor has a known dtype, a shape of non-negative dimensions whose
//     byte size fits in an int64, and data_offsets of exactly two
//     non-negative integers with begin <= end <= the data section's length;
//   - end-begin equals the number of elements times the dtype's size;
//   - the tensors tile the data section exactly: no two overlap, and no byte
//     is left uncovered (no holes, no trailing bytes).
//
// Every failure is a *FormatError naming the file, the tensor when there is
// one, and the problem; nothing panics on hostile input (FuzzParse checks this).
//
// # Reading
//
// Open memory-maps the file read-only where the platform allows it and
// otherwise reads it into memory. Raw returns views into that memory, valid
// until Close, which must not be modified (writing into a mapping faults). Float32, Float64, Int64 and Tensor
// return fresh copies, converting dtypes as documented on each method. A File
// is safe for concurrent reads; Close must not race with them.
//
// # Writing
//
// Encode builds a file in memory and Write writes one atomically (temporary
// file in the same directory, fsync, rename). Tensors are laid out in sorted
// name order. FromFloat32, FromFloat64 and FromInt64 build Tensors from Go
// slices; any other dtype can be written by filling Tensor.Data directly.
package safetensors
