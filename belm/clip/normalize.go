package clip

import (
	"html"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Clean is the text clean-up of OpenAI's SimpleTokenizer.encode:
// whitespace_clean(basic_clean(text)).lower(), that is FixText (ftfy.fix_text), Python's
// html.unescape twice, strip, every run of whitespace → one space, and Python's
// str.lower (full case mapping: "İ" → "i̇", a final "Σ" → "ς").
func Clean(text string) string {
	text = FixText(text)
	text = pyUnescape(pyUnescape(text))
	text = strings.Join(strings.FieldsFunc(text, unicode.IsSpace), " ")
	return pyLower(text)
}

// FixText emulates ftfy.fix_text (ftfy 6.3.1, default configuration) for prompts. The
// text is fixed line by line (segments ending in "\n"); each is fixed until it no longer
// changes by, in ftfy's order:
//   - unescape_html: "&eacute;", "&#233;", "&EACUTE;"… when they end in ';' and the line
//     has no '<' (after a line with '<', no later line is unescaped either, as ftfy does);
//   - fix_c1_controls: U+0080…U+009F read as Windows-1252 ("\x93" → "“");
//   - fix_latin_ligatures ("ﬁ" → "fi", "Ĳ" → "IJ"…);
//   - fix_character_width: fullwidth/halfwidth forms → their NFKC form ("Ａ" → "A"),
//     U+3000 → ' ';
//   - uncurl_quotes: U+02BC, U+2018…U+201B → "'", U+201C…U+201F → '"';
//   - fix_line_breaks: "\r\n", '\r', U+2028, U+2029, U+0085 → '\n';
//   - remove_terminal_escapes: ANSI "\x1b[…m" sequences;
//   - remove_control_chars: U+0000…U+0008, U+000B, U+000E…U+001F, U+007F,
//     U+206A…U+206F, U+FEFF, U+FFF9…U+FFFC;
//   - NFC normalisation.
//
// Left out: fix_encoding, ftfy's mojibake repair ("cafÃ©" → "café": a statistical
// detector with its own codecs and character-class tables, which leaves well-formed text
// alone), with its sub-steps restore_byte_a0, replace_lossy_sequences and
// decode_inconsistent_utf8; and fix_surrogates (a Go string holds no UTF-16 surrogates).
// A prompt that is mojibake is therefore tokenized as written, where ftfy would first
// repair it.
func FixText(text string) string {
	var out strings.Builder
	unescape := true
	for len(text) > 0 {
		seg := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			seg = text[:i+1]
		}
		text = text[len(seg):]
		if strings.Contains(seg, "<") {
			unescape = false
		}
		for range 16 { // ftfy loops until a fixed point; two rounds suffice in practice
			fixed := fixSegment(seg, unescape)
			if fixed == seg {
				break
			}
			seg = fixed
		}
		out.WriteString(seg)
	}
	return out.String()
}

// fixSegment is one round of ftfy's fix_and_explain (fix_encoding left out).
func fixSegment(s string, unescape bool) string {
	if unescape {
		s = ftfyEntity.ReplaceAllStringFunc(s, unescapeFtfy)
	}
	s = strings.Map(func(r rune) rune {
		if r >= 0x80 && r <= 0x9F {
			return cp1252[r-0x80]
		}
		return r
	}, s)
	s = ligatures.Replace(s)
	s = strings.Map(func(r rune) rune {
		if w, ok := widthMap[r]; ok {
			return w
		}
		switch {
		case r == 0x2BC || r >= 0x2018 && r <= 0x201B:
			return '\''
		case r >= 0x201C && r <= 0x201F:
			return '"'
		}
		return r
	}, s)
	s = lineBreaks.Replace(s)
	s = ansiEscape.ReplaceAllString(s, "")
	s = strings.Map(func(r rune) rune {
		switch {
		case r <= 0x08, r == 0x0B, r >= 0x0E && r <= 0x1F, r == 0x7F,
			r >= 0x206A && r <= 0x206F, r == 0xFEFF, r >= 0xFFF9 && r <= 0xFFFC:
			return -1
		}
		return r
	}, s)
	return norm.NFC.String(s)
}

var (
	ftfyEntity = regexp.MustCompile(`&#?[0-9A-Za-z]{1,24};`)
	ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*[a-zA-Z]")
	lineBreaks = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u2028", "\n", "\u2029", "\n", "\u0085", "\n")
	ligatures  = strings.NewReplacer("Ĳ", "IJ", "ĳ", "ij", "ŉ", "ʼn", "Ǳ", "DZ", "ǲ", "Dz", "ǳ", "dz",
		"Ǆ", "DŽ", "ǅ", "Dž", "ǆ", "dž", "Ǉ", "LJ", "ǈ", "Lj", "ǉ", "lj", "Ǌ", "NJ", "ǋ", "Nj", "ǌ", "nj",
		"ﬀ", "ff", "ﬁ", "fi", "ﬂ", "fl", "ﬃ", "ffi", "ﬄ", "ffl", "ﬅ", "ſt", "ﬆ", "st")
	// widthMap is ftfy's WIDTH_MAP: U+3000 → ' ' and each of U+FF01…U+FFEF whose NFKC form
	// differs (all are one character).
	widthMap = map[rune]rune{0x3000: ' '}
	// cp1252 is "sloppy" Windows-1252 on 0x80…0x9F (undefined bytes map to themselves),
	// the table of ftfy's fix_c1_controls and of Python's html.unescape for &#128;…&#159;.
	cp1252 = [32]rune{0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030,
		0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
		0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178}
)

func init() {
	for r := rune(0xFF01); r < 0xFFF0; r++ {
		if alt := []rune(norm.NFKC.String(string(r))); len(alt) == 1 && alt[0] != r {
			widthMap[r] = alt[0]
		}
	}
}

// unescapeFtfy is ftfy's _unescape_fixup for one match of &#?[0-9A-Za-z]{1,24};: an HTML5
// entity written with its ';' (or the all-caps form of an all-lowercase one, "&EACUTE;" →
// "É"), or a numeric reference that Python's html.unescape consumes whole.
func unescapeFtfy(m string) string {
	if strings.HasPrefix(m, "&#") {
		if u := pyUnescape(m); !strings.Contains(u, ";") {
			return u
		}
		return m
	}
	if v, ok := exactEntity(m); ok {
		return v
	}
	name := m[1 : len(m)-1]
	if name != strings.ToUpper(name) || html.UnescapeString(m) != m {
		return m
	}
	if v, ok := exactEntity("&" + strings.ToLower(name) + ";"); ok {
		return pyUpper(v)
	}
	return m
}

// exactEntity returns the value of the named entity m ("&name;") when it is one of HTML5's
// names written with a semicolon; html.UnescapeString would also accept a prefix of it
// ("&ampx;" → "&x;"), which ftfy does not.
func exactEntity(m string) (string, bool) {
	v := html.UnescapeString(m)
	if v == m || (strings.HasSuffix(v, ";") && v != ";") {
		return "", false
	}
	return v, true
}

// pyUpper is Python's str.upper on an entity's value: strings.ToUpper plus the
// unconditional one-to-many mappings of SpecialCasing that HTML5 entities can produce.
func pyUpper(s string) string {
	return strings.ToUpper(upperSpecial.Replace(s))
}

var upperSpecial = strings.NewReplacer("ß", "SS", "ŉ", "ʼN", "ǰ", "J̌", "ﬀ", "FF", "ﬁ", "FI", "ﬂ", "FL", "ﬃ", "FFI", "ﬄ", "FFL")

// pyCharRef is the pattern of Python's html.unescape (html._charref).
var pyCharRef = regexp.MustCompile(`&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`)

// pyUnescape is Python's html.unescape. Named references are Go's html.UnescapeString
// (same HTML5 table, same longest-prefix rule for the legacy names without ';'); numeric
// ones follow Python, which drops the invalid code points (&#1;, &#127;, &#xFFFE;…) that Go
// keeps, and maps any number beyond U+10FFFF to U+FFFD where Go's rune would overflow.
func pyUnescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return pyCharRef.ReplaceAllStringFunc(s, func(m string) string {
		if m[1] != '#' {
			return html.UnescapeString(m)
		}
		digits, base := strings.TrimSuffix(m[2:], ";"), 10
		if digits[0] == 'x' || digits[0] == 'X' {
			digits, base = digits[1:], 16
		}
		n, err := strconv.ParseInt(digits, base, 64)
		switch {
		case err != nil || n > unicode.MaxRune || n >= 0xD800 && n <= 0xDFFF || n == 0:
			return "\uFFFD"
		case n == 0x0D:
			return "\r"
		case n >= 0x80 && n <= 0x9F:
			return string(cp1252[n-0x80])
		case n <= 0x08, n == 0x0B, n >= 0x0E && n <= 0x1F, n == 0x7F, n >= 0xFDD0 && n <= 0xFDEF, n&0xFFFE == 0xFFFE:
			return ""
		}
		return string(rune(n))
	})
}

// pyLower is Python's str.lower: unicode.ToLower except for the two full (SpecialCasing)
// mappings Python applies, "İ" → "i̇" and the final sigma ("ΟΔΟΣ" → "οδος").
func pyLower(s string) string {
	rs := []rune(s)
	var sb strings.Builder
	for i, r := range rs {
		switch r {
		case 'İ':
			sb.WriteString("i\u0307")
		case 'Σ':
			if finalSigma(rs, i) {
				sb.WriteRune('ς')
			} else {
				sb.WriteRune('σ')
			}
		default:
			sb.WriteRune(unicode.ToLower(r))
		}
	}
	return sb.String()
}

// finalSigma is Unicode's Final_Sigma condition at rs[i], as CPython tests it: a cased
// letter before (skipping case-ignorable characters) and none after.
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && caseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !cased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && caseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !cased(rs[j])
}

func cased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

func caseIgnorable(r rune) bool {
	if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk) {
		return true
	}
	// Word_Break MidLetter, MidNumLet and Single_Quote.
	return strings.ContainsRune("'.:\u00b7\u0387\u055f\u05f4\u2018\u2019\u2024\u2027\ufe13\ufe52\ufe55\uff07\uff0e\uff1a", r)
}
