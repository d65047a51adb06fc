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
	main, err := mainConfig(gw, certs, opts)
	if err != nil {
		return nil, fmt.Errorf("render: main configuration: %w", err)
	}
	tb, err := newTableBuilder(gw, opts)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	table, err := tb.table(gw)
	if err != nil {
		return nil, fmt.Errorf("render: route table: %w", err)
	}
	groups, err := backendGroups(tb.groups, opts)
	if err != nil {
		return nil, fmt.Errorf("render: backends: %w", err)
	}
	scripts(opts, tb.users, files)
	return &Config{Main: main, Backends: groups, RouteTable: table, Files: files}, nil
}
