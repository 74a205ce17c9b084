package unet

import (
	"archive/zip"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// PyTorchWeightsFile is the PyTorch checkpoint of a diffusers model folder, read when the
// folder has no safetensors file.
const PyTorchWeightsFile = "diffusion_pytorch_model.bin"

// pickleGlobals are the only globals a checkpoint's pickle may name: the tensor rebuild
// function and the storage classes of the float dtypes. gopickle never executes Python,
// but a pickle naming anything else is not a state dict, and is refused.
var pickleGlobals = map[string]func() any{
	"torch._utils._rebuild_tensor_v2": func() any { return &pytorch.RebuildTensorV2{} },
	"torch.FloatStorage":              func() any { return &pytorch.FloatStorageClass{} },
	"torch.HalfStorage":               func() any { return &pytorch.HalfStorageClass{} },
	"torch.BFloat16Storage":           func() any { return &pytorch.BFloat16StorageClass{} },
	"torch.DoubleStorage":             func() any { return &pytorch.DoubleStorageClass{} },
}

// element sizes of the storages, to check a storage's size against its zip record
// before anything is allocated.
func storageElemSize(c pytorch.StorageClassInterface) int {
	switch c.(type) {
	case *pytorch.DoubleStorageClass:
		return 8
	case *pytorch.FloatStorageClass:
		return 4
	}
	return 2
}

// LoadPyTorch reads the tensors of a zip-format PyTorch checkpoint (what torch.save writes
// since PyTorch 1.6, e.g. diffusers' diffusion_pytorch_model.bin): archive/data.pkl, a
// pickled state dict, and archive/data/<key>, the storages' raw little-endian bytes.
//
// Nothing is executed: the pickle is read by gopickle's unpickler (a Go interpreter of
// the pickle opcodes) with its globals restricted to torch._utils._rebuild_tensor_v2 and
// the Float/Half/BFloat16/Double storage classes; a pickle naming any other global
// (os.system, builtins.eval, …) is refused with an error naming it. (gopickle resolves
// collections.OrderedDict, __builtin__.object and copy_reg._reconstructor to inert Go
// containers itself; the result must be a dict of tensors, anything else is refused.)
// Float16 and BFloat16 tensors are returned as float32 (exactly), float64 as float64.
// Legacy (pre-1.6, non-zip) checkpoints and TorchScript archives are refused.
func LoadPyTorch(filename string) (TensorMap, error) {
	zr, err := zip.OpenReader(filename)
	if err != nil {
		return nil, fmt.Errorf("unet: %s is not a zip-format PyTorch checkpoint (%v): re-save it with torch.save in PyTorch ≥ 1.6, or convert it to safetensors", filename, err)
	}
	defer zr.Close()
	dataPkl, records, err := checkpointRecords(filename, zr)
	if err != nil {
		return nil, err
	}
	r, err := dataPkl.Open()
	if err != nil {
		return nil, fmt.Errorf("unet: %s: %w", filename, err)
	}
	defer r.Close()
	u := pickle.NewUnpickler(io.LimitReader(r, 1<<30))
	u.FindClass = findPickleGlobal
	u.PersistentLoad = (&storageLoader{records: records, storages: map[string]pytorch.StorageInterface{}}).load
	obj, err := u.Load()
	if err != nil {
		return nil, fmt.Errorf("unet: reading %s: %w", filename, err)
	}
	return stateDictTensors(filename, obj)
}

// checkpointRecords finds the archive's <archive>/data.pkl and its storage records
// <archive>/data/<key>, by key.
func checkpointRecords(filename string, zr *zip.ReadCloser) (*zip.File, map[string]*zip.File, error) {
	records := map[string]*zip.File{}
	var dataPkl *zip.File
	for _, f := range zr.File {
		dir, name := path.Split(f.Name)
		if name == "constants.pkl" {
			return nil, nil, fmt.Errorf("unet: %s is a TorchScript archive, not a state dict: save model.state_dict() with torch.save", filename)
		}
		if name == "data.pkl" && strings.Count(dir, "/") == 1 {
			dataPkl = f
		}
		if strings.HasSuffix(dir, "/data/") {
			records[name] = f
		}
	}
	if dataPkl == nil {
		return nil, nil, fmt.Errorf("unet: %s has no <archive>/data.pkl: it is not a PyTorch checkpoint", filename)
	}
	return dataPkl, records, nil
}

// findPickleGlobal is the unpickler's FindClass: it resolves the pickleGlobals and
// refuses any other global.
func findPickleGlobal(module, name string) (any, error) {
	if mk, ok := pickleGlobals[module+"."+name]; ok {
		return mk(), nil
	}
	allowed := []string{"collections.OrderedDict"}
	for k := range pickleGlobals {
		allowed = append(allowed, k)
	}
	slices.Sort(allowed)
	return nil, fmt.Errorf("the pickle names the global %s.%s, which a tensor checkpoint never needs (allowed: %s); refusing to load it: get the model as safetensors, or from a source you trust",
		module, name, strings.Join(allowed, ", "))
}

// storageLoader resolves the pickle's persistent ids to storages read from the archive's
// records, each once.
type storageLoader struct {
	records  map[string]*zip.File
	storages map[string]pytorch.StorageInterface
}

// load is the unpickler's PersistentLoad. A persistent id is the tuple
// ('storage', class, key, location, size); the record's size is checked against size
// elements of class before the storage is allocated.
func (l *storageLoader) load(id any) (any, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() != 5 {
		return nil, fmt.Errorf("unexpected persistent id %v (want ('storage', class, key, location, size))", id)
	}
	kind, _ := t.Get(0).(string)
	class, okC := t.Get(1).(pytorch.StorageClassInterface)
	key, okK := t.Get(2).(string)
	location, _ := t.Get(3).(string)
	size, okS := t.Get(4).(int)
	if kind != "storage" || !okC || !okK || !okS || size < 0 {
		return nil, fmt.Errorf("unexpected persistent id %v", id)
	}
	if s, ok := l.storages[key]; ok {
		return s, nil
	}
	rec, ok := l.records[key]
	if !ok {
		return nil, fmt.Errorf("storage %q is not in the archive", key)
	}
	if want := uint64(size) * uint64(storageElemSize(class)); rec.UncompressedSize64 != want {
		return nil, fmt.Errorf("storage %q has %d bytes, but the pickle says %d elements (%d bytes)", key, rec.UncompressedSize64, size, want)
	}
	f, err := rec.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := class.New(size, location)
	if err := s.SetFromFileWithSize(f, size); err != nil {
		return nil, fmt.Errorf("reading storage %q: %w", key, err)
	}
	l.storages[key] = s
	return s, nil
}

// stateDictTensors converts the unpickled object, which must be a dict of tensors keyed
// by name, to a TensorMap.
func stateDictTensors(filename string, obj any) (TensorMap, error) {
	entries, err := dictEntries(obj)
	if err != nil {
		return nil, fmt.Errorf("unet: %s: %w", filename, err)
	}
	out := TensorMap{}
	for _, e := range entries {
		name, ok := e.Key.(string)
		if !ok {
			return nil, fmt.Errorf("unet: %s: a state-dict key is %T, not a string", filename, e.Key)
		}
		pt, ok := e.Value.(*pytorch.Tensor)
		if !ok {
			return nil, fmt.Errorf("unet: %s: %q is a %T, not a tensor (the file must hold a state dict of tensors)", filename, name, e.Value)
		}
		t, err := torchToTensor(pt)
		if err != nil {
			return nil, fmt.Errorf("unet: %s: tensor %q: %w", filename, name, err)
		}
		out[name] = t
	}
	return out, nil
}

func dictEntries(obj any) ([]types.DictEntry, error) {
	switch d := obj.(type) {
	case *types.OrderedDict:
		var out []types.DictEntry
		for e := d.List.Front(); e != nil; e = e.Next() {
			oe := e.Value.(*types.OrderedDictEntry)
			out = append(out, types.DictEntry{Key: oe.Key, Value: oe.Value})
		}
		return out, nil
	case *types.Dict:
		return *d, nil
	}
	return nil, fmt.Errorf("the pickle holds a %T, not a state dict", obj)
}

// torchToTensor gathers a (possibly strided) PyTorch tensor into a dense tensor.
func torchToTensor(pt *pytorch.Tensor) (*tensors.Tensor, error) {
	var f32 []float32
	var f64 []float64
	var n int
	switch s := pt.Source.(type) {
	case *pytorch.FloatStorage:
		f32, n = s.Data, len(s.Data)
	case *pytorch.HalfStorage:
		f32, n = s.Data, len(s.Data)
	case *pytorch.BFloat16Storage:
		f32, n = s.Data, len(s.Data)
	case *pytorch.DoubleStorage:
		f64, n = s.Data, len(s.Data)
	default:
		return nil, fmt.Errorf("storage %T is not a float storage", pt.Source)
	}
	if len(pt.Size) != len(pt.Stride) {
		return nil, fmt.Errorf("size %v and stride %v differ in rank", pt.Size, pt.Stride)
	}
	size := 1
	for _, d := range pt.Size {
		if d < 0 {
			return nil, fmt.Errorf("negative dimension in %v", pt.Size)
		}
		size *= d
	}
	// Index of every element, with a bounds check on the last reachable one.
	idx := make([]int, size)
	if size > 0 {
		hi := pt.StorageOffset
		for k, d := range pt.Size {
			if pt.Stride[k] < 0 {
				return nil, fmt.Errorf("negative stride %v", pt.Stride)
			}
			hi += (d - 1) * pt.Stride[k]
		}
		if pt.StorageOffset < 0 || hi >= n {
			return nil, fmt.Errorf("size %v, stride %v and offset %d reach past the storage's %d elements", pt.Size, pt.Stride, pt.StorageOffset, n)
		}
		coord := make([]int, len(pt.Size))
		for i := range idx {
			off := pt.StorageOffset
			for k, c := range coord {
				off += c * pt.Stride[k]
			}
			idx[i] = off
			for k := len(coord) - 1; k >= 0; k-- {
				if coord[k]++; coord[k] < pt.Size[k] {
					break
				}
				coord[k] = 0
			}
		}
	}
	dims := slices.Clone(pt.Size)
	if f64 != nil {
		v := make([]float64, size)
		for i, j := range idx {
			v[i] = f64[j]
		}
		return tensors.FromFlatDataAndDimensions(v, dims...), nil
	}
	v := make([]float32, size)
	for i, j := range idx {
		v[i] = f32[j]
	}
	return tensors.FromFlatDataAndDimensions(v, dims...), nil
}
