package unet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/belmlab/workbench/belm/hub"
	"github.com/belmlab/workbench/belm/nn"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// params holds a diffusers model's weights by state-dict name, checked against the names
// and shapes its plan lists (paramSpec), and the model.Store that feeds them to graphs.
// Every model of the package (UNet2DModel, UNet2DConditionModel, AutoencoderKL) loads,
// initialises and counts its weights through it.
type params struct {
	what    string // model name for errors: "unet", "vae"
	opts    options
	specs   []paramSpec
	weights map[string]*tensors.Tensor // diffusers state-dict name → value (in opts.dtype)
	shapes  map[string][]int
	names   []string // state-dict order
	store   *model.Store
}

func buildOptions(opts []Option) (options, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.dtype != dtypes.Float32 && o.dtype != dtypes.Float64 {
		return o, fmt.Errorf("unet: weights dtype %s is not supported (Float32 or Float64)", o.dtype)
	}
	return o, nil
}

func newParams(what string, specs []paramSpec, o options) *params {
	p := &params{what: what, opts: o, specs: specs, weights: map[string]*tensors.Tensor{}, shapes: map[string][]int{}}
	for _, ps := range specs {
		p.names = append(p.names, ps.name)
		p.shapes[ps.name] = ps.shape
	}
	return p
}

// bind takes the weights from w, keyed by state-dict names (current or legacy attention
// names), and builds the store. Missing tensors, tensors of the wrong shape and unexpected
// tensors are reported together in one error.
func (p *params) bind(w Weights) error {
	if w == nil {
		return fmt.Errorf("%s: nil weights", p.what)
	}
	source := map[string]string{} // current name → name in w
	var unexpected, duplicated []string
	for _, name := range w.Names() {
		cur := canonicalName(name)
		if prev, dup := source[cur]; dup {
			duplicated = append(duplicated, fmt.Sprintf("%q and %q", prev, name))
			continue
		}
		source[cur] = name
		if _, ok := p.shapes[cur]; !ok {
			unexpected = append(unexpected, fmt.Sprintf("%q", name))
		}
	}
	var missing, mismatched []string
	for _, name := range p.names {
		src, ok := source[name]
		if !ok {
			missing = append(missing, fmt.Sprintf("%q %v", name, p.shapes[name]))
			continue
		}
		t, err := w.Tensor(src, p.opts.dtype)
		if err != nil {
			mismatched = append(mismatched, fmt.Sprintf("%q: %v", src, err))
			continue
		}
		if got := t.Shape().Dimensions; !slices.Equal(got, p.shapes[name]) {
			mismatched = append(mismatched, fmt.Sprintf("%q has shape %v, want %v", src, got, p.shapes[name]))
			continue
		}
		p.weights[name] = t
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%d missing tensors: %s", len(missing), strings.Join(missing, ", ")))
	}
	if len(mismatched) > 0 {
		problems = append(problems, fmt.Sprintf("%d tensors with a wrong shape or dtype: %s", len(mismatched), strings.Join(mismatched, "; ")))
	}
	if len(unexpected) > 0 {
		problems = append(problems, fmt.Sprintf("%d unexpected tensors: %s", len(unexpected), strings.Join(unexpected, ", ")))
	}
	if len(duplicated) > 0 {
		problems = append(problems, fmt.Sprintf("tensors given under both legacy and current names: %s", strings.Join(duplicated, ", ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: the weights do not match the config (%d tensors expected): %s",
			p.what, len(p.names), strings.Join(problems, "; "))
	}
	return p.buildStore()
}

// randomize sets random weights drawn from seed, like PyTorch's default initialisation
// (convolutions and linear layers uniform in ±1/√fan_in, norms weight 1 and bias 0), in
// the options' dtype, and builds the store.
func (p *params) randomize(seed int64) error {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	for _, ps := range p.specs {
		vals := make([]float64, prod(ps.shape))
		switch ps.kind {
		case kindWeight, kindBias:
			// fan_in of the layer: the weight's size / out channels.
			w := p.shapes[strings.TrimSuffix(strings.TrimSuffix(ps.name, ".bias"), ".weight")+".weight"]
			bound := 1 / math.Sqrt(float64(prod(w[1:])))
			for i := range vals {
				vals[i] = (2*rng.Float64() - 1) * bound
			}
		case kindNormW:
			for i := range vals {
				vals[i] = 1
			}
		}
		if p.opts.dtype == dtypes.Float64 {
			p.weights[ps.name] = tensors.FromFlatDataAndDimensions(vals, ps.shape...)
		} else {
			v32 := make([]float32, len(vals))
			for i, x := range vals {
				v32[i] = float32(x)
			}
			p.weights[ps.name] = tensors.FromFlatDataAndDimensions(v32, ps.shape...)
		}
	}
	return p.buildStore()
}

func prod(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// buildStore creates the model.Store with one variable per weight, at the root scope:
// "down_blocks.0.resnets.0.conv1.weight" is the variable "/down_blocks/0/resnets/0/conv1/weight".
func (p *params) buildStore() error {
	p.store = model.NewStore()
	root := p.store.RootScope()
	for _, name := range p.names {
		path := model.JoinPath(root.Scope(), strings.ReplaceAll(name, ".", "/"))
		if _, err := p.store.CreateVariable(path, p.weights[name]); err != nil {
			return fmt.Errorf("%s: %w", p.what, err)
		}
	}
	return nil
}

// Store returns the store holding the weights (belm.StoreProvider).
func (p *params) Store() *model.Store { return p.store }

// inline reports whether graphs for backend be hold the weights as constants
// (WithInlineWeights).
func (p *params) inline(be compute.Backend) bool {
	o := p.opts
	return o.inlineWeights && !o.differentiableStrides && !nn.PureGo(be) &&
		int64(p.NumParameters())*int64(o.dtype.Size()) <= InlineWeightsMaxBytes
}

// DType returns the dtype the weights are stored in.
func (p *params) DType() dtypes.DType { return p.opts.dtype }

// NumParameters returns the number of scalar parameters (143,267 for the tiny UNet2DModel
// fixture, 35,746,307 for google/ddpm-cifar10-32).
func (p *params) NumParameters() int {
	n := 0
	for _, name := range p.names {
		n += prod(p.shapes[name])
	}
	return n
}

// ParameterNames lists the state-dict names of the weights, in diffusers' module order.
func (p *params) ParameterNames() []string { return slices.Clone(p.names) }

// Weights is a source of named tensors: a *safetensors.File or a TensorMap.
type Weights interface {
	Names() []string
	Tensor(name string, dtype dtypes.DType) (*tensors.Tensor, error)
}

var _ Weights = (*safetensors.File)(nil)

// TensorMap is an in-memory Weights.
type TensorMap map[string]*tensors.Tensor

// Names implements Weights (sorted).
func (m TensorMap) Names() []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Tensor implements Weights, converting between float32 and float64 if asked.
func (m TensorMap) Tensor(name string, dtype dtypes.DType) (*tensors.Tensor, error) {
	t, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("unet: no tensor %q", name)
	}
	if t.DType() == dtype {
		return t, nil
	}
	dims := t.Shape().Dimensions
	switch {
	case t.DType() == dtypes.Float32 && dtype == dtypes.Float64:
		v, err := tensors.CopyFlatData[float32](t)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return tensors.FromFlatDataAndDimensions(out, dims...), nil
	case t.DType() == dtypes.Float64 && dtype == dtypes.Float32:
		v, err := tensors.CopyFlatData[float64](t)
		if err != nil {
			return nil, err
		}
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return tensors.FromFlatDataAndDimensions(out, dims...), nil
	}
	return nil, fmt.Errorf("unet: tensor %q is %s, cannot convert it to %s", name, t.DType(), dtype)
}

// legacyAttention maps the attention parameter names of 2022 checkpoints to the current
// ones, as diffusers does on load ("group_norm" keeps its name).
var legacyAttention = map[string]string{"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}

// canonicalName returns the current diffusers name of a state-dict key, translating the
// legacy attention names (…attentions.N.query.weight → …attentions.N.to_q.weight).
func canonicalName(name string) string {
	parts := strings.Split(name, ".")
	// …, "attentions", N, <legacy>, "weight"|"bias"
	if n := len(parts); n >= 4 && parts[n-4] == "attentions" {
		if cur, ok := legacyAttention[parts[n-2]]; ok {
			return strings.Join(append(slices.Clone(parts[:n-2]), cur, parts[n-1]), ".")
		}
	}
	return name
}

// OpenWeights opens the preferred weight file among names in dir (hub.DiffusersWeights for
// a diffusers model, hub.TransformersWeights for a text encoder): safetensors (float16 and
// bfloat16 upcast on read) or a zip-format PyTorch checkpoint (LoadPyTorch, nothing
// executed). close releases the file; path names it in errors.
func OpenWeights(dir string, names []string) (w Weights, path string, close func(), err error) {
	path = hub.FindWeights(dir, names)
	switch {
	case path == "":
		return nil, "", nil, fmt.Errorf("%s has no weights: put one of %s there", dir, strings.Join(names, ", "))
	case strings.HasSuffix(path, ".safetensors"):
		f, err := safetensors.Open(path)
		if err != nil {
			return nil, path, nil, err
		}
		return f, path, func() { f.Close() }, nil
	}
	m, err := LoadPyTorch(path)
	return m, path, func() {}, err
}
