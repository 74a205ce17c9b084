package clip

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	merges := make([]string, 0, len(t.ranks))
	for k := range t.ranks { // ranks may have gaps (a merges file that repeats a pair)
		merges = append(merges, k)
	}
	slices.SortFunc(merges, func(a, b string) int { return t.ranks[a] - t.ranks[b] })
	merges = merges[:min(len(merges), size-2-regular)]
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(vocab); err != nil {
		return err
	}
	config, special, err := settingsFiles(padToken)
	if err != nil {
		return err
	}
	files := map[string]string{
		VocabFile:         b.String(),
		MergesFile:        "#version: 0.2\n" + strings.Join(merges, "\n") + "\n",
		TokenizerConfig:   config,
		SpecialTokensFile: special,
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

// settingsFiles are tokenizer_config.json and special_tokens_map.json as SD 1.5's tokenizer/
// has them, padding with padToken.
func settingsFiles(padToken string) (config, special string, err error) {
	added := func(content string) map[string]any {
		return map[string]any{"content": content, "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}
	}
	typed := func(content string) map[string]any {
		m := added(content)
		m["__type"] = "AddedToken"
		return m
	}
	c, err := json.MarshalIndent(map[string]any{"add_prefix_space": false, "bos_token": typed(StartOfText), "do_lower_case": true,
		"eos_token": typed(EndOfText), "errors": "replace", "model_max_length": MaxLength, "name_or_path": "openai/clip-vit-large-patch14",
		"pad_token": padToken, "tokenizer_class": "CLIPTokenizer", "unk_token": typed(EndOfText)}, "", "  ")
	if err != nil {
		return "", "", err
	}
	sp, err := json.MarshalIndent(map[string]any{"bos_token": added(StartOfText), "eos_token": added(EndOfText),
		"pad_token": padToken, "unk_token": added(EndOfText)}, "", "  ")
	return string(c) + "\n", string(sp) + "\n", err
}
