package render

import (
	"slices"
	"strings"
)

// The route table is split so that a change to one route costs each worker a
// small load instead of the whole table. Exact-host virtual hosts, which are
// what large configurations consist of, go to shard files: the host's bucket
// (hostBucket, a hash table.rb computes the same way) names one of
// RouteShardCount files, each a Ruby literal mapping host to its entries.
// routes.rb (the head) keeps everything else (ports, listeners, wildcard and
// any-host virtual hosts, the :resp and :cors lists) and the name of the
// shard list, a file of fixed-width shard names in bucket order that the router
// reads without evaluating it (a long literal costs more to parse). Shard names
// are digests of their content, so a worker reloading the head keeps every
// shard whose name did not change and loads the others on the first request for
// one of their hosts.

// shardHosts is about how many exact hosts a shard holds: few enough that
// loading one costs well under a millisecond.
const shardHosts = 8

// maxShards bounds the number of shard files (and the head's name list).
const maxShards = 4096

// shardNameLen is the width of a shard name in the head's :shards string.
const shardNameLen = 16

// routeShardHeader starts each shard file; it holds no user data.
const routeShardHeader = "# nghttpx-gateway route table shard, read by router.rb. Generated; do not edit.\n"

// renderedVHost is one virtual host of a listener with its rendered rules.
type renderedVHost struct {
	host  string
	rules rbArr
}

func (v renderedVHost) exact() bool { return v.host != "" && !strings.HasPrefix(v.host, "*.") }

// exactEntry is what an exact host tries on one listener: rules, then (rest)
// the rules the head's index gives any host without an exact entry, which are
// the listener's matching wildcard and any-host virtual hosts in table order.
type exactEntry struct {
	port  int32
	li    int
	rest  bool
	rules rbArr
}

// shardVHosts records the exact hosts of listener li on port as shard entries
// and reports whether there were any. The router tries a virtual host's rules
// in table order across every virtual host that matches the request's host
// (router.rb index); an exact host's own rules usually all come before the
// wildcard and any-host ones it also matches, so its entry holds only its own
// rules and continues with the head's; otherwise it holds the whole merged list.
func (tb *tableBuilder) shardVHosts(port int32, li int, vhs []renderedVHost) bool {
	ids := map[string][]int{}
	var order []string
	for i, vh := range vhs {
		if !vh.exact() {
			continue
		}
		if _, ok := ids[vh.host]; !ok {
			order = append(order, vh.host)
		}
		ids[vh.host] = append(ids[vh.host], i)
	}
	for _, h := range order {
		own := ids[h]
		var others []int
		for i, vh := range vhs {
			switch {
			case vh.host == "":
				others = append(others, i)
			case !vh.exact():
				s := vh.host[1:] // ".example.com"
				if len(h) > len(s) && strings.HasSuffix(h, s) {
					others = append(others, i)
				}
			}
		}
		e := exactEntry{port: port, li: li, rest: true}
		list := own
		if len(others) > 0 && others[0] < own[len(own)-1] {
			e.rest = false
			list = append(slices.Clone(own), others...)
			slices.Sort(list)
		}
		for _, i := range list {
			e.rules = append(e.rules, vhs[i].rules...)
		}
		if e.rules == nil {
			e.rules = rbArr{}
		}
		tb.exact[h] = append(tb.exact[h], e)
	}
	return len(order) > 0
}

// hostBucket is FNV-1a (32 bits) of host, masked to n buckets (a power of two);
// table.rb's NgxgwTable.bucket is the same function.
func hostBucket(host string, n int) int {
	x := uint32(2166136261)
	for i := 0; i < len(host); i++ {
		x ^= uint32(host[i])
		x *= 16777619
	}
	return int(x & uint32(n-1))
}

// shardCount is the number of buckets for hosts exact hosts: a power of two.
func shardCount(hosts int) int {
	n := 1
	for n*shardHosts < hosts && n < maxShards {
		n *= 2
	}
	return n
}

// shards renders the shard files and adds :buckets and :shards to the head;
// without exact hosts there are none (:buckets 0).
func (tb *tableBuilder) shards(top *rbHash) {
	tb.shardFiles = map[string][]byte{}
	hosts := make([]string, 0, len(tb.exact))
	for h := range tb.exact {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	n := 0
	if len(hosts) > 0 {
		n = shardCount(len(hosts))
	}
	buckets := make([]rbHash, n)
	for _, h := range hosts {
		es := rbArr{}
		for _, e := range tb.exact[h] {
			es = append(es, rbArr{rbInt(e.port), rbInt(e.li), rbBool(e.rest), e.rules})
		}
		b := hostBucket(h, n)
		buckets[b] = append(buckets[b], rbPair{rbStr(h), es})
	}
	if n == 0 {
		top.add("buckets", rbInt(0))
		top.add("shards", rbStr(""))
		return
	}
	var names strings.Builder
	for _, sh := range buckets {
		var b strings.Builder
		b.WriteString(routeShardHeader)
		if sh == nil {
			sh = rbHash{}
		}
		writeRuby(&b, sh, 0)
		b.WriteByte('\n')
		body := []byte(b.String())
		name := shortHash(body)
		tb.shardFiles[name+".rb"] = body
		names.WriteString(name)
	}
	list := []byte(names.String())
	file := shortHash(list) + ".names"
	tb.shardFiles[file] = list
	top.add("buckets", rbInt(n))
	top.add("shards", rbStr(file))
}
