// Command localcluster runs the e2e local cluster (package e2e/cluster) outside
// tests, for people and for `make cluster`: "up" starts it detached and prints the
// kubeconfig path last, "down" stops it and removes every leftover, "exec" runs a
// command inside the cluster network namespace with KUBECONFIG set. Needs root.
package main
