// Package standalone runs the data planes of every Gateway found in a directory of
// YAML files on this machine, without a cluster: the embedded default behind
// `nghttpx-gateway run` and `make run`.
//
// Contract: it watches the directory, rebuilds through the pure pipeline when a file
// changes (batched), applies each Gateway's configuration to its own nghttpx, and
// reports every object's status when it changes. A file that fails to decode is
// reported and the last good configuration keeps serving.
package standalone
