package clip

import (
	"testing"
)

// cleanCases are Clean's expected outputs, computed with the real ftfy 6.3.1 (its source,
// commit 74dd045 of rspeer/python-ftfy) and CPython 3: ftfy.fix_text, html.unescape twice,
// strip, re.sub(r'\s+', ' '), lower, as OpenAI's SimpleTokenizer does.
var cleanCases = [][2]string{
	{"a \u201cquoted\u201d word", "a \"quoted\" word"},
	{"it\u2019s \u2018fine\u2019 \u201elow\u201f", "it's 'fine' \"low\""},
	{"modifier\u02bcs", "modifier's"},
	{"&amp;amp;", "&"},
	{"&lt;b&gt;", "<b>"},
	{"Tom &amp; Jerry", "tom & jerry"},
	{"&eacute;t&eacute;", "\u00e9t\u00e9"},
	{"&EACUTE;", "\u00e9"},
	{"&eAcute;", "&eacute;"},
	{"&#233;", "\u00e9"},
	{"&#x41;&#X42;", "ab"},
	{"&#1;x", "x"},
	{"&#128;", "\u20ac"},
	{"&#0;", "\ufffd"},
	{"&#99999999999;", "\ufffd"},
	{"AT&T", "at&t"},
	{"&ampx;", "&x;"},
	{"&notit;", "\u00acit;"},
	{"&not it", "\u00ac it"},
	{"<b>&eacute;</b>", "<b>\u00e9</b>"},
	{"one &ldquo;x&rdquo;\n<p> &ldquo;y&rdquo;\nthree &ldquo;z&rdquo;", "one \"x\" <p> \u201cy\u201d three \u201cz\u201d"},
	{"\ufb01ne \ufb02our \u0132ssel", "fine flour ijssel"},
	{"\uff28\uff45\uff4c\uff4c\uff4f\u3000\uff57\uff4f\uff52\uff4c\uff44\uff01", "hello world!"},
	{"\uff76\uff80\uff76\uff85", "\u30ab\u30bf\u30ab\u30ca"},
	{"\u0093smart\u0094 \u0080", "\"smart\" \u20ac"},
	{"a\u0085b", "a\u2026b"},
	{"\u001b[31mred\u001b[0m", "red"},
	{"zero\u200bwidth", "zero\u200bwidth"},
	{"bom\ufeffx", "bomx"},
	{"e\u0301te\u0301", "\u00e9t\u00e9"},
	{"\u039f\u0394\u039f\u03a3 \u03a3\u0391\u03a3 \u03a3", "\u03bf\u03b4\u03bf\u03c2 \u03c3\u03b1\u03c2 \u03c3"},
	{"\u0130stanbul", "i\u0307stanbul"},
	{"a\u00a0b\u3000c\u2003d", "a b c d"},
	{"a\u2028b\u2029c", "a b c"},
	{"x\r\ny\rz", "x y z"},
	{"tab\u000bv\ff\u001fu\u0007", "tabv fu"},
	{"Stra\u00dfe", "stra\u00dfe"},
	{"\u01c5emal", "d\u017eemal"},
	{"\u206aarabic", "arabic"},
	{"obj\ufffcx", "objx"},
	{"&#x2019;s &#8220;", "'s \""},
	{"&szlig; &SZLIG;", "\u00df ss"},
	{"&amp;eacute;", "\u00e9"},
	{"&amp;amp;eacute;", "\u00e9"},
	{"caf\u00c3\u00a9", "caf\u00e9"},
	{"don\u00e2\u20ac\u2122t", "don't"},
}

// cleanExceptions are the cases Clean does not reproduce, with the reason: ftfy's
// mojibake repair (fix_encoding) is left out (see FixText).
var cleanExceptions = map[string]string{
	"caf\u00c3\u00a9":        "mojibake (UTF-8 read as Latin-1): ftfy's fix_encoding is not implemented",
	"don\u00e2\u20ac\u2122t": "mojibake (UTF-8 read as Windows-1252): ftfy's fix_encoding is not implemented",
}

func TestCleanMatchesFtfy(t *testing.T) {
	for _, c := range cleanCases {
		got := Clean(c[0])
		reason, excepted := cleanExceptions[c[0]]
		switch {
		case got == c[1] && excepted:
			t.Errorf("Clean(%q) matches but is listed as an exception (%s)", c[0], reason)
		case got != c[1] && !excepted:
			t.Errorf("Clean(%q) = %q, ftfy + html.unescape give %q", c[0], got, c[1])
		case got != c[1]:
			t.Logf("documented exception: Clean(%q) = %q, Python gives %q: %s", c[0], got, c[1], reason)
		}
	}
}

// TestDecodeReplace: Decode turns invalid UTF-8 into U+FFFD per maximal subpart, as
// Python's bytes.decode("utf-8", errors="replace").
func TestDecodeReplace(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"abc", "abc"},
		{"\xe6\x97", "\uFFFD"},                 // truncated 3-byte sequence: one U+FFFD
		{"\xe6\x97x", "\uFFFDx"},               // …followed by ASCII
		{"\xff\xfe", "\uFFFD\uFFFD"},           // two invalid bytes
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"}, // a surrogate: E D is a lead, A0 not allowed after it
		{"\xf0\x9f\x90", "\uFFFD"},             // truncated emoji
		{"\xc0\xaf", "\uFFFD\uFFFD"},           // overlong
	} {
		if got := decodeUTF8Replace([]byte(c.in)); got != c.want {
			t.Errorf("decodeUTF8Replace(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	tok := openAI(t)
	// The lead byte of a 4-byte sequence alone (its byte symbol), then "a</w>".
	lead, ok := tok.ID(string(byteEncoder[0xF0]))
	if !ok {
		t.Fatal("no byte symbol for 0xF0")
	}
	if got := tok.Decode([]int{lead, 320}); got != "\uFFFDa " {
		t.Errorf("a lone lead byte decodes to %q", got)
	}
	if got := tok.Decode([]int{49406, 320, 49407, 1 << 20}); got != "<|startoftext|>a <|endoftext|>\uFFFD" {
		t.Errorf("Decode with specials and an unknown id = %q", got)
	}
}
