package render

import (
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
)

// hostBucket is FNV-1a 32 masked; table.rb's NgxgwTable.bucket computes the same
// (the live tests and the bench look hosts up through it with 1,024 buckets).
func TestHostBucketIsFNV1a(t *testing.T) {
	for _, h := range []string{"", "a", "host-0.example", "host-4999.example", "xn--bcher-kva.example"} {
		f := fnv.New32a()
		f.Write([]byte(h))
		for _, n := range []int{1, 16, 1024} {
			if got, want := hostBucket(h, n), int(f.Sum32()&uint32(n-1)); got != want {
				t.Errorf("hostBucket(%q, %d) = %d, want %d", h, n, got, want)
			}
		}
	}
	if shardCount(0) != 1 || shardCount(8) != 1 || shardCount(9) != 2 || shardCount(5000) != 1024 || shardCount(1<<20) != maxShards {
		t.Errorf("shard counts %d %d %d %d %d", shardCount(0), shardCount(8), shardCount(9), shardCount(5000), shardCount(1<<20))
	}
}

// An exact host's entry holds its own rules and continues with the head's
// (wildcard, then any-host) when those come after it in table order, as the
// translator orders them; otherwise it holds the merged list in table order and
// ends there, which is what the router's index did with one table.
func TestShardEntries(t *testing.T) {
	vh := func(host string) renderedVHost {
		return renderedVHost{host: host, rules: rbArr{rbStr("rule of " + host)}}
	}
	cases := []struct {
		name string
		vhs  []renderedVHost
		rest bool
		want string
	}{
		{"precedence order", []renderedVHost{vh("a.example.com"), vh("*.example.com"), vh("")}, true, `["rule of a.example.com"]`},
		{"wildcard first", []renderedVHost{vh("*.example.com"), vh("a.example.com"), vh("")}, false,
			`["rule of \x2a.example.com", "rule of a.example.com", "rule of "]`},
		{"non-matching wildcard first", []renderedVHost{vh("*.other.com"), vh("a.example.com"), vh("")}, true, `["rule of a.example.com"]`},
		{"a wildcard needs a label in front", []renderedVHost{vh("*.a.example.com"), vh("a.example.com")}, true, `["rule of a.example.com"]`},
		{"same host twice", []renderedVHost{vh("a.example.com"), vh(""), vh("a.example.com")}, false,
			`["rule of a.example.com", "rule of ", "rule of a.example.com"]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := &tableBuilder{exact: map[string][]exactEntry{}}
			if !tb.shardVHosts(80, 2, c.vhs) {
				t.Fatal("no exact host")
			}
			es := tb.exact["a.example.com"]
			if len(es) != 1 {
				t.Fatalf("%d entries", len(es))
			}
			e := es[0]
			if e.port != 80 || e.li != 2 || e.rest != c.rest || flatRuby(e.rules) != c.want {
				t.Errorf("entry %d/%d rest %v %s, want rest %v %s", e.port, e.li, e.rest, flatRuby(e.rules), c.rest, c.want)
			}
		})
	}
	// Every exact host lands in the shard of its bucket, and the list names
	// each bucket's shard.
	tb := &tableBuilder{exact: map[string][]exactEntry{}}
	var vhs []renderedVHost
	for i := range 40 {
		vhs = append(vhs, vh(fmt.Sprintf("h%d.example", i)))
	}
	tb.shardVHosts(80, 0, vhs)
	top := rbHash{}
	tb.shards(&top)
	cfg := &Config{RouteTable: []byte(flatRuby(top)), RouteShards: tb.shardFiles}
	text := string(cfg.RouteText())
	for i := range 40 {
		if want := fmt.Sprintf(`"h%d.example" => [[80, 0, true, ["rule of h%d.example"]]]`, i, i); !strings.Contains(text, want) {
			t.Errorf("route text lacks %s:\n%s", want, text)
		}
	}
	if got := len(tb.shardFiles); got != 8+1 {
		t.Errorf("%d shard files for 40 hosts, want 8 (none empty) and the list", got)
	}
}
