package render

import (
	"fmt"

	"github.com/nghttpx-gateway/nghttpx-gateway/gateway/model"
)

// Render turns one Gateway's model into nghttpx files. It is pure: same input, same
// bytes. It refuses (with an error naming the element) anything it cannot write
// safely, even though the gateway translator should have rejected it first.
func Render(gw *model.Gateway, opts Options) (*Config, error) {
	if gw == nil {
		return nil, fmt.Errorf("render: nil gateway")
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("render: options: %w", err)
	}
	files := map[string][]byte{}
	certs, err := certificates(gw, files, opts)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if err := clientCAs(gw, files, opts); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	if err := backendTLSFiles(gw, files, opts); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	tb, err := newTableBuilder(gw, opts)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
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
	return &Config{Main: main, Backends: groups, RouteTable: table, Files: files}, nil
}
