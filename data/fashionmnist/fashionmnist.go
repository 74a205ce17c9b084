// Package fashionmnist reads Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017) from the IDX files
// Debian's dataset-fashion-mnist package installs, and serves it in the form a diffusion
// model trains on: NCHW batches scaled to [-1, 1], optionally padded from 28×28 to 32×32.
//
//	apt-get install -y --no-install-recommends dataset-fashion-mnist   # or `make data`
//	ds, err := fashionmnist.Load(fashionmnist.Dir(), fashionmnist.Train) // 60,000 images
//	x := ds.Float32([]int{0, 1}, 2)                                     // [2, 1, 32, 32] flat
//	tr, err := train.New(cfg, ds, "")                                   // a 28×28 model
//	p, err := ds.Padded(2)                                              // for a 32×32 model
//	c, err := quality.TrainClassifier(quality.FashionMNISTClassifier(), ds, tc, "", nil)
//
// A *Dataset is a train.Images and a train.LabelledImages (Len, Batch, BatchLabels), as
// is a Padded one: the training code in belm/ knows no data set, the adapters are here.
// (This package imports nothing of belm/, so that belm's tests can read the real data.)
//
// # Files
//
// The IDX format (http://yann.lecun.com/exdb/mnist/): a big-endian magic number
// 0x00 0x00 <type> <rank> (type 0x08 = unsigned byte), rank big-endian uint32 sizes, then the
// data, row-major. Images are rank 3 ([N, 28, 28], magic 0x00000803), labels rank 1 ([N],
// magic 0x00000801); files may be gzipped (detected by the gzip magic, not by the name).
// Every check failure is an error that names the file: a wrong magic, a wrong rank, a
// size that does not match the data (a truncated or overlong file), labels out of 0…9,
// image and label counts that differ.
package fashionmnist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// DefaultDir is where Debian's dataset-fashion-mnist package puts the files.
const DefaultDir = "/usr/share/datasets/fashion-mnist"

// EnvDir names the environment variable that overrides DefaultDir.
const EnvDir = "FASHION_MNIST_DIR"

// InstallHint is the command that installs the files on Debian.
const InstallHint = "apt-get install -y --no-install-recommends dataset-fashion-mnist"

// Dir returns $FASHION_MNIST_DIR, or DefaultDir when it is unset.
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	return DefaultDir
}

// Split selects the training or the test set.
type Split string

const (
	Train Split = "train" // 60,000 images
	Test  Split = "t10k"  // 10,000 images
)

// ParseSplit accepts "train", "test" or "t10k".
func ParseSplit(s string) (Split, error) {
	switch s {
	case "train":
		return Train, nil
	case "test", "t10k":
		return Test, nil
	}
	return "", fmt.Errorf("fashionmnist: unknown split %q (train or test)", s)
}

// Files returns the image and label file names of a split (gzipped, as Debian ships them).
func Files(split Split) (images, labels string) {
	return string(split) + "-images-idx3-ubyte.gz", string(split) + "-labels-idx1-ubyte.gz"
}

// ClassNames are Fashion-MNIST's ten labels, by label value.
var ClassNames = [10]string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// Size is the side of a Fashion-MNIST image.
const Size = 28

// Dataset is a split in memory: Len() images of H×W bytes (0 = background, 255 = ink) and
// their labels.
type Dataset struct {
	Images []uint8 // [N, H, W], row-major
	Labels []uint8 // [N], 0…9
	H, W   int
	Split  Split // the split Load read ("" for a Dataset made otherwise)
}

// Len is the number of images.
func (d *Dataset) Len() int { return len(d.Labels) }

// Load reads a split from dir (the folder with the four .gz files; see Dir). A missing
// folder, a missing file, or files holding no images is an error that names the folder
// and says how to install the package.
func Load(dir string, split Split) (*Dataset, error) {
	if split != Train && split != Test {
		return nil, fmt.Errorf("fashionmnist: unknown split %q", split)
	}
	imgName, lblName := Files(split)
	imgPath, lblPath := filepath.Join(dir, imgName), filepath.Join(dir, lblName)
	fix := fmt.Sprintf("install Debian's package with `%s`, or set $%s (or --data_dir) to the folder holding %s and %s",
		InstallHint, EnvDir, imgName, lblName)
	if dir == "" {
		return nil, fmt.Errorf("fashionmnist: no folder given: %s", fix)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("fashionmnist: folder %s not found (%v): %s", dir, errors.Unwrap(err), fix)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("fashionmnist: %s is a file, not a folder: %s", dir, fix)
	}
	for _, p := range []string{imgPath, lblPath} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("fashionmnist: the folder %s has no %s (%v): %s",
				dir, filepath.Base(p), errors.Unwrap(err), fix)
		}
	}
	dims, imgs, err := ReadIDXFile(imgPath)
	if err != nil {
		return nil, err
	}
	if len(dims) != 3 {
		return nil, fmt.Errorf("fashionmnist: %s: images must be a rank-3 IDX array [N, H, W], got dimensions %v", imgPath, dims)
	}
	ldims, lbls, err := ReadIDXFile(lblPath)
	if err != nil {
		return nil, err
	}
	if len(ldims) != 1 {
		return nil, fmt.Errorf("fashionmnist: %s: labels must be a rank-1 IDX array [N], got dimensions %v", lblPath, ldims)
	}
	if dims[0] == 0 || dims[1] == 0 || dims[2] == 0 {
		return nil, fmt.Errorf("fashionmnist: %s holds no images (IDX dimensions %v) in the folder %s: %s", imgName, dims, dir, fix)
	}
	if dims[0] != ldims[0] {
		return nil, fmt.Errorf("fashionmnist: %s holds %d images but %s holds %d labels", imgPath, dims[0], lblPath, ldims[0])
	}
	for i, l := range lbls {
		if l > 9 {
			return nil, fmt.Errorf("fashionmnist: %s: label %d of item %d is not in 0…9", lblPath, l, i)
		}
	}
	return &Dataset{Images: imgs, Labels: lbls, H: dims[1], W: dims[2], Split: split}, nil
}

// maxIDXBytes bounds the data an IDX header may announce (1 GiB), so that a corrupt header
// fails before allocating.
const maxIDXBytes = 1 << 30

// ReadIDXFile reads an unsigned-byte IDX file, gzipped or not. Errors name the file.
func ReadIDXFile(path string) (dims []int, data []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("fashionmnist: %w", err)
	}
	defer f.Close()
	dims, data, err = ReadIDX(f)
	if err != nil {
		return nil, nil, fmt.Errorf("fashionmnist: %s: %w", path, err)
	}
	return dims, data, nil
}

// ReadIDX reads an unsigned-byte IDX array (gzipped or not) from r: its dimensions and its
// data, which must be exactly as long as the dimensions say.
func ReadIDX(r io.Reader) (dims []int, data []byte, err error) {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("corrupt gzip stream: %w", err)
		}
		defer zr.Close()
		return readIDX(zr)
	}
	return readIDX(br)
}

func readIDX(r io.Reader) ([]int, []byte, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("truncated IDX header (no magic number): %w", err)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, nil, fmt.Errorf("not an IDX file: magic number %#08x does not start with two zero bytes", binary.BigEndian.Uint32(magic[:]))
	}
	if magic[2] != 0x08 {
		return nil, nil, fmt.Errorf("IDX data type %#02x is not unsigned byte (0x08)", magic[2])
	}
	rank := int(magic[3])
	if rank < 1 || rank > 4 {
		return nil, nil, fmt.Errorf("IDX rank %d is not in 1…4", rank)
	}
	hdr := make([]byte, 4*rank)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, nil, fmt.Errorf("truncated IDX header (rank %d, sizes cut off): %w", rank, err)
	}
	dims := make([]int, rank)
	size := int64(1)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(hdr[4*i:]))
		size *= int64(dims[i])
		if size > maxIDXBytes {
			return nil, nil, fmt.Errorf("IDX dimensions %v announce more than %d bytes", dims[:i+1], maxIDXBytes)
		}
	}
	data := make([]byte, size)
	n, err := io.ReadFull(r, data)
	if err != nil {
		return nil, nil, fmt.Errorf("truncated IDX data: dimensions %v need %d bytes, the file has %d: %w", dims, size, n, err)
	}
	var extra [1]byte
	if m, _ := r.Read(extra[:]); m > 0 {
		rest, _ := io.Copy(io.Discard, r)
		return nil, nil, fmt.Errorf("IDX file has %d bytes after the %d bytes of dimensions %v", rest+1, size, dims)
	}
	return dims, data, nil
}

// EncodeIDX writes an unsigned-byte IDX array (for tests and small fixtures).
func EncodeIDX(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

// Scale maps a pixel byte to [-1, 1] as diffusers' training scripts do
// (ToTensor then Normalize([0.5], [0.5])): v/127.5 − 1.
func Scale(v uint8) float64 { return float64(v)/127.5 - 1 }

// Float32 returns the images at indices as a flat NCHW batch [len(indices), 1, H+2·pad,
// W+2·pad] in [-1, 1]; the pad border is background (−1). pad 2 turns 28×28 into 32×32.
func (d *Dataset) Float32(indices []int, pad int) []float32 {
	out := make([]float32, len(indices)*(d.H+2*pad)*(d.W+2*pad))
	d.fill(indices, pad, func(i int, v float64) { out[i] = float32(v) })
	return out
}

// Float64 is Float32 in float64.
func (d *Dataset) Float64(indices []int, pad int) []float64 {
	out := make([]float64, len(indices)*(d.H+2*pad)*(d.W+2*pad))
	d.fill(indices, pad, func(i int, v float64) { out[i] = v })
	return out
}

// Batch returns the images at indices, unpadded: Float32(indices, 0). With Len and
// BatchLabels it makes a Dataset a training set of belm/train and belm/quality.
func (d *Dataset) Batch(indices []int) []float32 { return d.Float32(indices, 0) }

// String names the data: "Fashion-MNIST train split", "Fashion-MNIST test split", or
// "Fashion-MNIST" when the split is unknown (the provenance a trained classifier keeps).
func (d *Dataset) String() string {
	switch d.Split {
	case Train:
		return "Fashion-MNIST train split"
	case Test:
		return "Fashion-MNIST test split"
	}
	return "Fashion-MNIST"
}

// Padded is a Dataset whose images are padded by a border of background on each side, as
// a training set (Len, Batch, BatchLabels) for a model larger than 28×28.
type Padded struct {
	d   *Dataset
	pad int
}

// Padded returns the dataset with pad pixels of background (−1) added on each side of
// every image: pad 2 turns 28×28 into 32×32, pad 0 is the dataset itself.
func (d *Dataset) Padded(pad int) (Padded, error) {
	if pad < 0 {
		return Padded{}, fmt.Errorf("fashionmnist: padding %d < 0: the model's sample_size must be at least the images' %d", pad, d.H)
	}
	return Padded{d, pad}, nil
}

// Len is the number of images.
func (p Padded) Len() int { return p.d.Len() }

// Batch returns the padded images at indices: Float32(indices, pad).
func (p Padded) Batch(indices []int) []float32 { return p.d.Float32(indices, p.pad) }

// BatchLabels returns the labels at indices.
func (p Padded) BatchLabels(indices []int) []int { return p.d.BatchLabels(indices) }

// String names the data, with its padding.
func (p Padded) String() string {
	if p.pad == 0 {
		return p.d.String()
	}
	return fmt.Sprintf("%s, padded to %d×%d", p.d, p.d.H+2*p.pad, p.d.W+2*p.pad)
}

// BatchLabels returns the labels at indices.
func (d *Dataset) BatchLabels(indices []int) []int {
	out := make([]int, len(indices))
	for i, j := range indices {
		out[i] = int(d.Labels[j])
	}
	return out
}

func (d *Dataset) fill(indices []int, pad int, set func(int, float64)) {
	if pad < 0 {
		panic(fmt.Sprintf("fashionmnist: negative padding %d", pad))
	}
	h, w := d.H+2*pad, d.W+2*pad
	var lut [256]float64
	for v := range lut {
		lut[v] = Scale(uint8(v))
	}
	for b, idx := range indices {
		img := d.Images[idx*d.H*d.W : (idx+1)*d.H*d.W]
		base := b * h * w
		for y := range h {
			for x := range w {
				v := -1.0
				if iy, ix := y-pad, x-pad; iy >= 0 && iy < d.H && ix >= 0 && ix < d.W {
					v = lut[img[iy*d.W+ix]]
				}
				set(base+y*w+x, v)
			}
		}
	}
}

// First returns the first n images of a split from Dir(), as float64 values in [−1, 1]
// (NCHW, 1×28×28 each): what a notebook or a test reconstructs or interpolates.
func First(split Split, n int) ([]float64, error) {
	d, err := Load(Dir(), split)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > d.Len() {
		return nil, fmt.Errorf("fashion-mnist: %d images asked of the %s split's %d", n, split, d.Len())
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return d.Float64(idx, 0), nil
}
