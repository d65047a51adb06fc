package translate

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

func TestSortRules(t *testing.T) {
	route := func(ns, name string, created time.Time) *routeState {
		r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(created)}}
		return &routeState{in: r, sortKey: ns + "/" + name}
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	old, newer := route("ns", "z-old", t0), route("ns", "a-new", t0.Add(time.Hour))
	// Same age: "a-b/x" sorts before "a/x" as the string "namespace/name".
	dashNS, plainNS := route("a-b", "x", t0.Add(time.Hour)), route("a", "x", t0.Add(time.Hour))

	prefix := func(v string) model.Match {
		return model.Match{Path: model.PathMatch{Type: model.PathPrefix, Value: v}}
	}
	exact := func(v string) model.Match { return model.Match{Path: model.PathMatch{Type: model.PathExact, Value: v}} }
	nv := func(n int) []model.NameValue { return make([]model.NameValue, n) }

	type in struct {
		name  string
		rs    *routeState
		m     model.Match
		rule  int
		match int
	}
	// Listed in the expected order; the test sorts a shuffled copy.
	want := []in{
		{"exact-long", newer, exact("/abc/def"), 0, 0},
		{"exact", newer, exact("/abc"), 0, 1},
		{"prefix-long", newer, prefix("/abc/def"), 0, 2},
		{"method", newer, model.Match{Path: prefix("/abc").Path, Method: "GET"}, 0, 3},
		{"two-headers", newer, model.Match{Path: prefix("/abc").Path, Headers: nv(2)}, 0, 4},
		{"one-header-two-queries", newer, model.Match{Path: prefix("/abc").Path, Headers: nv(1), QueryParams: nv(2)}, 0, 5},
		{"one-header-one-query", newer, model.Match{Path: prefix("/abc").Path, Headers: nv(1), QueryParams: nv(1)}, 0, 6},
		{"older-route", old, prefix("/abc"), 3, 0},
		{"dash-namespace", dashNS, prefix("/abc"), 0, 0},
		{"plain-namespace", plainNS, prefix("/abc"), 0, 0},
		{"newer-rule-1-match-0", newer, prefix("/abc"), 1, 0},
		{"newer-rule-1-match-1", newer, prefix("/abc"), 1, 1},
		{"newer-rule-2", newer, prefix("/abc"), 2, 0},
		{"root", old, prefix("/"), 0, 0},
	}
	var rs []rankedRule
	for _, w := range slices.Backward(want) {
		rs = append(rs, rankedRule{rule: &model.Rule{Name: w.name, Match: w.m}, route: w.rs, ruleIndex: w.rule, matchIndex: w.match})
	}
	// Interleave to make sure the result does not depend on the input order.
	rs = append(rs[len(rs)/2:], rs[:len(rs)/2]...)
	sortRules(rs)
	for i, r := range rs {
		if r.rule.Name != want[i].name {
			var got, names []string
			for _, r := range rs {
				got = append(got, r.rule.Name)
			}
			for _, w := range want {
				names = append(names, w.name)
			}
			t.Fatalf("sorted order:\n%q\nwant:\n%q", got, names)
		}
	}
}
