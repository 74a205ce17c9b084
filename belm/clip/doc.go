// Package clip is the text side of Stable Diffusion 1.x/2.x: CLIP's BPE tokenizer and
// transformers' CLIPTextModel (SD's text_encoder), whose last_hidden_state conditions
// the UNet.
package clip
