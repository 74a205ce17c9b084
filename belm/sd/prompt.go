package sd

import (
	"fmt"

	"github.com/belmlab/workbench/belm"
	"github.com/belmlab/workbench/belm/pipeline"
)

// Embed returns the text embedding of each prompt: the text encoder's last_hidden_state of
// its tokens ([BOS] + tokens + [EOS], padded to the tokenizer's 77), flat, and the shape
// [77, hidden] of one. A prompt longer than the text encoder reads (75 tokens between BOS
// and EOS) is an error — diffusers would drop its end with a warning.
func (m *Model) Embed(prompts ...string) ([][]float64, []int, error) {
	if len(prompts) == 0 {
		return nil, nil, fmt.Errorf("no prompt to embed")
	}
	ids := make([][]int, len(prompts))
	for i, p := range prompts {
		row, truncated, err := m.Tokenizer.Encode(p)
		if err != nil {
			return nil, nil, err
		}
		if truncated {
			content, _ := m.Tokenizer.Tokenize(p)
			return nil, nil, fmt.Errorf("prompt %q is %d tokens: the text encoder reads at most %d (%d positions less the start and end tokens); shorten it",
				p, len(content), m.Tokenizer.MaxLength-2, m.Tokenizer.MaxLength)
		}
		ids[i] = row
	}
	out, err := m.Text.EncodeOn(m.Pipeline.Runner.Backend(), ids)
	if err != nil {
		return nil, nil, err
	}
	v, err := belm.Values(out)
	if err != nil {
		return nil, nil, err
	}
	shape := out.Shape().Dimensions[1:]
	per := len(v) / len(prompts)
	emb := make([][]float64, len(prompts))
	for i := range emb {
		emb[i] = v[i*per : (i+1)*per]
	}
	return emb, shape, nil
}

// Conditioning is a prompt's conditioning for the pipeline: its embedding, and with
// guidance w > 1 classifier-free guidance against the negative prompt ("" is SD's
// unconditional prompt), ε = ε(negative) + w·(ε(prompt) − ε(negative)). With w ≤ 1 the UNet
// sees the prompt alone, one evaluation a step (as diffusers does).
func (m *Model) Conditioning(prompt, negative string, w float64) (pipeline.Fixed, error) {
	if w <= 1 {
		emb, shape, err := m.Embed(prompt)
		if err != nil {
			return pipeline.Fixed{}, err
		}
		return pipeline.Fixed{Cond: emb[0], Shape: shape, W: w}, nil
	}
	emb, shape, err := m.Embed(prompt, negative)
	if err != nil {
		return pipeline.Fixed{}, err
	}
	return pipeline.Fixed{Cond: emb[0], Uncond: emb[1], Shape: shape, W: w}, nil
}

// Condition sets the pipeline's conditioning to Conditioning(prompt, negative, w).
func (m *Model) Condition(prompt, negative string, w float64) error {
	c, err := m.Conditioning(prompt, negative, w)
	if err != nil {
		return err
	}
	m.Pipeline.Conditioner = c
	return nil
}
