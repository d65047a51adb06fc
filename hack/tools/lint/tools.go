//go:build tools

// Package tools records the commands this module builds; it is never compiled.
package tools

import _ "honnef.co/go/tools/cmd/staticcheck"
