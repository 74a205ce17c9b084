package clip

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// NumMerges is the number of BPE merges CLIP uses (49152 − 256 − 2): OpenAI's file has
// more lines, and both OpenAI's and transformers' tokenizers read only these.
const NumMerges = 49152 - 256 - 2

// File names of a transformers CLIPTokenizer folder (an SD pipeline's tokenizer/).
const (
	VocabFile         = "vocab.json"
	MergesFile        = "merges.txt"
	TokenizerConfig   = "tokenizer_config.json"
	SpecialTokensFile = "special_tokens_map.json"
)

// OpenAIVocabFile is the name of OpenAI's vocabulary in the CLIP repository.
const OpenAIVocabFile = "bpe_simple_vocab_16e6.txt.gz"

// LoadOpenAIVocab reads OpenAI's bpe_simple_vocab_16e6.txt.gz: line 0 is a header and
// lines 1…NumMerges the merges ("first second"). The vocabulary is built as
// SimpleTokenizer builds it: the 256 byte characters, the same with "</w>", the merged
// strings in merge order, then "<|startoftext|>" = 49406 and "<|endoftext|>" = 49407.
func LoadOpenAIVocab(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("clip: cannot read the tokenizer vocabulary: %w (pass the path of OpenAI's %s, or load an SD pipeline's tokenizer/ with LoadTokenizer)", err, OpenAIVocabFile)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("clip: %s is not a gzip file (%v): it should be OpenAI's %s as downloaded, not unpacked", path, err, OpenAIVocabFile)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("clip: %s is corrupt (%v): download %s again", path, err, OpenAIVocabFile)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) < NumMerges+1 {
		return nil, fmt.Errorf("clip: %s has %d lines, but CLIP's vocabulary needs a header and %d merges: the file is truncated; download %s again",
			path, len(lines), NumMerges, OpenAIVocabFile)
	}
	merges, err := parseMerges(lines[1:NumMerges+1], 2, path)
	if err != nil {
		return nil, err
	}
	tokens := make([]string, 0, 2*len(byteSymbols)+len(merges)+2)
	tokens = append(tokens, byteSymbols...)
	for _, s := range byteSymbols {
		tokens = append(tokens, s+"</w>")
	}
	for _, m := range merges {
		tokens = append(tokens, m[0]+m[1])
	}
	tokens = append(tokens, StartOfText, EndOfText)
	vocab := make(map[string]int, len(tokens))
	for id, tok := range tokens {
		if prev, dup := vocab[tok]; dup {
			return nil, fmt.Errorf("clip: %s: the token %q is made twice (ids %d and %d): the file is not CLIP's vocabulary; download %s again", path, tok, prev, id, OpenAIVocabFile)
		}
		vocab[tok] = id
	}
	return newTokenizer(vocab, merges, path)
}

// parseMerges parses merge lines "first second"; firstLine is the 1-based number of
// lines[0] in the file, for errors.
func parseMerges(lines []string, firstLine int, path string) ([][2]string, error) {
	merges := make([][2]string, 0, len(lines))
	for i, line := range lines {
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("clip: %s line %d is not valid UTF-8: the file is corrupt; use the tokenizer files of the model", path, firstLine+i)
		}
		parts := strings.Fields(line)
		if len(parts) != 2 {
			return nil, fmt.Errorf("clip: %s line %d is %q, not a merge of two symbols (\"first second\"): the file is corrupt; use the tokenizer files of the model",
				path, firstLine+i, line)
		}
		merges = append(merges, [2]string{parts[0], parts[1]})
	}
	return merges, nil
}

// LoadTokenizer reads a transformers CLIPTokenizer folder, or an SD pipeline folder whose
// tokenizer is in tokenizer/: vocab.json (token → id) and merges.txt (a "#version" header,
// then one merge per line; like transformers, only the first NumMerges are used), and,
// when present, tokenizer_config.json and special_tokens_map.json, which set MaxLength
// (model_max_length) and the pad token (special_tokens_map.json wins when both do, as
// in transformers). SD1.x pads with "<|endoftext|>", SD2 with "!".
func LoadTokenizer(dir string) (*Tokenizer, error) {
	if _, err := os.Stat(filepath.Join(dir, VocabFile)); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, "tokenizer", VocabFile)); err2 == nil {
			dir = filepath.Join(dir, "tokenizer")
		} else {
			return nil, fmt.Errorf("clip: %s has no %s (nor tokenizer/%s): pass an SD pipeline folder or its tokenizer/ folder, holding %s and %s",
				dir, VocabFile, VocabFile, VocabFile, MergesFile)
		}
	}
	vocab, err := readVocabJSON(filepath.Join(dir, VocabFile))
	if err != nil {
		return nil, err
	}
	merges, err := readMergesTxt(filepath.Join(dir, MergesFile))
	if err != nil {
		return nil, err
	}
	t, err := newTokenizer(vocab, merges, filepath.Join(dir, VocabFile)+" and "+MergesFile)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{TokenizerConfig, SpecialTokensFile} {
		if err := t.applySettings(filepath.Join(dir, name)); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func readVocabJSON(path string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("clip: cannot read the tokenizer vocabulary: %w", err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(data, &vocab); err != nil {
		return nil, fmt.Errorf("clip: %s is not a vocabulary (a JSON object token → id): %v; use the tokenizer files of the model", path, err)
	}
	if _, ok := vocab[EndOfText]; !ok {
		return nil, fmt.Errorf("clip: %s has no %q: it is not a CLIP tokenizer's vocabulary (%d tokens); use the text encoder's own tokenizer/ folder",
			path, EndOfText, len(vocab))
	}
	return vocab, nil
}

func readMergesTxt(path string) ([][2]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("clip: cannot read the tokenizer merges: %w (%s belongs beside %s)", err, MergesFile, VocabFile)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if !strings.HasPrefix(lines[0], "#version") {
		return nil, fmt.Errorf("clip: %s line 1 is %q, not the \"#version: …\" header of a transformers merges file (which transformers skips unread): the file is corrupt or not a merges.txt",
			path, lines[0])
	}
	lines = lines[1:]
	if len(lines) > NumMerges {
		lines = lines[:NumMerges]
	}
	for i := range lines {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	return parseMerges(lines, 2, path)
}

// tokenSetting is a special token in a transformers tokenizer file: a string, or an
// AddedToken object {"content": …}.
type tokenSetting struct{ content *string }

func (s *tokenSetting) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		s.content = &str
		return nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(b, &obj); err != nil || obj.Content == nil {
		if string(bytes.TrimSpace(b)) == "null" {
			return nil
		}
		return fmt.Errorf("a special token must be a string or an object with \"content\", got %s", b)
	}
	s.content = obj.Content
	return nil
}

// applySettings reads the optional tokenizer_config.json or special_tokens_map.json.
func (t *Tokenizer) applySettings(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("clip: %w", err)
	}
	var s struct {
		ModelMaxLength *float64      `json:"model_max_length"`
		Pad            *tokenSetting `json:"pad_token"`
		BOS            *tokenSetting `json:"bos_token"`
		EOS            *tokenSetting `json:"eos_token"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("clip: %s: %v; fix or delete the file (the defaults are SD1.5's)", path, err)
	}
	// transformers writes a huge sentinel (1e30) for "no limit": keep the default then.
	if m := s.ModelMaxLength; m != nil && *m < 1e6 {
		if *m < 2 || *m != float64(int(*m)) {
			return fmt.Errorf("clip: %s: model_max_length %v is not a sequence length (SD uses 77)", path, *m)
		}
		t.MaxLength = int(*m)
	}
	for _, st := range []struct {
		name string
		set  *tokenSetting
		id   *int
	}{{"pad_token", s.Pad, &t.Pad}, {"bos_token", s.BOS, &t.BOS}, {"eos_token", s.EOS, &t.EOS}} {
		if st.set == nil || st.set.content == nil {
			continue
		}
		id, ok := t.encoder[*st.set.content]
		if !ok {
			return fmt.Errorf("clip: %s: %s %q is not in the vocabulary: the file belongs to another tokenizer", path, st.name, *st.set.content)
		}
		*st.id = id
	}
	return nil
}
