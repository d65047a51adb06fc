package render

import (
	_ "embed"
	"strconv"
	"strings"
)

// The mruby programs are static; only a prelude of constants (the state directory
// and the ports the router must leave alone) depends on Options, so their content
// changes only when the options do.

//go:embed scripts/router.rb
var routerBody string

//go:embed scripts/restore.rb
var restoreBody string

//go:embed scripts/fallback.rb
var fallbackBody string

const scriptHeader = "# nghttpx-gateway mruby program. Generated; do not edit.\n"

func scriptPrelude(opts Options) string {
	var b strings.Builder
	b.WriteString(scriptHeader)
	b.WriteString("NGXGW_STATE_DIR = ")
	rubyString(&b, opts.StateDir)
	b.WriteString("\nNGXGW_PASS_PORTS = [")
	b.WriteString(strconv.Itoa(opts.APIPort))
	if opts.HealthPort != 0 {
		b.WriteString(", ")
		b.WriteString(strconv.Itoa(opts.HealthPort))
	}
	b.WriteString("]\n")
	return b.String()
}

func scripts(opts Options, files map[string][]byte) {
	pre := scriptPrelude(opts)
	files[RouterScriptFile] = []byte(pre + routerBody)
	files[RestoreScriptFile] = []byte(pre + restoreBody)
	files[FallbackScriptFile] = []byte(scriptHeader + fallbackBody)
}
