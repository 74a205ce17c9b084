package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/belmlab/workbench/belm/train"
	"github.com/belmlab/workbench/belm/unet"
	"github.com/belmlab/workbench/data/fashionmnist"
	"github.com/belmlab/workbench/data/fashionmnist/fashionmnisttest"
)

// TestTrainCommand runs `belm train` on a tiny 28×28 model for 3 steps (checkpoints at 2 and
// 3, the EMA model exported), resumes it to step 4, and checks that a fresh run refuses a
// folder that holds checkpoints. Needs Debian's Fashion-MNIST (`make data`; fails without).
func TestTrainCommand(t *testing.T) {
	fashionmnisttest.Load(t, fashionmnist.Test)
	dir := t.TempDir()
	cfg := `{"_class_name": "UNet2DModel", "sample_size": 28, "in_channels": 1, "out_channels": 1,
	  "down_block_types": ["DownBlock2D", "AttnDownBlock2D"], "up_block_types": ["AttnUpBlock2D", "UpBlock2D"],
	  "block_out_channels": [8, 16], "layers_per_block": 1, "attention_head_dim": 8, "norm_num_groups": 4}`
	cfgPath := filepath.Join(dir, "tiny.json")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	out := filepath.Join(dir, "run")
	common := []string{"--split", "test", "--output_dir", out, "--train_batch_size", "4", "--checkpointing_steps", "2", "--quiet", "--backend", "go", "--eval_inference_steps", "2"}
	if err := runTrain(append([]string{"--model_config", cfgPath, "--max_train_steps", "3"}, common...)); err != nil {
		t.Fatal(err)
	}
	cps, _ := train.Checkpoints(out)
	if len(cps) != 2 || !strings.HasSuffix(cps[1], train.CheckpointName(3)) {
		t.Fatalf("checkpoints %v", cps)
	}
	if _, err := unet.Load(filepath.Join(out, "model")); err != nil {
		t.Fatal(err)
	}
	// Each checkpoint comes with the grid of the fixed evaluation noise (16 images, 28×28).
	if img := decodePNG(t, filepath.Join(out, "samples-3.png")); img.Bounds().Dx() < 16*28 {
		t.Errorf("samples-3.png is %v", img.Bounds())
	}
	if err := runTrain(append([]string{"--model_config", cfgPath, "--max_train_steps", "3"}, common...)); err == nil || !strings.Contains(err.Error(), "resume_from_checkpoint") {
		t.Errorf("a fresh run over checkpoints: %v", err)
	}
	if err := runTrain(append([]string{"--resume_from_checkpoint", "latest", "--max_train_steps", "4"}, common...)); err != nil {
		t.Fatal(err)
	}
	st, err := train.ReadState(filepath.Join(out, train.CheckpointName(4)))
	if err != nil || st.Step != 4 || st.Config.UNet.BlockOutChannels[0] != 8 {
		t.Errorf("resumed checkpoint: %+v, %v", st, err)
	}
}

// SIGTERM (a job scheduler's stop) during `belm train`: a checkpoint and the EMA model are
// saved after the current step, the exit status is 143 and the error says how to resume;
// the resumed run goes on from that step, and a run whose target is already reached is
// refused.
func TestTrainSignal(t *testing.T) {
	fashionmnisttest.Load(t, fashionmnist.Test)
	bin := belmBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tiny.json")
	os.WriteFile(cfgPath, []byte(`{"_class_name": "UNet2DModel", "sample_size": 28, "in_channels": 1, "out_channels": 1,
	  "down_block_types": ["DownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "UpBlock2D"],
	  "block_out_channels": [8, 8], "layers_per_block": 1, "norm_num_groups": 4}`), 0o644)
	out := filepath.Join(dir, "run")
	common := []string{"--split", "test", "--output_dir", out, "--train_batch_size", "2", "--backend", "go", "--eval_inference_steps", "2", "--num_eval_images", "2"}
	cmd := exec.Command(bin, append([]string{"train", "--model_config", cfgPath, "--max_train_steps", "100000", "--logging_steps", "1"}, common...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "step 3/") {
			cmd.Process.Signal(syscall.SIGTERM)
			break
		}
	}
	rest, _ := io.ReadAll(stderr)
	log.Write(rest)
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 143 || !strings.Contains(log.String(), "--resume_from_checkpoint latest") {
		t.Fatalf("after SIGTERM: %v\n%s", err, log.String())
	}
	latest, err := train.Latest(out)
	if err != nil || latest == "" {
		t.Fatalf("no checkpoint after SIGTERM: %v", err)
	}
	st, err := train.ReadState(latest)
	if err != nil || st.Step < 3 {
		t.Fatalf("checkpoint %s: step %d, %v", latest, st.Step, err)
	}
	if _, err := unet.Load(filepath.Join(out, "model")); err != nil {
		t.Errorf("the EMA model was not exported: %v", err)
	}
	if err := runTrain(append([]string{"--resume_from_checkpoint", "latest", "--max_train_steps", strconv.Itoa(st.Step + 1), "--quiet"}, common...)); err != nil {
		t.Fatal(err)
	}
	err = runTrain(append([]string{"--resume_from_checkpoint", "latest", "--max_train_steps", strconv.Itoa(st.Step + 1), "--quiet"}, common...))
	if err == nil || !strings.Contains(err.Error(), "is reached") || exitCode(err) != 2 {
		t.Errorf("resuming a finished run: %v", err)
	}
}
