// Package quality measures the sample quality of a generative model of Fashion-MNIST the
// way the paper's FID does for CIFAR-10 and CelebA-HQ (spec §5, Table 3), with a feature
// extractor trained here instead of Inception-v3 (which cannot be downloaded on these
// machines and was never trained on 28×28 grayscale garments):
//
//  1. Classifier: a small CNN trained on the Fashion-MNIST training split (TrainClassifier,
//     on any train.LabelledImages), shipped in data/fashion-mnist/classifier.safetensors.
//     Its penultimate layer (the 128 ReLU units before the logits) is the feature space: it
//     is a FeatureExtractor.
//
//  2. FrechetDistance: the Fréchet (2-Wasserstein) distance between Gaussians fitted to the
//     features of generated images and of the test split (Fit, Moments; MomentsOf and
//     StatsOf for any FeatureExtractor),
//
//     FD = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}),
//
//     the formula of FID (Heusel et al. 2017) on other features. Its values are not
//     comparable to FID numbers (other features, other scale); its ordering of samplers is
//     what mirrors the paper's Table 3. Lower is better; 0 for identical statistics.
//
// Everything is float32 on any GoMLX backend; the statistics are float64. The package
// imports no data set: data/fashionmnist's Dataset is a train.LabelledImages.
package quality

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/belmlab/workbench/belm/backends"
	"github.com/belmlab/workbench/belm/nn"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// ClassifierConfig is the architecture of a Classifier:
//
//	for each c in ConvChannels:  x ← avgpool2×2(ReLU(conv3×3(x) + b))     28 → 14 → 7
//	features = ReLU(fc · flatten(x) + b)                                [Hidden]
//	logits   = out · features + b                                      [Classes]
type ClassifierConfig struct {
	SampleSize   int      `json:"sample_size"`
	InChannels   int      `json:"in_channels"`
	ConvChannels []int    `json:"conv_channels"`
	Hidden       int      `json:"hidden_size"`
	ClassNames   []string `json:"class_names"`
}

// Validate checks the architecture.
func (c ClassifierConfig) Validate() error {
	var errs []string
	if c.SampleSize < 1 || c.InChannels < 1 || c.Hidden < 1 || len(c.ClassNames) < 2 {
		errs = append(errs, fmt.Sprintf("sample_size %d, in_channels %d, hidden_size %d must be ≥ 1 and there must be ≥ 2 classes (%d)",
			c.SampleSize, c.InChannels, c.Hidden, len(c.ClassNames)))
	}
	if len(c.ConvChannels) == 0 || c.SampleSize%(1<<len(c.ConvChannels)) != 0 {
		errs = append(errs, fmt.Sprintf("%d conv blocks halve the size %d each time: it must divide by %d", len(c.ConvChannels), c.SampleSize, 1<<len(c.ConvChannels)))
	}
	for _, ch := range c.ConvChannels {
		if ch < 1 {
			errs = append(errs, "conv_channels must be ≥ 1")
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("quality: invalid classifier config: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (c ClassifierConfig) flat() int {
	s := c.SampleSize >> len(c.ConvChannels)
	return c.ConvChannels[len(c.ConvChannels)-1] * s * s
}

// paramShapes lists the parameters (PyTorch layouts: Conv2d [out, in, 3, 3], Linear [out, in]).
func (c ClassifierConfig) paramShapes() (names []string, shapes [][]int) {
	add := func(name string, shape ...int) { names, shapes = append(names, name), append(shapes, shape) }
	in := c.InChannels
	for i, ch := range c.ConvChannels {
		add(fmt.Sprintf("conv.%d.weight", i), ch, in, 3, 3)
		add(fmt.Sprintf("conv.%d.bias", i), ch)
		in = ch
	}
	add("fc.weight", c.Hidden, c.flat())
	add("fc.bias", c.Hidden)
	add("out.weight", len(c.ClassNames), c.Hidden)
	add("out.bias", len(c.ClassNames))
	return
}

// Classifier is a trained (or freshly initialised) classifier with its weights in a store.
type Classifier struct {
	cfg     ClassifierConfig
	names   []string
	store   *model.Store
	backend compute.Backend
	exec    *model.Exec // features and logits
	// Meta is free-form provenance saved with the weights (training settings, test accuracy).
	Meta map[string]string
}

// NewClassifier initialises a classifier as PyTorch does (weights and biases uniform in
// ±1/√fan_in), from seed, on a backend ("" = $GOMLX_BACKEND or go).
func NewClassifier(cfg ClassifierConfig, seed uint64, backend string) (*Classifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0xc1a5))
	names, shapes := cfg.paramShapes()
	w := map[string]*tensors.Tensor{}
	fanIn := 0
	for i, name := range names {
		n := 1
		for _, d := range shapes[i] {
			n *= d
		}
		if strings.HasSuffix(name, ".weight") {
			fanIn = n / shapes[i][0]
		}
		bound := 1 / math.Sqrt(float64(fanIn))
		v := make([]float32, n)
		for j := range v {
			v[j] = float32((2*r.Float64() - 1) * bound)
		}
		w[name] = tensors.FromFlatDataAndDimensions(v, shapes[i]...)
	}
	return newClassifier(cfg, w, backend)
}

func newClassifier(cfg ClassifierConfig, w map[string]*tensors.Tensor, backend string) (*Classifier, error) {
	be, err := backends.New(backend)
	if err != nil {
		return nil, err
	}
	c := &Classifier{cfg: cfg, store: model.NewStore(), backend: be, Meta: map[string]string{}}
	names, shapes := cfg.paramShapes()
	for i, name := range names {
		t, ok := w[name]
		if !ok {
			return nil, fmt.Errorf("quality: classifier weights lack %q", name)
		}
		if !slices.Equal(t.Shape().Dimensions, shapes[i]) {
			return nil, fmt.Errorf("quality: classifier weight %q has shape %v, the config needs %v", name, t.Shape().Dimensions, shapes[i])
		}
		if _, err := c.store.CreateVariable(varPath(name), t); err != nil {
			return nil, err
		}
	}
	c.names = names
	return c, nil
}

func varPath(name string) string { return "/" + strings.ReplaceAll(name, ".", "/") }

// Config returns the architecture.
func (c *Classifier) Config() ClassifierConfig { return c.cfg }

// Backend is the backend the classifier runs on.
func (c *Classifier) Backend() compute.Backend { return c.backend }

// Dim is the feature dimension (hidden_size).
func (c *Classifier) Dim() int { return c.cfg.Hidden }

func (c *Classifier) param(g *Graph, name string) *Node {
	return c.store.GetVariable(varPath(name)).NodeValue(g)
}

// forward returns the features [B, Hidden] and the logits [B, Classes] of x [B, C, S, S].
func (c *Classifier) forward(x *Node) (features, logits *Node) {
	g := x.Graph()
	relu := func(v *Node) *Node { return Max(v, ScalarZero(g, v.DType())) }
	for i := range c.cfg.ConvChannels {
		w, b := c.param(g, fmt.Sprintf("conv.%d.weight", i)), c.param(g, fmt.Sprintf("conv.%d.bias", i))
		x = relu(Add(nn.Conv2D(x, w, 1, [2][2]int{{1, 1}, {1, 1}}), nn.ChannelVector(b, 4)))
		d := x.Shape().Dimensions
		x = ReduceMean(Reshape(x, d[0], d[1], d[2]/2, 2, d[3]/2, 2), 3, 5)
	}
	x = Reshape(x, x.Shape().Dimensions[0], -1)
	linear := func(prefix string, v *Node) *Node {
		return nn.Linear(v, c.param(g, prefix+".weight"), c.param(g, prefix+".bias"))
	}
	features = relu(linear("fc", x))
	return features, linear("out", features)
}

// checkImages validates a flat batch of images.
func (c *Classifier) checkImages(x []float32) (int, error) {
	size := c.cfg.InChannels * c.cfg.SampleSize * c.cfg.SampleSize
	if len(x) == 0 || len(x)%size != 0 {
		return 0, fmt.Errorf("quality: %d values are not a batch of %d×%d×%d images", len(x), c.cfg.InChannels, c.cfg.SampleSize, c.cfg.SampleSize)
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("quality: image %d has a non-finite value (%g)", i/size, v)
		}
	}
	return len(x) / size, nil
}

// evalBatch is the batch size Apply evaluates in.
const evalBatch = 500

// Apply evaluates the classifier on images x (flat NCHW float32 in [−1, 1]) and returns
// the features [n·Hidden] and logits [n·Classes], row-major.
func (c *Classifier) Apply(x []float32) (features, logits []float32, err error) {
	n, err := c.checkImages(x)
	if err != nil {
		return nil, nil, err
	}
	if c.exec == nil {
		if c.exec, err = model.NewExec(c.backend, c.store, func(_ *model.Scope, x *Node) []*Node {
			f, l := c.forward(x)
			return []*Node{f, l}
		}); err != nil {
			return nil, nil, err
		}
	}
	s, ch := c.cfg.SampleSize, c.cfg.InChannels
	size := ch * s * s
	for i := 0; i < n; i += evalBatch {
		b := min(evalBatch, n-i)
		out, err := c.exec.Exec(tensors.FromFlatDataAndDimensions(x[i*size:(i+b)*size], b, ch, s, s))
		if err != nil {
			return nil, nil, fmt.Errorf("quality: classifier: %w", err)
		}
		f, err1 := tensors.CopyFlatData[float32](out[0])
		l, err2 := tensors.CopyFlatData[float32](out[1])
		for _, o := range out {
			o.FinalizeAll()
		}
		if err := errors.Join(err1, err2); err != nil {
			return nil, nil, err
		}
		features, logits = append(features, f...), append(logits, l...)
	}
	return features, logits, nil
}

// Stats fits the Gaussian of the classifier's features of images x (flat NCHW float32 in
// [−1, 1]): StatsOf(c, x).
func (c *Classifier) Stats(x []float32) (Gaussian, error) { return StatsOf(c, x) }

// Moments are the sufficient statistics of the classifier's features of images x:
// MomentsOf(c, x).
func (c *Classifier) Moments(x []float32) (Moments, error) { return MomentsOf(c, x) }

// Predict returns the most likely class of each logits row.
func Predict(logits []float32, classes int) []int {
	out := make([]int, len(logits)/classes)
	for i := range out {
		row := logits[i*classes : (i+1)*classes]
		out[i] = int(slices.Index(row, slices.Max(row)))
	}
	return out
}

// Accuracy is the fraction of images whose predicted class is the label.
func (c *Classifier) Accuracy(x []float32, labels []int) (float64, error) {
	_, logits, err := c.Apply(x)
	if err != nil {
		return 0, err
	}
	pred := Predict(logits, len(c.cfg.ClassNames))
	if len(pred) != len(labels) {
		return 0, fmt.Errorf("quality: %d images, %d labels", len(pred), len(labels))
	}
	ok := 0
	for i, p := range pred {
		if p == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(pred)), nil
}

// weights copies the current weights by name.
func (c *Classifier) weights() (map[string][]float32, error) {
	out := map[string][]float32{}
	for _, name := range c.names {
		v, err := c.store.GetVariable(varPath(name)).Value()
		if err != nil {
			return nil, err
		}
		if out[name], err = tensors.CopyFlatData[float32](v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// metaConfig is the safetensors metadata key of the architecture (JSON).
const metaConfig = "belm_classifier_config"

// Save writes the weights, the architecture and Meta as one safetensors file (atomically).
func (c *Classifier) Save(path string) error {
	w, err := c.weights()
	if err != nil {
		return err
	}
	_, shapes := c.cfg.paramShapes()
	ts := make([]safetensors.Tensor, len(c.names))
	for i, name := range c.names {
		ts[i] = safetensors.FromFloat32(name, shapes[i], w[name])
	}
	cfg, err := json.Marshal(c.cfg)
	if err != nil {
		return err
	}
	meta := map[string]string{metaConfig: string(cfg)}
	for k, v := range c.Meta {
		meta[k] = v
	}
	return safetensors.Write(path, ts, meta)
}

// LoadClassifier reads a classifier saved by Save, on a backend ("" = $GOMLX_BACKEND or go).
func LoadClassifier(path, backend string) (*Classifier, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("quality: %w (train one with `belm classifier`)", err)
	}
	defer f.Close()
	meta := maps.Clone(f.Metadata)
	var cfg ClassifierConfig
	if err := json.Unmarshal([]byte(meta[metaConfig]), &cfg); err != nil {
		return nil, fmt.Errorf("quality: %s: no valid classifier config in the metadata (%q): %w", path, metaConfig, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	names, _ := cfg.paramShapes()
	w := map[string]*tensors.Tensor{}
	for _, name := range names {
		v, shape, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("quality: %s: %w", path, err)
		}
		w[name] = tensors.FromFlatDataAndDimensions(v, shape...)
	}
	c, err := newClassifier(cfg, w, backend)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	delete(meta, metaConfig)
	c.Meta = meta
	return c, nil
}
