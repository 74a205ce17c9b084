// Package clip is the text side of Stable Diffusion 1.x/2.x: CLIP's BPE tokenizer and
// transformers' CLIPTextModel (a pipeline's text_encoder), whose last_hidden_state
// [B, 77, hidden] conditions the UNet.
//
// Tokenizer (pure Go). LoadOpenAIVocab reads OpenAI's bpe_simple_vocab_16e6.txt.gz and
// LoadTokenizer a transformers tokenizer/ folder (vocab.json, merges.txt and the optional
// tokenizer_config.json / special_tokens_map.json); both give the same 49408-token table.
// Text is cleaned as OpenAI's SimpleTokenizer does with ftfy (Clean, FixText: ftfy's
// fixes except its mojibake repair), split with OpenAI's pattern, byte-encoded and merged
// by BPE. Encode frames the ids as transformers' CLIPTokenizer(padding="max_length",
// truncation=True): [49406] + 75 content ids + [49407], padded with the pad id (49407 for
// SD1.x, 0 for SD2); a longer prompt is truncated and reported, not an error. The
// fixtures' 25 prompts (real SimpleTokenizer + ftfy 6.3.1) are reproduced exactly.
//
// Text encoder (GoMLX). Token + position embeddings; pre-LN layers (layer_norm1 →
// causal multi-head self-attention with q scaled by head_dim^−0.5 → residual;
// layer_norm2 → fc1 → quick_gelu x·σ(1.702x) or exact-erf gelu → fc2 → residual);
// final_layer_norm. Weights are variables of a model.Store, as in belm/unet, so
// Forward can be part of a larger graph; Encode runs it on the default backend.
//
// Numerics, against the fixtures (a tiny CLIPTextModel cross-checked with OpenAI's
// original code): float32 within 1.4e-6 of PyTorch's float32 forward (tolerance 1e-5),
// float64 within 3e-15 of a pure float64 forward (tolerance 1e-12). The float64 graph is
// float64 throughout, softmax included, as OpenAI's code computes in .double(); recent
// transformers versions compute the eager softmax in float32 even for a float64 model,
// so their float64 output is float32-rounded in the attention probabilities. Masked attention scores are the dtype's lowest finite value
// (transformers adds finfo.min), which gives exactly zero probabilities, as -inf does.
package clip
