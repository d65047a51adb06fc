package render

import (
	"fmt"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// Render turns one Gateway's model into nghttpx files. It is pure: same input, same
// bytes. A port, listener, virtual host, rule or backend TLS policy it cannot write
// safely (the gateway translator rejects those first) is left out and listed in
// Config.Dropped; only invalid Options or a broken model invariant (a certificate
// or cluster named twice, say) fail the whole Gateway.
func Render(gw *model.Gateway, opts Options) (*Config, error) {
	if gw == nil {
		return nil, fmt.Errorf("render: nil gateway")
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("render: options: %w", err)
	}
	gw, dropped := usablePorts(gw, opts)
	files := map[string][]byte{}
	certs, err := certificates(gw, files, opts)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if err := clientCAs(gw, files, opts); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	badTLS, err := backendTLSFiles(gw, files, opts)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	tb, err := newTableBuilder(gw, opts)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	tb.dropped = dropped
	for name, d := range badTLS {
		tb.badTLS[name] = true
		tb.dropped = append(tb.dropped, d)
	}
	table, err := tb.table(gw)
	if err != nil {
		return nil, fmt.Errorf("render: route table: %w", err)
	}
	// The internal frontend and the tee's group exist only while a rule mirrors.
	main, err := mainConfig(gw, certs, opts, tb.mirrorUsed)
	if err != nil {
		return nil, fmt.Errorf("render: main configuration: %w", err)
	}
	groups, err := backendGroups(tb.groups, opts)
	if err != nil {
		return nil, fmt.Errorf("render: backends: %w", err)
	}
	if tb.mirrorUsed {
		// Before the catch-all, which stays last.
		groups = append(groups[:len(groups)-1:len(groups)-1], teeGroup(opts), groups[len(groups)-1])
	}
	scripts(opts, tb.users, files)
	sortDropped(tb.dropped)
	cfg := &Config{Main: main, Backends: groups, RouteTable: table, RouteShards: tb.shardFiles, Files: files, Dropped: tb.dropped}
	if opts.AccessLog != accesslog.FormatOff {
		routes := tb.routes(gw)
		files[AccessLogRoutesFile] = routes.Marshal()
		cfg.AccessLog = &AccessLog{Format: opts.AccessLog, File: opts.AccessLogFile, Routes: routes}
	}
	return cfg, nil
}
