package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
)

// Config is everything one nghttpx needs, split by how a change is applied.
type Config struct {
	// Main is the main configuration file. A change needs SIGHUP. It includes
	// BackendFile, so a reload or restart picks up the current backends.
	Main []byte
	// Backends holds the backend= lines, grouped by pattern (one cluster, or the
	// catch-all). A change is applied through the backend API, without a reload.
	Backends []BackendGroup
	// RouteTable is the routing table the router scripts load when RouteVersion
	// changes. A change is applied by rewriting the file: no reload, no API call.
	RouteTable []byte
	// RouteShards are the files of the route table in RouteShardDir by name
	// (shards.go): shards (<digest>.rb) and their list (<digest>.names), to be
	// written before RouteTable, which names the list. Names are digests of the
	// content: a file once written never changes.
	RouteShards map[string][]byte
	// Files are written before anything else, relative to the state directory:
	// mruby scripts, certificates, keys. Names are content-addressed where a change
	// must not affect a running process before it reloads (certificates, keys).
	Files map[string][]byte
	// Dropped lists what was left out (drop.go); empty when the translator's
	// validation and the renderer's agree, as they should.
	Dropped []Dropped
	// AccessLog is what the agent needs to read nghttpx's access log; nil when
	// none is rendered (accesslog.FormatOff). Its Routes are also in Files as
	// AccessLogRoutesFile.
	AccessLog *AccessLog
}

// AccessLog is the access log of a rendered configuration.
type AccessLog struct {
	// Format is what the agent writes on its stdout.
	Format accesslog.Format
	// File is where nghttpx writes accesslog.NghttpxFormat lines: by default the
	// FIFO AccessLogPipeFile, which the agent creates before nghttpx starts.
	File string
	// Routes name the Gateway API object behind each backend group pattern.
	Routes *accesslog.Routes
}

// BackendGroup is the backend= lines of one nghttpx pattern.
type BackendGroup struct {
	// Key is stable across renders (the cluster name plus a parameter profile), so an
	// applier can add new groups before routes use them and remove old ones after.
	Key   string
	Lines []string
}

// File names inside the state directory.
const (
	MainFile         = "nghttpx.conf"
	BackendFile      = "backends.conf"
	RouteTableFile   = "routes.rb"
	RouteVersionFile = "routes.version"
	// RouteGenFile is an 8-byte counter (little endian) the applier increments in
	// place after each route table write; with Features.MappedWord the programs
	// watch it through a shared mapping instead of reading RouteVersionFile.
	RouteGenFile = "routes.gen"
	// RouteShardDir holds the route table's shards (RouteShardFile).
	RouteShardDir = "routes.d"

	// RouterScriptFile is the global mruby program (mruby-file).
	RouterScriptFile = "router.rb"
	// RestoreScriptFile is the per-pattern program of every cluster group.
	RestoreScriptFile = "restore.rb"
	// FallbackScriptFile is the per-pattern program of the catch-all group.
	FallbackScriptFile = "fallback.rb"

	// AccessLogPipeFile is the default access log: a FIFO the agent reads.
	AccessLogPipeFile = "access.log.fifo"
	// AccessLogRoutesFile maps backend group patterns to route identities
	// (accesslog.Routes as JSON), for people and tools reading raw lines.
	AccessLogRoutesFile = "accesslog-routes.json"
)

// RouteShardFile is the path of RouteShards file name inside the state directory.
func RouteShardFile(name string) string { return RouteShardDir + "/" + name }

// RouteText is the head followed by each shard, in bucket order (empty ones
// left out), each after a comment with its file name: the whole route table
// for people and tests to read.
func (c *Config) RouteText() []byte {
	var b strings.Builder
	b.Write(c.RouteTable)
	var list []byte
	for n, body := range c.RouteShards {
		if strings.HasSuffix(n, ".names") {
			list = body
		}
	}
	for i := 0; i+shardNameLen <= len(list); i += shardNameLen {
		n := string(list[i:i+shardNameLen]) + ".rb"
		body := c.RouteShards[n]
		if bytes.HasSuffix(body, []byte("\n{}\n")) {
			continue
		}
		b.WriteString("# " + RouteShardFile(n) + "\n")
		b.Write(body)
	}
	return []byte(b.String())
}

// RouteVersion is the content of RouteVersionFile for this RouteTable: write it
// (atomically) after the table, and the routers reload on their next request.
func (c *Config) RouteVersion() []byte {
	sum := sha256.Sum256(c.RouteTable)
	return []byte(hex.EncodeToString(sum[:]) + "\n")
}

// BackendConf renders groups as the content of BackendFile, which is also the body
// of POST /api/v1beta1/backendconfig (nghttpx drops a last line without newline).
func BackendConf(groups []BackendGroup) []byte {
	var b strings.Builder
	for _, g := range groups {
		for _, l := range g.Lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}
