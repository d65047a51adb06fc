// Package layering holds only a test: the import rules between the stages of
// the code (docs/architecture.md, "Layers"). A package may import packages of
// its own stage or of lower ones, never of a higher one; the pure stages (model
// to pipeline) import no package that reaches the network, files or processes.
package layering
