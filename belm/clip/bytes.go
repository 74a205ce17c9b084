package clip

import (
	"strings"
	"unicode/utf8"
)

// GPT-2's bytes_to_unicode table, which CLIP's vocabulary is written in: every byte is
// one printable character, the printable Latin-1 bytes ('!'…'~', '¡'…'¬', '®'…'ÿ') as
// themselves and the other 68 as U+0100 + n in byte order.
var (
	byteEncoder [256]rune
	byteDecoder = map[rune]byte{}
	// byteSymbols are the 256 byte characters in the table's order (printable bytes first),
	// which is the order of the first 256 vocabulary ids.
	byteSymbols []string
)

func init() {
	var printable [256]bool
	var order []int
	for _, r := range [][2]int{{'!', '~'}, {0xA1, 0xAC}, {0xAE, 0xFF}} {
		for b := r[0]; b <= r[1]; b++ {
			printable[b] = true
			order = append(order, b)
			byteEncoder[b] = rune(b)
		}
	}
	n := 0
	for b := range 256 {
		if !printable[b] {
			order = append(order, b)
			byteEncoder[b] = rune(256 + n)
			n++
		}
	}
	for _, b := range order {
		byteDecoder[byteEncoder[b]] = byte(b)
		byteSymbols = append(byteSymbols, string(byteEncoder[b]))
	}
}

// byteEncode maps the UTF-8 bytes of s to the table's characters.
func byteEncode(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteEncoder[s[i]])
	}
	return sb.String()
}

// decodeUTF8Replace decodes b as Python's bytes.decode("utf-8", errors="replace"): each
// maximal ill-formed subsequence (the longest prefix of a valid sequence, or one byte)
// becomes one U+FFFD. Go's own conversions replace byte by byte instead.
func decodeUTF8Replace(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r != utf8.RuneError || size > 1 {
			sb.WriteRune(r)
			b = b[size:]
			continue
		}
		sb.WriteRune(utf8.RuneError)
		b = b[maximalSubpart(b):]
	}
	return sb.String()
}

// maximalSubpart returns the length of the maximal ill-formed subsequence at the start
// of b (Unicode §3.9, U+FFFD substitution of maximal subparts): a lead byte followed by
// the continuation bytes that could still have completed it.
func maximalSubpart(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	var need int
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c >= 0xE0 && c <= 0xEF:
		need = 2
		if c == 0xE0 {
			lo = 0xA0
		} else if c == 0xED {
			hi = 0x9F
		}
	case c >= 0xF0 && c <= 0xF4:
		need = 3
		if c == 0xF0 {
			lo = 0x90
		} else if c == 0xF4 {
			hi = 0x8F
		}
	default:
		return 1
	}
	n := 1
	for ; n <= need && n < len(b); n++ {
		if b[n] < lo || b[n] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return n
}
