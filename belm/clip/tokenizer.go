package clip

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// The special tokens of CLIP's vocabulary and the sequence length Stable Diffusion uses.
const (
	StartOfText = "<|startoftext|>"
	EndOfText   = "<|endoftext|>"
	// MaxLength is the sequence length of SD's text encoder (model_max_length in its
	// tokenizer_config.json): bos + 75 content tokens + eos.
	MaxLength = 77
)

// prePattern is OpenAI's pre-tokenisation pattern (simple_tokenizer.py, regex.IGNORECASE).
// The text reaching it is already whitespace-collapsed, so Go's ASCII \s is enough: every
// Unicode space has become ' ' (see cleanText).
var prePattern = regexp.MustCompile(`(?i)<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`)

// Tokenizer is CLIP's byte-level BPE tokenizer as Stable Diffusion pipelines use it: the
// text is cleaned like OpenAI's SimpleTokenizer with ftfy (see Clean), split with OpenAI's
// pattern, mapped byte → unicode (GPT-2's table) and merged by BPE with "</w>" on the
// last symbol of each word; Encode frames the ids as transformers' CLIPTokenizer with
// padding="max_length", truncation=True does. A Tokenizer is safe for concurrent use.
type Tokenizer struct {
	encoder map[string]int // token → id
	decoder map[int]string // id → token
	ranks   map[string]int // "first second" → merge rank (lower merges first)

	// BOS, EOS and Pad are the ids framing and padding Encode's output: 49406, 49407 and
	// 49407 for SD1.x (SD2's tokenizer pads with "!" = 0).
	BOS, EOS, Pad int
	// MaxLength is the length of Encode's output (77 for SD).
	MaxLength int

	mu    sync.Mutex
	cache map[string][]string // pre-token (byte-unicode) → BPE symbols
}

// newTokenizer builds a tokenizer from a vocabulary and merges in rank order, checking
// that every symbol BPE can produce is in the vocabulary. src names the files in errors.
func newTokenizer(vocab map[string]int, merges [][2]string, src string) (*Tokenizer, error) {
	t := &Tokenizer{encoder: vocab, decoder: make(map[int]string, len(vocab)),
		ranks: make(map[string]int, len(merges)), MaxLength: MaxLength, cache: map[string][]string{}}
	for tok, id := range vocab {
		if prev, dup := t.decoder[id]; dup {
			return nil, fmt.Errorf("clip: %s: tokens %q and %q share the id %d: the vocabulary is corrupt; use the tokenizer files of the model", src, prev, tok, id)
		}
		t.decoder[id] = tok
	}
	var missing []string
	for _, s := range byteSymbols {
		for _, tok := range []string{s, s + "</w>"} {
			if _, ok := vocab[tok]; !ok {
				missing = append(missing, fmt.Sprintf("%q", tok))
			}
		}
	}
	for i, m := range merges {
		if _, ok := vocab[m[0]+m[1]]; !ok {
			missing = append(missing, fmt.Sprintf("%q (merge %d)", m[0]+m[1], i+1))
		}
		key := m[0] + " " + m[1]
		if _, dup := t.ranks[key]; !dup {
			t.ranks[key] = i
		}
	}
	for _, sp := range []string{StartOfText, EndOfText} {
		if _, ok := vocab[sp]; !ok {
			missing = append(missing, fmt.Sprintf("%q", sp))
		}
	}
	if len(missing) > 0 {
		if len(missing) > 8 {
			missing = append(missing[:8], fmt.Sprintf("… (%d in all)", len(missing)))
		}
		return nil, fmt.Errorf("clip: %s: the vocabulary lacks tokens a CLIP tokenizer needs: %s; use a CLIP tokenizer's files (an SD pipeline's tokenizer/vocab.json and merges.txt, or OpenAI's bpe_simple_vocab_16e6.txt.gz)",
			src, strings.Join(missing, ", "))
	}
	t.BOS, t.EOS, t.Pad = vocab[StartOfText], vocab[EndOfText], vocab[EndOfText]
	t.cache[StartOfText] = []string{StartOfText}
	t.cache[EndOfText] = []string{EndOfText}
	return t, nil
}

// VocabSize returns the number of tokens (49408 for CLIP).
func (t *Tokenizer) VocabSize() int { return len(t.encoder) }

// ID returns the id of a token of the vocabulary (such as "<|endoftext|>" or "dog</w>").
func (t *Tokenizer) ID(token string) (int, bool) {
	id, ok := t.encoder[token]
	return id, ok
}

// Token returns the vocabulary entry of an id.
func (t *Tokenizer) Token(id int) (string, bool) {
	tok, ok := t.decoder[id]
	return tok, ok
}

// Tokenize returns the content ids of text, untruncated and without bos/eos: OpenAI's
// SimpleTokenizer.encode. The error is for text that is not valid UTF-8.
func (t *Tokenizer) Tokenize(text string) ([]int, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("clip: the text to tokenize is not valid UTF-8 (%q)", text)
	}
	var ids []int
	for _, word := range prePattern.FindAllString(Clean(text), -1) {
		for _, sym := range t.bpe(byteEncode(word)) {
			id, ok := t.encoder[sym]
			if !ok { // newTokenizer checked the merges: cannot happen with a consistent vocabulary
				return nil, fmt.Errorf("clip: BPE symbol %q of %q is not in the vocabulary", sym, word)
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// Encode returns the MaxLength ids SD's text encoder takes for text: [BOS] + the first
// MaxLength−2 content ids + [EOS], padded with Pad. truncated reports that content ids
// were dropped (a prompt longer than 75 tokens is not an error: callers decide).
func (t *Tokenizer) Encode(text string) (ids []int, truncated bool, err error) {
	content, err := t.Tokenize(text)
	if err != nil {
		return nil, false, err
	}
	ids, truncated = t.Frame(content)
	return ids, truncated, nil
}

// Frame frames content ids as Encode does.
func (t *Tokenizer) Frame(content []int) (ids []int, truncated bool) {
	n := max(t.MaxLength-2, 0)
	if len(content) > n {
		content, truncated = content[:n], true
	}
	ids = make([]int, 0, max(t.MaxLength, len(content)+2))
	ids = append(ids, t.BOS)
	ids = append(ids, content...)
	ids = append(ids, t.EOS)
	for len(ids) < t.MaxLength {
		ids = append(ids, t.Pad)
	}
	return ids, truncated
}

// Decode is OpenAI's SimpleTokenizer.decode: the tokens' bytes decoded as UTF-8 (invalid
// sequences become U+FFFD, as Python's errors="replace"), with "</w>" read as a space.
// Special ids come out as their text ("<|endoftext|>"): pass content ids to get the prompt
// back. An id outside the vocabulary decodes to U+FFFD.
func (t *Tokenizer) Decode(ids []int) string {
	var buf []byte
	for _, id := range ids {
		tok, ok := t.decoder[id]
		if !ok {
			buf = append(buf, "\uFFFD"...)
			continue
		}
		for _, r := range tok {
			if b, ok := byteDecoder[r]; ok {
				buf = append(buf, b)
			} else { // not a byte symbol: cannot come from a CLIP vocabulary
				buf = utf8.AppendRune(buf, r)
			}
		}
	}
	return strings.ReplaceAll(decodeUTF8Replace(buf), "</w>", " ")
}

// bpe splits a byte-encoded word into vocabulary symbols (OpenAI's SimpleTokenizer.bpe):
// its characters, the last one with "</w>", merged pairwise by rank until no pair of
// adjacent symbols is a merge. Results are cached.
func (t *Tokenizer) bpe(word string) []string {
	t.mu.Lock()
	if s, ok := t.cache[word]; ok {
		t.mu.Unlock()
		return s
	}
	t.mu.Unlock()
	var syms []string
	for _, r := range word {
		syms = append(syms, string(r))
	}
	syms[len(syms)-1] += "</w>"
	for len(syms) > 1 {
		best, bestRank := "", -1
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := t.ranks[syms[i]+" "+syms[i+1]]; ok && (bestRank < 0 || r < bestRank) {
				best, bestRank = syms[i]+" "+syms[i+1], r
			}
		}
		if bestRank < 0 {
			break
		}
		first, second, _ := strings.Cut(best, " ")
		merged := syms[:0:0]
		for i := 0; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == first && syms[i+1] == second {
				merged = append(merged, first+second)
				i++
			} else {
				merged = append(merged, syms[i])
			}
		}
		syms = merged
	}
	t.mu.Lock()
	t.cache[word] = syms
	t.mu.Unlock()
	return syms
}
