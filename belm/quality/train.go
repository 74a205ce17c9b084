package quality

import (
	"fmt"
	"math"

	"github.com/belmlab/workbench/belm/train"
	"github.com/belmlab/workbench/data/fashionmnist"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// FashionMNISTClassifier is the shipped architecture: two conv blocks (32, 64 channels,
// 28 → 14 → 7), 128 features, 10 classes; 421,642 parameters.
func FashionMNISTClassifier() ClassifierConfig {
	return ClassifierConfig{SampleSize: fashionmnist.Size, InChannels: 1, ConvChannels: []int{32, 64}, Hidden: 128,
		ClassNames: fashionmnist.ClassNames[:]}
}

// TrainConfig configures TrainClassifier: cross-entropy, AdamW (belm/train's, with its
// gradient clipping), cosine learning-rate decay to 0, no augmentation.
type TrainConfig struct {
	Epochs       int
	BatchSize    int
	LearningRate float64
	WeightDecay  float64
	Seed         uint64 // initial weights and data order
}

// DefaultTrainConfig trains the shipped classifier (12 epochs of batch 128: 5,616 steps).
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Epochs: 12, BatchSize: 128, LearningRate: 1e-3, WeightDecay: 1e-4, Seed: 0}
}

// Progress reports a training step (1-based) of total, with the batch loss.
type Progress func(step, total int, loss float64)

// TrainClassifier trains a classifier of cfg on Fashion-MNIST images (float32 in [−1, 1],
// labels 0…9) on a backend; deterministic given tc.Seed and the backend.
func TrainClassifier(cfg ClassifierConfig, ds *fashionmnist.Dataset, tc TrainConfig, backend string, progress Progress) (*Classifier, error) {
	if tc.Epochs < 1 || tc.BatchSize < 1 || !(tc.LearningRate > 0) || tc.BatchSize > ds.Len() {
		return nil, fmt.Errorf("quality: invalid training config %+v for %d images", tc, ds.Len())
	}
	if ds.H != cfg.SampleSize || cfg.InChannels != 1 {
		return nil, fmt.Errorf("quality: the classifier takes %d×%d×%d images, the data is 1×%d×%d", cfg.InChannels, cfg.SampleSize, cfg.SampleSize, ds.H, ds.W)
	}
	c, err := NewClassifier(cfg, tc.Seed, backend)
	if err != nil {
		return nil, err
	}
	opt := train.AdamW{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: tc.WeightDecay, MaxGradNorm: 1}
	// Adam's moments are variables of the store, like the weights (and, as in belm/train,
	// not marked non-trainable: the onnx backend would drop their updates).
	var params, ms, vs []*model.Variable
	for _, name := range c.names {
		p := c.store.GetVariable(varPath(name))
		zeros := tensors.FromShape(p.Shape())
		m, err1 := c.store.CreateVariable("/adam_m"+varPath(name), zeros)
		v, err2 := c.store.CreateVariable("/adam_v"+varPath(name), tensors.FromShape(p.Shape()))
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("quality: %v %v", err1, err2)
		}
		params, ms, vs = append(params, p), append(ms, m), append(vs, v)
	}
	classes := len(cfg.ClassNames)
	step, err := model.NewExec(c.backend, c.store, func(_ *model.Scope, x, labels, hyper *Node) *Node {
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
	if err != nil {
		return nil, err
	}
	defer step.Finalize()
	batcher := fashionmnist.NewBatcher(ds.Len(), tc.BatchSize, tc.Seed)
	perEpoch := ds.Len() / tc.BatchSize
	total := tc.Epochs * perEpoch
	s := cfg.SampleSize
	for k := 1; k <= total; k++ {
		idx := batcher.Next()
		labels := ds.BatchLabels(idx)
		lab := make([]int32, len(labels))
		for i, l := range labels {
			lab[i] = int32(l)
		}
		bc1, bc2 := opt.BiasCorrections(k)
		lr := tc.LearningRate * (1 + math.Cos(math.Pi*float64(k-1)/float64(total))) / 2
		out, err := step.Exec(
			tensors.FromFlatDataAndDimensions(ds.Float32(idx, 0), len(idx), 1, s, s),
			tensors.FromFlatDataAndDimensions(lab, len(idx)),
			tensors.FromFlatDataAndDimensions([]float32{float32(lr), float32(bc1), float32(bc2)}, 3))
		if err != nil {
			return nil, fmt.Errorf("quality: classifier step %d: %w", k, err)
		}
		loss := float64(tensors.ToScalar[float32](out[0]))
		out[0].FinalizeAll()
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("quality: classifier step %d: the loss is %g", k, loss)
		}
		if progress != nil {
			progress(k, total, loss)
		}
	}
	// Drop the optimiser state: the classifier is its weights.
	for _, name := range c.names {
		c.store.DeleteVariable("/adam_m" + varPath(name))
		c.store.DeleteVariable("/adam_v" + varPath(name))
	}
	c.exec = nil
	c.Meta["training"] = fmt.Sprintf("Fashion-MNIST train split (%d images), %d epochs of batch %d (%d steps), AdamW lr %g (cosine decay), weight decay %g, seed %d, backend %s",
		ds.Len(), tc.Epochs, tc.BatchSize, total, tc.LearningRate, tc.WeightDecay, tc.Seed, c.backend.Name())
	return c, nil
}
