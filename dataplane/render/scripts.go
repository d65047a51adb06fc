package render

import (
	_ "embed"
	"strconv"
	"strings"
)

// The mruby programs are static; only a prelude of constants (the state directory,
// the ports the router must leave alone, the paths of the operator's and the users'
// script files) depends on Options and the model, so their content changes only when
// those do. User and operator scripts are never part of a program's text: each is
// written verbatim to its own file, which the program loads with eval, and its name
// is a digest of its content.

//go:embed scripts/router.rb
var routerBody string

//go:embed scripts/restore.rb
var restoreBody string

//go:embed scripts/scripted.rb
var scriptedBody string

//go:embed scripts/answered.rb
var answeredBody string

// tableBody (class NgxgwTable) reads the route table; every program that uses it
// carries it, as nghttpx loads each program on its own.
//
//go:embed scripts/table.rb
var tableBody string

//go:embed scripts/fallback.rb
var fallbackBody string

// mirrorBody (module NgxgwMirror) is the router's RequestMirror part.
//
//go:embed scripts/mirror.rb
var mirrorBody string

// corsBody (module NgxgwCORS) is shared by the router and restore.rb.
//
//go:embed scripts/cors.rb
var corsBody string

const scriptHeader = "# nghttpx-gateway mruby program. Generated; do not edit.\n"

// restoreApp instantiates the restore program (restore.rb holds only the class,
// which scripted.rb reuses).
const restoreApp = "\nNgxgwRestore.new(NGXGW_STATE_DIR)\n"

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
	// What the nghttpx binary offers (options.go Features).
	b.WriteString("NGXGW_DIRECT = " + strconv.FormatBool(opts.Features.BackendGroup) + "\n")
	b.WriteString("NGXGW_MAPPED = " + strconv.FormatBool(opts.Features.MappedWord) + "\n")
	return b.String()
}

// routerScript is router.rb: the prelude names the operator's script file, or nil.
func routerScript(opts Options) []byte {
	var b strings.Builder
	b.WriteString(scriptPrelude(opts))
	// RequestMirror (mirror.go): the internal frontend's port, or nil.
	b.WriteString("NGXGW_INTERNAL_PORT = ")
	if opts.mirrorEnabled() {
		b.WriteString(strconv.Itoa(opts.MirrorInternalPort))
	} else {
		b.WriteString("nil")
	}
	b.WriteString("\nNGXGW_TEE_KEY = ")
	rubyString(&b, MirrorTeeKey)
	b.WriteString("\n")
	b.WriteString("NGXGW_OPERATOR_SCRIPT = ")
	if opts.GlobalMruby != "" {
		rubyString(&b, opts.StateDir+"/"+operatorScriptFile(opts.GlobalMruby))
	} else {
		b.WriteString("nil")
	}
	b.WriteString("\n")
	b.WriteString(answeredBody)
	b.WriteString(tableBody)
	b.WriteString(corsBody)
	b.WriteString(mirrorBody)
	b.WriteString(routerBody)
	return []byte(b.String())
}

// userScript is one rule's script as the model carries it, with the two files that
// run it: the source verbatim and the per-pattern program that loads it.
type userScript struct {
	source string
	dnf    bool
}

// files returns the names of the source file and of the program (backend mruby=).
func (s userScript) files(opts Options) (src, program string, body []byte) {
	src = "user-" + shortHash([]byte(s.source)) + ".rb"
	var b strings.Builder
	b.WriteString(scriptPrelude(opts))
	b.WriteString("NGXGW_USER_SCRIPT = ")
	rubyString(&b, opts.StateDir+"/"+src)
	b.WriteString("\nNGXGW_DNF = " + strconv.FormatBool(s.dnf) + "\n")
	b.WriteString(answeredBody)
	b.WriteString(tableBody)
	b.WriteString(corsBody)
	b.WriteString(restoreBody)
	b.WriteString(scriptedBody)
	body = []byte(b.String())
	return src, "scripted-" + shortHash(body) + ".rb", body
}

// operatorScriptFile names the operator's global script by its content.
func operatorScriptFile(src string) string {
	return "operator-" + shortHash([]byte(src)) + ".rb"
}

func scripts(opts Options, users map[userScript]bool, files map[string][]byte) {
	pre := scriptPrelude(opts)
	files[RouterScriptFile] = routerScript(opts)
	files[RestoreScriptFile] = []byte(pre + tableBody + corsBody + restoreBody + restoreApp)
	files[FallbackScriptFile] = []byte(scriptHeader + fallbackBody)
	if opts.GlobalMruby != "" {
		files[operatorScriptFile(opts.GlobalMruby)] = []byte(opts.GlobalMruby)
	}
	for s := range users {
		src, prog, body := s.files(opts)
		files[src] = []byte(s.source)
		files[prog] = body
	}
}
