package quality

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/belmlab/workbench/belm/nn"
	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/belmlab/workbench/belm/train"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// FashionMNISTClassifier is the shipped architecture: two conv blocks (32, 64 channels,
// 28 → 14 → 7), 128 features, 10 classes; 421,642 parameters. Its sample size and class
// names are Fashion-MNIST's (fashionmnist.Size and fashionmnist.ClassNames: data/fashionmnist's
// tests check that they agree; this package imports no data set).
func FashionMNISTClassifier() ClassifierConfig {
	return ClassifierConfig{SampleSize: 28, InChannels: 1, ConvChannels: []int{32, 64}, Hidden: 128,
		ClassNames: []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}}
}

// TrainConfig configures TrainClassifier: cross-entropy, AdamW (nn.AdamW, with gradient
// clipping at norm 1), cosine learning-rate decay to 0, no augmentation.
type TrainConfig struct {
	Epochs       int     `json:"epochs"`
	BatchSize    int     `json:"batch_size"`
	LearningRate float64 `json:"learning_rate"`
	WeightDecay  float64 `json:"weight_decay"`
	Seed         uint64  `json:"seed"` // initial weights and data order

	// Stop, when set, is asked before each step; when it says true, the run writes its
	// state (weights, Adam moments, step) to Checkpoint and TrainClassifier returns a
	// *StoppedError. Resume continues such a checkpoint: the run then ends as an
	// uninterrupted one would (same batches, same updates).
	Stop       func() bool `json:"-"`
	Checkpoint string      `json:"-"`
	Resume     string      `json:"-"`
}

// StoppedError is a training run stopped by TrainConfig.Stop after Step steps, its state
// saved in Checkpoint.
type StoppedError struct {
	Step, Total int
	Checkpoint  string
}

func (e *StoppedError) Error() string {
	return fmt.Sprintf("classifier training stopped after step %d of %d; its state is in %s", e.Step, e.Total, e.Checkpoint)
}

// DefaultTrainConfig trains the shipped classifier (12 epochs of batch 128: 5,616 steps).
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Epochs: 12, BatchSize: 128, LearningRate: 1e-3, WeightDecay: 1e-4, Seed: 0}
}

// Progress reports a training step (1-based) of total, with the batch loss.
type Progress func(step, total int, loss float64)

// TrainClassifier trains a classifier of cfg on labelled images (flat NCHW float32 in
// [−1, 1] of cfg's shape, labels 0…classes−1; data/fashionmnist's *Dataset is such a set)
// on a backend; deterministic given tc.Seed and the backend. The provenance saved with the
// weights (Meta["training"]) names the data by its String method when it has one.
func TrainClassifier(cfg ClassifierConfig, ds train.LabelledImages, tc TrainConfig, backend string, progress Progress) (*Classifier, error) {
	if err := checkTraining(cfg, ds, tc); err != nil {
		return nil, err
	}
	c, done, err := startTraining(cfg, tc, backend)
	if err != nil {
		return nil, err
	}
	opt := nn.AdamW{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: tc.WeightDecay, MaxGradNorm: 1}
	step, err := c.trainStepExec(opt)
	if err != nil {
		return nil, err
	}
	defer step.Finalize()
	batcher, err := train.NewBatcher(ds.Len(), tc.BatchSize, tc.Seed)
	if err != nil {
		return nil, err
	}
	for range done { // the batches the checkpoint's run has seen
		batcher.Next()
	}
	total := tc.Epochs * (ds.Len() / tc.BatchSize)
	for k := done + 1; k <= total; k++ {
		if tc.Stop != nil && tc.Stop() {
			if err := c.saveState(tc, k-1); err != nil {
				return nil, err
			}
			return nil, &StoppedError{Step: k - 1, Total: total, Checkpoint: tc.Checkpoint}
		}
		lr := tc.LearningRate * (1 + math.Cos(math.Pi*float64(k-1)/float64(total))) / 2
		loss, err := c.trainStep(step, opt, ds, batcher.Next(), k, lr)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(k, total, loss)
		}
	}
	// Drop the optimiser state: the classifier is its weights.
	for _, name := range c.names {
		c.store.DeleteVariable(momentPath("m", name))
		c.store.DeleteVariable(momentPath("v", name))
	}
	c.exec = nil
	c.Meta["training"] = fmt.Sprintf("%s (%d images), %d epochs of batch %d (%d steps), AdamW lr %g (cosine decay), weight decay %g, seed %d, backend %s",
		describe(ds), ds.Len(), tc.Epochs, tc.BatchSize, total, tc.LearningRate, tc.WeightDecay, tc.Seed, c.backend.Name())
	return c, nil
}

// checkTraining validates TrainClassifier's arguments: the settings, and images of the
// classifier's shape.
func checkTraining(cfg ClassifierConfig, ds train.LabelledImages, tc TrainConfig) error {
	if ds == nil || ds.Len() == 0 {
		return fmt.Errorf("quality: no training images")
	}
	if tc.Epochs < 1 || tc.BatchSize < 1 || !(tc.LearningRate > 0) || tc.BatchSize > ds.Len() {
		return fmt.Errorf("quality: invalid training config %+v for %d images", tc, ds.Len())
	}
	want := cfg.InChannels * cfg.SampleSize * cfg.SampleSize
	if n := len(ds.Batch([]int{0})); n != want {
		return fmt.Errorf("quality: the classifier takes %d×%d×%d images (%d values), the data's images have %d values",
			cfg.InChannels, cfg.SampleSize, cfg.SampleSize, want, n)
	}
	if tc.Stop != nil && tc.Checkpoint == "" {
		return fmt.Errorf("quality: TrainConfig.Stop needs a Checkpoint file")
	}
	return nil
}

// describe names a training set for the provenance: its String, else "training set".
func describe(ds train.LabelledImages) string {
	if s, ok := ds.(fmt.Stringer); ok {
		return s.String()
	}
	return "training set"
}

// trainStep runs training step k on the images at idx with learning rate lr; it returns
// the batch loss.
func (c *Classifier) trainStep(step *model.Exec, opt nn.AdamW, ds train.LabelledImages, idx []int, k int, lr float64) (float64, error) {
	classes := len(c.cfg.ClassNames)
	labels := ds.BatchLabels(idx)
	lab := make([]int32, len(labels))
	for i, l := range labels {
		if l < 0 || l >= classes {
			return 0, fmt.Errorf("quality: image %d has label %d, the classifier has %d classes (0…%d)", idx[i], l, classes, classes-1)
		}
		lab[i] = int32(l)
	}
	bc1, bc2 := opt.BiasCorrections(k)
	s, ch := c.cfg.SampleSize, c.cfg.InChannels
	out, err := step.Exec(
		tensors.FromFlatDataAndDimensions(ds.Batch(idx), len(idx), ch, s, s),
		tensors.FromFlatDataAndDimensions(lab, len(idx)),
		tensors.FromFlatDataAndDimensions([]float32{float32(lr), float32(bc1), float32(bc2)}, 3))
	if err != nil {
		return 0, fmt.Errorf("quality: classifier step %d: %w", k, err)
	}
	loss := float64(tensors.ToScalar[float32](out[0]))
	out[0].FinalizeAll()
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, fmt.Errorf("quality: classifier step %d: the loss is %g", k, loss)
	}
	return loss, nil
}

// momentPath is the store path of Adam's first ("m") or second ("v") moment of a weight.
// Adam's moments are variables of the store, like the weights (and, as in belm/train, not
// marked non-trainable: the onnx backend would drop their updates).
func momentPath(which, name string) string { return "/adam_" + which + varPath(name) }

// Metadata keys of a training checkpoint.
const (
	metaStep        = "belm_classifier_step"
	metaTrainConfig = "belm_classifier_train_config"
)

// startTraining makes the classifier and its Adam moments: new (zero moments, step 0), or
// from tc.Resume's checkpoint, whose training configuration must be tc's; it returns the
// steps already done.
func startTraining(cfg ClassifierConfig, tc TrainConfig, backend string) (*Classifier, int, error) {
	if tc.Resume == "" {
		c, err := NewClassifier(cfg, tc.Seed, backend)
		if err != nil {
			return nil, 0, err
		}
		for _, name := range c.names {
			shape := c.store.GetVariable(varPath(name)).Shape()
			for _, which := range []string{"m", "v"} {
				if _, err := c.store.CreateVariable(momentPath(which, name), tensors.FromShape(shape)); err != nil {
					return nil, 0, err
				}
			}
		}
		return c, 0, nil
	}
	f, err := safetensors.Open(tc.Resume)
	if err != nil {
		return nil, 0, fmt.Errorf("quality: resuming: %w", err)
	}
	defer f.Close()
	want, _ := json.Marshal(tc)
	if got := f.Metadata[metaTrainConfig]; got != string(want) {
		return nil, 0, fmt.Errorf("quality: %s was trained with %s, this run asks for %s: resume with the same settings", tc.Resume, got, want)
	}
	if got, _ := json.Marshal(cfg); f.Metadata[metaConfig] != string(got) {
		return nil, 0, fmt.Errorf("quality: %s holds another classifier architecture (%s)", tc.Resume, f.Metadata[metaConfig])
	}
	done, err := strconv.Atoi(f.Metadata[metaStep])
	if err != nil || done < 0 {
		return nil, 0, fmt.Errorf("quality: %s has no valid step (%q): it is not a classifier training checkpoint", tc.Resume, f.Metadata[metaStep])
	}
	names, _ := cfg.paramShapes()
	read := func(key string) (*tensors.Tensor, error) {
		v, shape, err := f.Float32(key)
		if err != nil {
			return nil, fmt.Errorf("quality: %s: %w", tc.Resume, err)
		}
		return tensors.FromFlatDataAndDimensions(v, shape...), nil
	}
	w := map[string]*tensors.Tensor{}
	for _, name := range names {
		if w[name], err = read(name); err != nil {
			return nil, 0, err
		}
	}
	c, err := newClassifier(cfg, w, backend)
	if err != nil {
		return nil, 0, err
	}
	for _, name := range names {
		for _, which := range []string{"m", "v"} {
			t, err := read("adam_" + which + "." + name)
			if err != nil {
				return nil, 0, err
			}
			if _, err := c.store.CreateVariable(momentPath(which, name), t); err != nil {
				return nil, 0, err
			}
		}
	}
	return c, done, nil
}

// saveState writes the weights, the Adam moments and the step done to tc.Checkpoint.
func (c *Classifier) saveState(tc TrainConfig, done int) error {
	_, shapes := c.cfg.paramShapes()
	var ts []safetensors.Tensor
	for i, name := range c.names {
		for _, key := range []struct{ path, name string }{{varPath(name), name}, {momentPath("m", name), "adam_m." + name}, {momentPath("v", name), "adam_v." + name}} {
			t, err := c.store.GetVariable(key.path).Value()
			if err != nil {
				return err
			}
			v, err := tensors.CopyFlatData[float32](t)
			if err != nil {
				return err
			}
			ts = append(ts, safetensors.FromFloat32(key.name, shapes[i], v))
		}
	}
	cfg, _ := json.Marshal(c.cfg)
	tcj, _ := json.Marshal(tc)
	return safetensors.Write(tc.Checkpoint, ts, map[string]string{metaConfig: string(cfg), metaTrainConfig: string(tcj), metaStep: strconv.Itoa(done)})
}

// trainStepExec compiles one AdamW step of the cross-entropy loss on (images, labels,
// [lr, bias corrections]); it returns the loss.
func (c *Classifier) trainStepExec(opt nn.AdamW) (*model.Exec, error) {
	var params, ms, vs []*model.Variable
	for _, name := range c.names {
		params = append(params, c.store.GetVariable(varPath(name)))
		ms = append(ms, c.store.GetVariable(momentPath("m", name)))
		vs = append(vs, c.store.GetVariable(momentPath("v", name)))
	}
	classes := len(c.cfg.ClassNames)
	return model.NewExec(c.backend, c.store, func(_ *model.Scope, x, labels, hyper *Node) *Node {
		g := x.Graph()
		_, logits := c.forward(x)
		loss := Neg(ReduceAllMean(ReduceSum(Mul(OneHot(labels, classes, logits.DType()), LogSoftmax(logits, -1)), -1)))
		w := make([]*Node, len(params))
		m, v := make([]*Node, len(params)), make([]*Node, len(params))
		for i := range params {
			w[i], m[i], v[i] = params[i].NodeValue(g), ms[i].NodeValue(g), vs[i].NodeValue(g)
		}
		grads := Gradient(loss, w...)
		h := func(i int) *Node { return Reshape(Slice(hyper, AxisElem(i))) }
		nw, nm, nv, _ := opt.Step(w, grads, m, v, h(0), h(1), h(2))
		for i := range params {
			params[i].SetNodeValue(nw[i])
			ms[i].SetNodeValue(nm[i])
			vs[i].SetNodeValue(nv[i])
		}
		return loss
	})
}
