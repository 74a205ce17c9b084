package unet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyJSON returns the tiny fixture's config.json with some fields replaced.
func tinyJSON(t *testing.T, set map[string]any) []byte {
	t.Helper()
	return configWith(t, "testdata/tiny_cifar10_config.json", set)
}

// configWith returns the config.json at path with some fields replaced.
func configWith(t *testing.T, path string, set map[string]any) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		m[k] = v
	}
	out, _ := json.Marshal(m)
	return out
}

// Sizes that would exhaust memory are rejected when the config is read, naming the field
// and the value.
func TestConfigBounds(t *testing.T) {
	if _, err := ParseConfig(tinyJSON(t, nil)); err != nil {
		t.Fatalf("the fixture: %v", err)
	}
	// At the bounds: accepted.
	if _, err := ParseConfig(tinyJSON(t, map[string]any{"sample_size": 16384, "layers_per_block": 64})); err != nil {
		t.Errorf("at the bounds: %v", err)
	}
	const prefix = "unet: unsupported or invalid UNet2DModel config: "
	for _, c := range []struct {
		set  map[string]any
		want string
	}{
		{map[string]any{"sample_size": 100000}, "sample_size 100000 is out of range [1, 16384] (the largest diffusers UNets take 256 pixels, or latents of 128 for 1024-pixel images)"},
		{map[string]any{"sample_size": 0}, "sample_size 0 is out of range [1, 16384]"},
		{map[string]any{"sample_size": -8}, "sample_size -8 is out of range [1, 16384]"},
		{map[string]any{"in_channels": 20000}, "in_channels 20000 is over the limit of 16384"},
		{map[string]any{"out_channels": 20000}, "out_channels 20000 is over the limit of 16384"},
		{map[string]any{"block_out_channels": []int{8, 16, 16, 100000}}, "block_out_channels[3] = 100000 is over the limit of 16384"},
		{map[string]any{"layers_per_block": 65}, "layers_per_block 65 is over the limit of 64"},
		{map[string]any{"attention_head_dim": 1 << 20}, "attention_head_dim 1048576 is over the limit of 16384"},
		{map[string]any{"time_embedding_dim": 1 << 20}, "time_embedding_dim 1048576 is over the limit of 65536"},
		{map[string]any{"block_out_channels": make([]int, 17), "down_block_types": make([]string, 17), "up_block_types": make([]string, 17)},
			"block_out_channels has 17 entries, over the limit of 16"},
	} {
		_, err := ParseConfig(tinyJSON(t, c.set))
		if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v:\n got %v\nwant %s%s", c.set, err, prefix, c.want)
		}
	}
	// Group counts must divide the channels (the architecture check).
	_, err := ParseConfig(tinyJSON(t, map[string]any{"norm_num_groups": 3}))
	if err == nil || !strings.Contains(err.Error(), "8 channels are not divisible by 3 groups") {
		t.Errorf("norm_num_groups 3: %v", err)
	}
	// LoadConfig names the file.
	path := filepath.Join(t.TempDir(), "config.json")
	os.WriteFile(path, tinyJSON(t, map[string]any{"sample_size": 100000}), 0o644)
	if _, err := LoadConfig(path); err == nil || !strings.HasSuffix(err.Error(), "(file "+path+")") || !strings.Contains(err.Error(), "sample_size 100000") {
		t.Errorf("LoadConfig: %v", err)
	}
}
