package clip

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

type tokenizerPair struct {
	Text      string           `json:"text"`
	IDs       []int            `json:"ids"`
	NTokens   int              `json:"n_tokens"`
	Truncated bool             `json:"truncated"`
	Content   []int            `json:"content_ids_untruncated"`
	Decoded   string           `json:"decoded"`
	DiffersIn map[string][]int `json:"differs_in"`
}

type tokenizerPairs struct {
	BOS       int             `json:"bos"`
	EOS       int             `json:"eos"`
	Pad       int             `json:"pad"`
	MaxLength int             `json:"max_length"`
	Pairs     []tokenizerPair `json:"pairs"`
}

// tokenizerExceptions lists the fixture prompts this tokenizer does not reproduce, with the
// reason; a prompt listed here must fail (so the table stays honest). Empty: all 25 match.
var tokenizerExceptions = map[string]string{}

var (
	openAIOnce sync.Once
	openAITok  *Tokenizer
	openAIErr  error
)

// openAI loads the fixture's bpe_simple_vocab_16e6.txt.gz once.
func openAI(tb testing.TB) *Tokenizer {
	tb.Helper()
	path := fixture(tb, OpenAIVocabFile)
	openAIOnce.Do(func() { openAITok, openAIErr = LoadOpenAIVocab(path) })
	if openAIErr != nil {
		tb.Fatal(openAIErr)
	}
	return openAITok
}

func loadPairs(tb testing.TB) tokenizerPairs {
	tb.Helper()
	data, err := os.ReadFile(fixture(tb, "clip_tokenizer_pairs.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var p tokenizerPairs
	if err := json.Unmarshal(data, &p); err != nil {
		tb.Fatal(err)
	}
	if len(p.Pairs) != 25 {
		tb.Fatalf("clip_tokenizer_pairs.json has %d pairs, want 25", len(p.Pairs))
	}
	return p
}

// checkPair compares one prompt's encoding with the fixture; "" when all fields match.
func checkPair(tok *Tokenizer, p tokenizerPair) string {
	ids, truncated, err := tok.Encode(p.Text)
	if err != nil {
		return err.Error()
	}
	content, err := tok.Tokenize(p.Text)
	if err != nil {
		return err.Error()
	}
	var diffs []string
	if !slices.Equal(ids, p.IDs) {
		diffs = append(diffs, fmt.Sprintf("ids %v, want %v", ids, p.IDs))
	}
	if n := min(len(content), tok.MaxLength-2) + 2; n != p.NTokens {
		diffs = append(diffs, fmt.Sprintf("n_tokens %d, want %d", n, p.NTokens))
	}
	if truncated != p.Truncated {
		diffs = append(diffs, fmt.Sprintf("truncated %v, want %v", truncated, p.Truncated))
	}
	if !slices.Equal(content, p.Content) {
		diffs = append(diffs, fmt.Sprintf("content %v, want %v", content, p.Content))
	}
	if d := tok.Decode(content); d != p.Decoded {
		diffs = append(diffs, fmt.Sprintf("decoded %q, want %q", d, p.Decoded))
	}
	return strings.Join(diffs, "; ")
}

// TestTokenizerPairs checks the 25 prompts of clip_tokenizer_pairs.json (OpenAI's
// SimpleTokenizer with ftfy 6.3.1, framed as SD1.5's CLIPTokenizer): ids, n_tokens,
// truncated, the untruncated content ids and their decoding.
func TestTokenizerPairs(t *testing.T) {
	tok := openAI(t)
	fx := loadPairs(t)
	if tok.BOS != fx.BOS || tok.EOS != fx.EOS || tok.Pad != fx.Pad || tok.MaxLength != fx.MaxLength {
		t.Fatalf("framing bos/eos/pad/max %d/%d/%d/%d, fixture %d/%d/%d/%d",
			tok.BOS, tok.EOS, tok.Pad, tok.MaxLength, fx.BOS, fx.EOS, fx.Pad, fx.MaxLength)
	}
	matched := 0
	for _, p := range fx.Pairs {
		diff := checkPair(tok, p)
		reason, excepted := tokenizerExceptions[p.Text]
		switch {
		case diff == "" && excepted:
			t.Errorf("%q matches the fixture but is listed as an exception (%s): remove it from tokenizerExceptions", p.Text, reason)
		case diff == "":
			matched++
		case excepted:
			t.Logf("documented exception %q: %s (%s)", p.Text, reason, diff)
		default:
			t.Errorf("%q: %s", p.Text, diff)
		}
	}
	t.Logf("%d of %d prompts match the fixture exactly", matched, len(fx.Pairs))
}

// TestTokenizerConcurrent encodes from several goroutines (the BPE cache is shared).
func TestTokenizerConcurrent(t *testing.T) {
	tok := openAI(t)
	fx := loadPairs(t)
	var wg sync.WaitGroup
	errs := make(chan string, 4*len(fx.Pairs))
	for range 4 {
		wg.Go(func() {
			for _, p := range fx.Pairs {
				if _, ok := tokenizerExceptions[p.Text]; !ok {
					if d := checkPair(tok, p); d != "" {
						errs <- p.Text + ": " + d
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// writeHFTokenizer writes tok's whole vocabulary as a transformers tokenizer folder.
func writeHFTokenizer(tb testing.TB, dir string, tok *Tokenizer, padToken string) {
	tb.Helper()
	if err := tok.WriteFolder(dir, 0, padToken); err != nil {
		tb.Fatal(err)
	}
}

// A small vocabulary (a tiny model's): the byte tokens, the first merges, the specials at
// the end; words the kept merges cannot join come out as more, shorter tokens.
func TestWriteFolderSmall(t *testing.T) {
	tok := openAI(t)
	dir := t.TempDir()
	if err := tok.WriteFolder(dir, 1000, EndOfText); err != nil {
		t.Fatal(err)
	}
	small, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if small.VocabSize() != 1000 || small.BOS != 998 || small.EOS != 999 || small.Pad != 999 || len(small.ranks) != 486 {
		t.Fatalf("small vocabulary: %d tokens, bos %d, eos %d, pad %d, %d merges", small.VocabSize(), small.BOS, small.EOS, small.Pad, len(small.ranks))
	}
	ids, _, err := small.Encode("a photo of a dog")
	if err != nil {
		t.Fatal(err)
	}
	content := ids[1 : slices.Index(ids[1:], 999)+1]
	if slices.Max(content) >= 998 || small.Decode(content) != "a photo of a dog " {
		t.Errorf("small vocabulary: %v decodes to %q", ids, small.Decode(content))
	}
	for _, n := range []int{513, 49409} {
		if err := tok.WriteFolder(dir, n, EndOfText); err == nil {
			t.Errorf("size %d accepted", n)
		}
	}
}

// TestLoadersAgree builds a diffusers SD folder's tokenizer/ from the .gz and checks that
// LoadTokenizer gives the same tables (vocabulary, merge ranks, special ids, framing) and
// the same ids for every fixture prompt.
func TestLoadersAgree(t *testing.T) {
	tok := openAI(t)
	if tok.VocabSize() != 49408 || len(tok.ranks) != NumMerges {
		t.Fatalf("OpenAI vocabulary: %d tokens and %d merges, want 49408 and %d", tok.VocabSize(), len(tok.ranks), NumMerges)
	}
	root := t.TempDir()
	writeHFTokenizer(t, filepath.Join(root, "tokenizer"), tok, EndOfText)
	hf, err := LoadTokenizer(root) // the pipeline folder: tokenizer/ is found
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(hf.encoder, tok.encoder) || !maps.Equal(hf.ranks, tok.ranks) || !maps.Equal(hf.decoder, tok.decoder) {
		t.Fatal("vocab.json/merges.txt tables differ from the .gz's")
	}
	if hf.BOS != tok.BOS || hf.EOS != tok.EOS || hf.Pad != tok.Pad || hf.MaxLength != tok.MaxLength {
		t.Fatalf("special ids %d/%d/%d/%d, want %d/%d/%d/%d", hf.BOS, hf.EOS, hf.Pad, hf.MaxLength, tok.BOS, tok.EOS, tok.Pad, tok.MaxLength)
	}
	for _, p := range loadPairs(t).Pairs {
		a, _, _ := tok.Encode(p.Text)
		b, _, err := hf.Encode(p.Text)
		if err != nil || !slices.Equal(a, b) {
			t.Errorf("%q: loaders disagree: %v vs %v (%v)", p.Text, a, b, err)
		}
	}
}

// TestSD2Padding: SD2's tokenizer pads with "!" (id 0), set by special_tokens_map.json.
func TestSD2Padding(t *testing.T) {
	tok := openAI(t)
	dir := t.TempDir()
	writeHFTokenizer(t, dir, tok, "!")
	sd2, err := LoadTokenizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids, _, err := sd2.Encode("a dog")
	if err != nil {
		t.Fatal(err)
	}
	want := append([]int{49406, 320, 1929, 49407}, make([]int, 73)...)
	if !slices.Equal(ids, want) {
		t.Fatalf("SD2 framing %v, want %v", ids, want)
	}
}

// readGz returns the decompressed lines of the fixture's vocabulary file.
func readGz(tb testing.TB) []string {
	tb.Helper()
	f, err := os.Open(fixture(tb, OpenAIVocabFile))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return lines
}
