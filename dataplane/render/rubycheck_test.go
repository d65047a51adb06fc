package render

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// rubyChecker parses exactly the literal grammar the renderer emits and nothing else:
//
//	file   = { "#" safe* "\n" } value "\n"
//	value  = hash | array | chunks | string | int | symbol | "true" | "false"
//	chunks = "(" chunk { "+" chunk } ")"          chunk = "lambda" "{" array "}" ".call"
//	hash   = "{" [ pair { "," pair } [","] ] "}"      pair = (symbol|string|int) "=>" value
//	array  = "[" [ value { "," value } [","] ] "]"
//	string = '"' { safe | "\x" hex hex } '"'          symbol = ":" [a-z_]+
//
// with spaces and newlines between tokens. A file it accepts cannot contain code,
// interpolation or a string that escapes its quotes.
type rubyChecker struct {
	s   []byte
	pos int
}

// rbPairVal and the other decoded forms keep order so tests can compare content.
type decodedPair struct {
	Key, Val any
}

type decodedSym string

func checkRouteTable(b []byte) error {
	_, err := parseRouteTable(b)
	return err
}

func parseRouteTable(b []byte) (any, error) {
	c := &rubyChecker{s: b}
	for c.pos < len(c.s) && c.s[c.pos] == '#' {
		for c.pos++; c.pos < len(c.s) && c.s[c.pos] != '\n'; c.pos++ {
			if !rubySafe(c.s[c.pos]) && c.s[c.pos] != ',' && c.s[c.pos] != ';' {
				return nil, c.errf("byte %q in a comment", c.s[c.pos])
			}
		}
		if !c.eat('\n') {
			return nil, c.errf("unterminated comment")
		}
	}
	v, err := c.value()
	if err != nil {
		return nil, err
	}
	if !c.eat('\n') || c.pos != len(c.s) {
		return nil, c.errf("trailing bytes after the literal")
	}
	return v, nil
}

func (c *rubyChecker) errf(format string, args ...any) error {
	return fmt.Errorf("offset %d: %s", c.pos, fmt.Sprintf(format, args...))
}

func (c *rubyChecker) eat(b byte) bool {
	if c.pos < len(c.s) && c.s[c.pos] == b {
		c.pos++
		return true
	}
	return false
}

func (c *rubyChecker) ws() {
	for c.pos < len(c.s) && (c.s[c.pos] == ' ' || c.s[c.pos] == '\n') {
		c.pos++
	}
}

func (c *rubyChecker) value() (any, error) {
	c.ws()
	if c.pos >= len(c.s) {
		return nil, c.errf("unexpected end")
	}
	switch b := c.s[c.pos]; {
	case b == '{':
		return c.container('}', true)
	case b == '[':
		return c.container(']', false)
	case b == '(':
		return c.chunks()
	case b == '"':
		return c.str()
	case b == ':':
		return c.sym()
	case b == '-' || b >= '0' && b <= '9':
		return c.int()
	}
	for _, w := range []string{"true", "false"} {
		if c.word(w) {
			return w == "true", nil
		}
	}
	return nil, c.errf("unexpected byte %q", c.s[c.pos])
}

func (c *rubyChecker) container(end byte, hash bool) (any, error) {
	c.pos++
	var pairs []decodedPair
	var elems []any
	for {
		c.ws()
		if c.eat(end) {
			break
		}
		if hash {
			k, err := c.value()
			if err != nil {
				return nil, err
			}
			switch k.(type) {
			case string, decodedSym, int64:
			default:
				return nil, c.errf("hash key of type %T", k)
			}
			c.ws()
			if !c.eat('=') || !c.eat('>') {
				return nil, c.errf("expected =>")
			}
			v, err := c.value()
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, decodedPair{k, v})
		} else {
			v, err := c.value()
			if err != nil {
				return nil, err
			}
			elems = append(elems, v)
		}
		c.ws()
		if c.eat(',') {
			continue
		}
		if c.eat(end) {
			break
		}
		return nil, c.errf("expected , or %q", end)
	}
	if hash {
		return pairs, nil
	}
	return elems, nil
}

// chunks parses a long array written as a sum of lambda-wrapped pieces.
func (c *rubyChecker) chunks() (any, error) {
	c.pos++
	var out []any
	for {
		c.ws()
		if !c.word("lambda") {
			return nil, c.errf("expected lambda")
		}
		c.ws()
		if !c.eat('{') {
			return nil, c.errf("expected {")
		}
		c.ws()
		if c.pos >= len(c.s) || c.s[c.pos] != '[' {
			return nil, c.errf("a chunk holds an array")
		}
		v, err := c.container(']', false)
		if err != nil {
			return nil, err
		}
		out = append(out, v.([]any)...)
		c.ws()
		if !c.eat('}') || !c.word(".call") {
			return nil, c.errf("expected } .call")
		}
		// Ruby ends a statement at a newline inside (): "+" must come first.
		for c.eat(' ') {
		}
		if c.eat('+') {
			continue
		}
		c.ws()
		if !c.eat(')') {
			return nil, c.errf("expected + (before the line ends) or )")
		}
		return out, nil
	}
}

func (c *rubyChecker) word(w string) bool {
	if c.pos+len(w) <= len(c.s) && string(c.s[c.pos:c.pos+len(w)]) == w {
		c.pos += len(w)
		return true
	}
	return false
}

func (c *rubyChecker) str() (any, error) {
	c.pos++
	var out []byte
	for {
		if c.pos >= len(c.s) {
			return nil, c.errf("unterminated string")
		}
		b := c.s[c.pos]
		switch {
		case b == '"':
			c.pos++
			return string(out), nil
		case b == '\\':
			if c.pos+4 > len(c.s) || c.s[c.pos+1] != 'x' {
				return nil, c.errf("escape other than \\xHH")
			}
			v, err := strconv.ParseUint(string(c.s[c.pos+2:c.pos+4]), 16, 8)
			if err != nil || !isLowerHex(c.s[c.pos+2]) || !isLowerHex(c.s[c.pos+3]) {
				return nil, c.errf("bad \\x escape")
			}
			if rubySafe(byte(v)) {
				return nil, c.errf("needless escape of %q", byte(v))
			}
			out = append(out, byte(v))
			c.pos += 4
		case rubySafe(b):
			out = append(out, b)
			c.pos++
		default:
			return nil, c.errf("unescaped byte %q in a string", b)
		}
	}
}

func isLowerHex(b byte) bool { return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' }

func (c *rubyChecker) sym() (any, error) {
	c.pos++
	start := c.pos
	for c.pos < len(c.s) && (c.s[c.pos] >= 'a' && c.s[c.pos] <= 'z' || c.s[c.pos] == '_') {
		c.pos++
	}
	if c.pos == start {
		return nil, c.errf("empty symbol")
	}
	return decodedSym(c.s[start:c.pos]), nil
}

func (c *rubyChecker) int() (any, error) {
	start := c.pos
	c.eat('-')
	digits := c.pos
	for c.pos < len(c.s) && c.s[c.pos] >= '0' && c.s[c.pos] <= '9' {
		c.pos++
	}
	if c.pos == digits {
		return nil, c.errf("bad integer")
	}
	n, err := strconv.ParseInt(string(c.s[start:c.pos]), 10, 64)
	if err != nil {
		return nil, c.errf("bad integer: %v", err)
	}
	return n, nil
}

func TestRubyCheckerRejects(t *testing.T) {
	for _, bad := range []string{
		`{:a => "x#{1}"}` + "\n",
		`{:a => "x\"}` + "\n",
		`{:a => "x\n"}` + "\n",
		`{:a => "` + "\n" + `"}` + "\n",
		`{:a => 'x'}` + "\n",
		`{:a => "\x2f"}` + "\n", // needless escape: we always write '/' plainly
		`{:a => ` + "`id`}\n",
		`{:a => nil}` + "\n",
		`{:a => 1}; system("x")` + "\n",
		`{:A => 1}` + "\n",
		`{[1] => 1}` + "\n",
		`{:a => 1}`, // no final newline
		`{:a => (lambda { system("x") }.call)}` + "\n",
		`{:a => (lambda { [1] }.call - lambda { [2] }.call)}` + "\n",
		`{:a => (lambda { [1] }.call + lambda { [2] }.call.x)}` + "\n",
		`{:a => (lambda { {} }.call)}` + "\n",
		"{:a => (lambda { [1] }.call\n+ lambda { [2] }.call)}\n",
	} {
		if err := checkRouteTable([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	good := "# c\n{:a => [1, -2, \"x\\x0a\", :b, true], \"k\" => {}, 3 => [],\n}\n"
	v, err := parseRouteTable([]byte(good))
	if err != nil {
		t.Fatalf("rejected %q: %v", good, err)
	}
	if got := v.([]decodedPair)[0].Val.([]any)[2]; got != "x\n" {
		t.Errorf("decoded %q, want %q", got, "x\n")
	}
}

func TestRubyStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain /a.b_c:d-e", "#{x}", "\"\\\n\r\x00\xff", "ünï"} {
		var b rbHash
		b.add("s", rbStr(s))
		got, err := parseRouteTable([]byte(flatRuby(b) + "\n"))
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if d := got.([]decodedPair)[0].Val; d != s {
			t.Errorf("round trip %q -> %q", s, d)
		}
	}
}

// Long arrays are written in chunks and read back whole, in order.
func TestRubyChunkedArray(t *testing.T) {
	for _, n := range []int{chunkSize, chunkSize + 1, 3*chunkSize + 5} {
		arr := rbArr{}
		for i := range n {
			arr = append(arr, rbArr{rbInt(i), rbStr(fmt.Sprintf("s%d", i))})
		}
		var h rbHash
		h.add("a", arr)
		for name, text := range map[string]string{"flat": flatRuby(h) + "\n", "pretty": prettyRuby(h)} {
			v, err := parseRouteTable([]byte(text))
			if err != nil {
				t.Fatalf("%d %s: %v\n%s", n, name, err, text)
			}
			got := v.([]decodedPair)[0].Val.([]any)
			if len(got) != n {
				t.Fatalf("%d %s: read %d elements", n, name, len(got))
			}
			for i, e := range got {
				if e.([]any)[1] != fmt.Sprintf("s%d", i) {
					t.Fatalf("%d %s: element %d is %v", n, name, i, e)
				}
			}
			if chunked := strings.Contains(text, "lambda"); chunked != (n > chunkSize) {
				t.Errorf("%d %s: chunked=%v", n, name, chunked)
			}
		}
	}
}

func prettyRuby(v rbValue) string {
	var b strings.Builder
	writeRuby(&b, v, 0)
	b.WriteByte('\n')
	return b.String()
}
