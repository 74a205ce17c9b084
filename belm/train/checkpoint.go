package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/belmlab/workbench/belm/safetensors"
	"github.com/belmlab/workbench/belm/unet"
	"github.com/belmlab/workbench/internal/atomicfile"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// MetadataKey is the safetensors metadata entry holding a checkpoint's JSON State.
const MetadataKey = "belm_train"

// Tensor name prefixes of a checkpoint.
const (
	prefixModel = "model/"
	prefixEMA   = "ema/"
	prefixM     = "adam_m/"
	prefixV     = "adam_v/"
	evalName    = "eval_noise"
)

// CheckpointName is the file name of the checkpoint after step steps.
func CheckpointName(step int) string { return fmt.Sprintf("checkpoint-%d.safetensors", step) }

// SaveCheckpoint writes the whole training state to path, atomically.
func (t *Trainer) SaveCheckpoint(path string) error {
	var ts []safetensors.Tensor
	for _, set := range []struct {
		prefix string
		vs     []*model.Variable
	}{{prefixModel, t.params}, {prefixEMA, t.ema}, {prefixM, t.m}, {prefixV, t.v}} {
		vals, err := values(set.vs)
		if err != nil {
			return fmt.Errorf("train: checkpoint: %w", err)
		}
		for i, name := range t.names {
			ts = append(ts, safetensors.FromFloat32(set.prefix+name, set.vs[i].Shape().Dimensions, vals[i]))
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	s := *t.cfg.UNet.SampleSize
	ts = append(ts, safetensors.FromFloat32(evalName, []int{t.cfg.NumEvalImages, t.cfg.UNet.InChannels, s, s}, t.evalNoise))
	st, err := t.State().marshal()
	if err != nil {
		return err
	}
	if err := safetensors.Write(path, ts, map[string]string{MetadataKey: st}); err != nil {
		return fmt.Errorf("train: writing checkpoint: %w", err)
	}
	return nil
}

// ReadState reads a checkpoint's State without loading its tensors.
func ReadState(path string) (State, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return State{}, err
	}
	defer f.Close()
	return readState(f, path)
}

func readState(f *safetensors.File, path string) (State, error) {
	raw, ok := f.Metadata[MetadataKey]
	if !ok {
		return State{}, fmt.Errorf("train: %s is not a training checkpoint (no %q metadata)", path, MetadataKey)
	}
	var st State
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return State{}, fmt.Errorf("train: %s: bad %q metadata: %w", path, MetadataKey, err)
	}
	if st.FormatVersion != 1 {
		return State{}, fmt.Errorf("train: %s: checkpoint format %d, this program reads 1", path, st.FormatVersion)
	}
	return st, nil
}

// Resume restores a run from a checkpoint: weights, EMA, Adam moments, step, data position,
// evaluation noise and configuration. data must be the training set the run started with
// (its size is checked).
func Resume(path string, data Images, backend string) (*Trainer, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := readState(f, path)
	if err != nil {
		return nil, err
	}
	if err := st.Config.Validate(); err != nil {
		return nil, fmt.Errorf("%w (checkpoint %s)", err, path)
	}
	if data != nil && data.Len() != st.DataLen {
		return nil, fmt.Errorf("train: %s was trained on %d images, the data given has %d", path, st.DataLen, data.Len())
	}
	weights := unet.TensorMap{}
	for _, n := range f.Names() {
		if name, ok := strings.CutPrefix(n, prefixModel); ok {
			if weights[name], err = f.Tensor(n, dtypes.Float32); err != nil {
				return nil, err
			}
		}
	}
	u, err := unet.New(st.Config.UNet, weights, unet.WithDifferentiableStrides(true))
	if err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	t, err := newTrainer(st.Config, u, data, backend)
	if err != nil {
		return nil, err
	}
	for _, set := range []struct {
		prefix string
		vs     []*model.Variable
	}{{prefixEMA, t.ema}, {prefixM, t.m}, {prefixV, t.v}} {
		for i, name := range t.names {
			v, err := f.Tensor(set.prefix+name, dtypes.Float32)
			if err != nil {
				return nil, fmt.Errorf("train: %s: %w", path, err)
			}
			if !slices.Equal(v.Shape().Dimensions, set.vs[i].Shape().Dimensions) {
				return nil, fmt.Errorf("train: %s: %s%s has shape %v, want %v", path, set.prefix, name, v.Shape().Dimensions, set.vs[i].Shape().Dimensions)
			}
			if err := set.vs[i].SetValue(v); err != nil {
				return nil, err
			}
		}
	}
	ev, dims, err := f.Float32(evalName)
	if err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	if len(ev) != len(t.evalNoise) {
		return nil, fmt.Errorf("train: %s: eval_noise has shape %v, want %d values", path, dims, len(t.evalNoise))
	}
	t.evalNoise = ev
	t.step = st.Step
	if err := t.batcher.SetState(st.Data); err != nil {
		return nil, fmt.Errorf("%w (checkpoint %s)", err, path)
	}
	return t, nil
}

// Checkpoints lists the checkpoint files in dir, oldest step first.
func Checkpoints(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	type cp struct {
		step int
		path string
	}
	var cps []cp
	for _, e := range ents {
		s, ok := strings.CutPrefix(e.Name(), "checkpoint-")
		if !ok {
			continue
		}
		s, ok = strings.CutSuffix(s, ".safetensors")
		if n, err := strconv.Atoi(s); ok && err == nil && !e.IsDir() {
			cps = append(cps, cp{n, filepath.Join(dir, e.Name())})
		}
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i].step < cps[j].step })
	out := make([]string, len(cps))
	for i, c := range cps {
		out[i] = c.path
	}
	return out, nil
}

// Latest returns the newest checkpoint in dir, "" when there is none.
func Latest(dir string) (string, error) {
	cps, err := Checkpoints(dir)
	if err != nil || len(cps) == 0 {
		return "", err
	}
	return cps[len(cps)-1], nil
}

// Export files of a diffusers UNet folder.
const (
	SchedulerConfigFile = "scheduler_config.json"
)

// ExportEMA writes the EMA weights as a diffusers UNet2DModel folder: config.json,
// diffusion_pytorch_model.safetensors (float32, state-dict names) and scheduler_config.json
// (a DDPMScheduler's), each atomically. unet.Load, hub.Resolve and pipeline.Load read it.
func (t *Trainer) ExportEMA(dir string) error {
	m, err := t.EMAWeights()
	if err != nil {
		return err
	}
	return Export(dir, t.cfg, m, map[string]string{"format": "pt", "belm_train_step": strconv.Itoa(t.step)})
}

// Export writes weights as a diffusers UNet folder for the run's configuration.
func Export(dir string, cfg Config, weights unet.TensorMap, metadata map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	uc := cfg.UNet
	uc.ClassName = "UNet2DModel"
	cj, err := json.MarshalIndent(uc, "", "  ")
	if err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for _, name := range weights.Names() {
		v, err := tensors.CopyFlatData[float32](weights[name])
		if err != nil {
			return fmt.Errorf("train: export %q: %w", name, err)
		}
		ts = append(ts, safetensors.FromFloat32(name, weights[name].Shape().Dimensions, v))
	}
	sc := cfg.Scheduler
	sj, err := json.MarshalIndent(map[string]any{
		"_class_name":         "DDPMScheduler",
		"num_train_timesteps": sc.NumTrainTimesteps,
		"beta_start":          sc.BetaStart,
		"beta_end":            sc.BetaEnd,
		"beta_schedule":       sc.BetaSchedule,
		"prediction_type":     "epsilon",
		"variance_type":       "fixed_small",
		"clip_sample":         true,
		"clip_sample_range":   1.0,
		"timestep_spacing":    "leading",
		"steps_offset":        0,
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := safetensors.Write(filepath.Join(dir, unet.WeightsFile), ts, metadata); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, SchedulerConfigFile), append(sj, '\n')); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, unet.ConfigFile), append(cj, '\n'))
}
