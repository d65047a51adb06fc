// Package model holds the resolved, proxy-neutral model that the translator (gateway/translate)
// produces and the dataplane consumes: per Gateway, its ports, listeners, virtual hosts,
// ordered route rules and backend clusters with endpoint addresses and TLS material.
//
// Contract: plain data, no behaviour beyond small helpers. Every element carries the
// object it came from (Source) so a rejection can be reported on the right object.
// Slices are sorted deterministically; names are derived from object keys so that
// rendered output is stable and diffs stay small.
package model
