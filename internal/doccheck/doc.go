// Package doccheck holds only tests that keep the user documentation honest:
// every example under docs/examples and examples/quickstart (what `make run` serves) translates with all its objects accepted
// (the same pipeline `nghttpx-gateway translate` runs), and every relative link
// in README.md and docs/ names a file that exists. A doc example that stops
// working fails here, not in a user's cluster.
package doccheck
