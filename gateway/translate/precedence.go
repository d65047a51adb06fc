package translate

import (
	"cmp"
	"slices"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// rankedRule is a model rule with what Gateway API precedence needs to order it.
type rankedRule struct {
	rule  *model.Rule
	route *routeState
	// ruleIndex and matchIndex locate the match inside its route.
	ruleIndex, matchIndex int
}

// compareRules orders rules within one virtual host by HTTPRoute precedence:
// Exact path before PathPrefix, longer prefix first, method match, more header
// matches, more query matches, then the older route, then the route first in
// "namespace/name" order, then rule order, then match order.
func compareRules(a, b rankedRule) int {
	ma, mb := &a.rule.Match, &b.rule.Match
	pathRank := func(m *model.Match) int {
		if m.Path.Type == model.PathExact {
			return 0
		}
		return 1
	}
	if c := cmp.Compare(pathRank(ma), pathRank(mb)); c != 0 {
		return c
	}
	if c := cmp.Compare(len(mb.Path.Value), len(ma.Path.Value)); c != 0 {
		return c
	}
	hasMethod := func(m *model.Match) int {
		if m.Method != "" {
			return 0
		}
		return 1
	}
	if c := cmp.Compare(hasMethod(ma), hasMethod(mb)); c != 0 {
		return c
	}
	if c := cmp.Compare(len(mb.Headers), len(ma.Headers)); c != 0 {
		return c
	}
	if c := cmp.Compare(len(mb.QueryParams), len(ma.QueryParams)); c != 0 {
		return c
	}
	if a.route != b.route {
		ta, tb := a.route.in.CreationTimestamp, b.route.in.CreationTimestamp
		if !ta.Equal(&tb) {
			if ta.Before(&tb) {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.route.sortKey, b.route.sortKey); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.ruleIndex, b.ruleIndex); c != 0 {
		return c
	}
	return cmp.Compare(a.matchIndex, b.matchIndex)
}

func sortRules(rs []rankedRule) { slices.SortStableFunc(rs, compareRules) }
