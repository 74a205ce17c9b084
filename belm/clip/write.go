package clip

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/belmlab/workbench/internal/atomicfile"
)

// WriteFolder writes the tokenizer as transformers lays out a CLIPTokenizer folder (an SD
// pipeline's tokenizer/): vocab.json (json.dumps(encoder, ensure_ascii=False)), merges.txt
// ("#version: 0.2", then "first second" in rank order), and tokenizer_config.json and
// special_tokens_map.json as SD 1.5's, padding with padToken (EndOfText for SD 1.x, "!"
// for SD 2.x).
//
// size > 0 keeps a smaller vocabulary for tiny test models: the 512 byte tokens, the
// first size − 514 merges and the two special tokens, renumbered size−2 (StartOfText)
// and size−1 (EndOfText). size must lie in [514, VocabSize()].
func (t *Tokenizer) WriteFolder(dir string, size int, padToken string) error {
	if size == 0 {
		size = t.VocabSize()
	}
	regular := 2 * len(byteSymbols)
	if size < regular+2 || size > t.VocabSize() {
		return fmt.Errorf("clip: a vocabulary of %d tokens: keep between %d (the byte tokens and the two special ones) and %d", size, regular+2, t.VocabSize())
	}
	vocab := map[string]int{StartOfText: size - 2, EndOfText: size - 1}
	for id := range size - 2 {
		tok, ok := t.decoder[id]
		if !ok || tok == StartOfText || tok == EndOfText {
			return fmt.Errorf("clip: id %d is not a regular token (%q): the vocabulary is not in CLIP's order", id, tok)
		}
		vocab[tok] = id
	}
	merges := make([]string, len(t.ranks))
	for k, r := range t.ranks {
		merges[r] = k
	}
	merges = merges[:size-2-regular]
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(vocab); err != nil {
		return err
	}
	files := map[string]string{
		VocabFile:         b.String(),
		MergesFile:        "#version: 0.2\n" + strings.Join(merges, "\n") + "\n",
		TokenizerConfig:   sd15TokenizerConfig,
		SpecialTokensFile: strings.Replace(sd15SpecialTokens, "PAD", padToken, 1),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := atomicfile.WriteFile(filepath.Join(dir, name), []byte(content)); err != nil {
			return err
		}
	}
	return nil
}

const sd15TokenizerConfig = `{"add_prefix_space": false, "bos_token": {"__type": "AddedToken", "content": "<|startoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
 "do_lower_case": true, "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
 "errors": "replace", "model_max_length": 77, "name_or_path": "openai/clip-vit-large-patch14", "pad_token": "<|endoftext|>", "tokenizer_class": "CLIPTokenizer",
 "unk_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}}
`

const sd15SpecialTokens = `{"bos_token": {"content": "<|startoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
 "eos_token": {"content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
 "pad_token": "PAD", "unk_token": {"content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}}
`
