package clip

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wantErr fails unless err mentions every one of parts.
func wantErr(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one mentioning %q", what, parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not mention %q", what, err, p)
		}
	}
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLongPromptIsNotAnError: a prompt beyond 75 content tokens is truncated and reported.
func TestLongPromptIsNotAnError(t *testing.T) {
	tok := openAI(t)
	ids, truncated, err := tok.Encode(strings.Repeat("dog ", 100))
	if err != nil || !truncated || len(ids) != MaxLength || ids[0] != tok.BOS || ids[76] != tok.EOS || ids[75] != 1929 {
		t.Fatalf("Encode(100 dogs) = %v, truncated %v, err %v", ids, truncated, err)
	}
	if _, _, err := tok.Encode("bad \xff utf-8"); err == nil {
		t.Error("invalid UTF-8 text: no error")
	}
}

func TestOpenAIVocabErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadOpenAIVocab(filepath.Join(dir, "missing.txt.gz"))
	wantErr(t, "missing file", err, "missing.txt.gz", OpenAIVocabFile)

	p := writeFile(t, filepath.Join(dir, "plain.txt"), []byte("#version\na b\n"))
	_, err = LoadOpenAIVocab(p)
	wantErr(t, "not gzip", err, p, "not a gzip file")

	real, err := os.ReadFile(fixture(t, OpenAIVocabFile))
	if err != nil {
		t.Fatal(err)
	}
	p = writeFile(t, filepath.Join(dir, "cut.txt.gz"), real[:len(real)/2])
	_, err = LoadOpenAIVocab(p)
	wantErr(t, "truncated gzip stream", err, p, "corrupt", "download")

	lines := readGz(t)
	p = writeFile(t, filepath.Join(dir, "short.txt.gz"), gzipped(t, strings.Join(lines[:1000], "\n")))
	_, err = LoadOpenAIVocab(p)
	wantErr(t, "too few merges", err, p, "truncated", "48894")

	bad := append([]string{}, lines...)
	bad[500] = "abc"
	p = writeFile(t, filepath.Join(dir, "bad.txt.gz"), gzipped(t, strings.Join(bad, "\n")))
	_, err = LoadOpenAIVocab(p)
	wantErr(t, "malformed merge", err, p, "line 501", `"abc"`)
}

// hfFolder writes a valid tokenizer folder from the fixture vocabulary and returns it.
func hfFolder(t *testing.T) string {
	dir := t.TempDir()
	writeHFTokenizer(t, dir, openAI(t), EndOfText)
	return dir
}

func TestHFTokenizerErrors(t *testing.T) {
	_, err := LoadTokenizer(t.TempDir())
	wantErr(t, "empty folder", err, VocabFile, MergesFile, "tokenizer/")

	dir := hfFolder(t)
	merges, err := os.ReadFile(filepath.Join(dir, MergesFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(merges), "\n")
	lines[10] = "x y z"
	writeFile(t, filepath.Join(dir, MergesFile), []byte(strings.Join(lines, "\n")))
	_, err = LoadTokenizer(dir)
	wantErr(t, "malformed merges line", err, filepath.Join(dir, MergesFile), "line 11", `"x y z"`)

	writeFile(t, filepath.Join(dir, MergesFile), []byte(strings.Join(lines[1:], "\n")))
	_, err = LoadTokenizer(dir)
	wantErr(t, "no #version header", err, MergesFile, "#version")

	dir = hfFolder(t)
	writeFile(t, filepath.Join(dir, VocabFile), []byte(`{"a": 0, "b": 1}`))
	_, err = LoadTokenizer(dir)
	wantErr(t, "vocab without <|endoftext|>", err, filepath.Join(dir, VocabFile), EndOfText)

	writeFile(t, filepath.Join(dir, VocabFile), []byte(`{"a": 0, `))
	_, err = LoadTokenizer(dir)
	wantErr(t, "truncated vocab.json", err, filepath.Join(dir, VocabFile), "JSON")

	dir = hfFolder(t)
	writeFile(t, filepath.Join(dir, VocabFile), []byte(`{"<|startoftext|>": 0, "<|endoftext|>": 1}`))
	_, err = LoadTokenizer(dir)
	wantErr(t, "vocab lacking byte symbols", err, VocabFile, "lacks tokens", `"!"`)

	dir = hfFolder(t)
	writeFile(t, filepath.Join(dir, SpecialTokensFile), []byte(`{"pad_token": "<pad>"}`))
	_, err = LoadTokenizer(dir)
	wantErr(t, "unknown pad token", err, SpecialTokensFile, `"<pad>"`)

	dir = hfFolder(t)
	writeFile(t, filepath.Join(dir, TokenizerConfig), []byte(`{"model_max_length": 1}`))
	_, err = LoadTokenizer(dir)
	wantErr(t, "model_max_length 1", err, TokenizerConfig, "model_max_length")
}
