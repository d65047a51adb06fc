package render

import (
	"strconv"
	"strings"
)

// The route table is a Ruby literal built from this small value tree. The grammar is
// deliberately tiny (hashes with => pairs, arrays, double-quoted strings, integers,
// symbols, true/false, and long arrays split into lambda chunks) so that a checker
// can prove that nothing else is in the file.

type rbValue interface{ rb() }

type (
	rbStr  string
	rbInt  int64
	rbSym  string // written as :name; names are ours, [a-z_]+ only
	rbBool bool
	rbArr  []rbValue
	rbHash []rbPair
)

type rbPair struct {
	Key rbValue
	Val rbValue
}

func (rbStr) rb()  {}
func (rbInt) rb()  {}
func (rbSym) rb()  {}
func (rbBool) rb() {}
func (rbArr) rb()  {}
func (rbHash) rb() {}

// add appends a pair keyed by a symbol.
func (h *rbHash) add(key string, v rbValue) { *h = append(*h, rbPair{rbSym(key), v}) }

// rubySafe reports whether c may appear unescaped in an emitted Ruby string. Nothing
// here can end a string, start an escape or an interpolation (#{}), or break a line.
func rubySafe(c byte) bool {
	return isAlnum(c) || c == ' ' || c == '.' || c == '/' || c == '_' || c == ':' || c == '-'
}

// rubyString writes s as a double-quoted Ruby literal; every other byte is \xHH.
func rubyString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if rubySafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteString(`\x`)
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	b.WriteByte('"')
}

// flatLimit is the width under which a hash or array is written on one line.
const flatLimit = 100

// chunkSize bounds the elements of an array literal written in one piece. mruby's
// code generator finds duplicate string literals by a linear scan of the current
// procedure's pool, so one literal with n distinct strings costs O(n^2) to load
// (5,000 rules: about a second). A longer array is written as
// (lambda { [...] }.call + lambda { [...] }.call): each block is its own procedure
// with its own pool, which keeps loading linear.
const chunkSize = 64

// writeRuby writes v at the given indentation (in units of two spaces).
func writeRuby(b *strings.Builder, v rbValue, indent int) {
	if a, ok := v.(rbArr); ok && len(a) > chunkSize {
		pad := strings.Repeat("  ", indent+1)
		b.WriteString("(\n")
		for i := 0; i < len(a); i += chunkSize {
			b.WriteString(pad)
			b.WriteString("lambda { ")
			writeRuby(b, a[i:min(i+chunkSize, len(a))], indent+1)
			b.WriteString(" }.call")
			// The operator ends the line: a line starting with "+" is a new statement.
			if i+chunkSize < len(a) {
				b.WriteString(" +")
			}
			b.WriteString("\n")
		}
		b.WriteString(strings.Repeat("  ", indent))
		b.WriteString(")")
		return
	}
	if flat := flatRuby(v); len(flat)+2*indent <= flatLimit || !isContainer(v) {
		b.WriteString(flat)
		return
	}
	pad := strings.Repeat("  ", indent+1)
	switch v := v.(type) {
	case rbArr:
		b.WriteString("[\n")
		for _, e := range v {
			b.WriteString(pad)
			writeRuby(b, e, indent+1)
			b.WriteString(",\n")
		}
		b.WriteString(strings.Repeat("  ", indent))
		b.WriteString("]")
	case rbHash:
		b.WriteString("{\n")
		for _, p := range v {
			b.WriteString(pad)
			b.WriteString(flatRuby(p.Key))
			b.WriteString(" => ")
			writeRuby(b, p.Val, indent+1)
			b.WriteString(",\n")
		}
		b.WriteString(strings.Repeat("  ", indent))
		b.WriteString("}")
	}
}

func isContainer(v rbValue) bool {
	switch v.(type) {
	case rbArr, rbHash:
		return true
	}
	return false
}

func flatRuby(v rbValue) string {
	var b strings.Builder
	writeFlat(&b, v)
	return b.String()
}

func writeFlat(b *strings.Builder, v rbValue) {
	switch v := v.(type) {
	case rbStr:
		rubyString(b, string(v))
	case rbInt:
		b.WriteString(strconv.FormatInt(int64(v), 10))
	case rbSym:
		b.WriteByte(':')
		b.WriteString(string(v))
	case rbBool:
		b.WriteString(strconv.FormatBool(bool(v)))
	case rbArr:
		if len(v) > chunkSize {
			b.WriteByte('(')
			for i := 0; i < len(v); i += chunkSize {
				if i > 0 {
					b.WriteString(" + ")
				}
				b.WriteString("lambda { ")
				writeFlat(b, v[i:min(i+chunkSize, len(v))])
				b.WriteString(" }.call")
			}
			b.WriteByte(')')
			return
		}
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlat(b, e)
		}
		b.WriteByte(']')
	case rbHash:
		b.WriteByte('{')
		for i, p := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlat(b, p.Key)
			b.WriteString(" => ")
			writeFlat(b, p.Val)
		}
		b.WriteByte('}')
	default:
		panic("render: unknown Ruby value")
	}
}
