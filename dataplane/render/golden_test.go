package render

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/nghttpx-gateway/nghttpx-gateway/dataplane/accesslog"
	"github.com/nghttpx-gateway/nghttpx-gateway/internal/golden"
	"github.com/nghttpx-gateway/nghttpx-gateway/model"
)

// goldenCase is the YAML input of one golden test: the model plus what the model
// keeps out of YAML (PEM material, as files under testdata) and option overrides.
type goldenCase struct {
	Options      *goldenOptions             `json:"options,omitempty"`
	Certificates map[string]goldenCertFiles `json:"certificates,omitempty"`
	// ClientCAs are the PEM files of the ports' client CA bundles, by port.
	ClientCAs map[int32]string `json:"clientCAs,omitempty"`
	// BackendCAs are the PEM files of the clusters' BackendTLSPolicy CA bundles,
	// by cluster name; BackendClientCertificate the Gateway's backend client
	// certificate.
	BackendCAs               map[string]string `json:"backendCAs,omitempty"`
	BackendClientCertificate *goldenCertFiles  `json:"backendClientCertificate,omitempty"`
	Gateway                  model.Gateway     `json:"gateway"`
}

type goldenCertFiles struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	OCSP string `json:"ocsp,omitempty"` // literal bytes, enough for rendering
}

type goldenOptions struct {
	Workers      int  `json:"workers,omitempty"`
	HealthPort   int  `json:"healthPort,omitempty"`
	HTTP3        bool `json:"http3,omitempty"`
	QUIC         bool `json:"quic,omitempty"`
	BPF          bool `json:"bpf,omitempty"`
	OCSP         bool `json:"ocsp,omitempty"`
	ClientVerify bool `json:"clientVerify,omitempty"`
	// BackendTLSVerify: the binary has tls-ca=/tls-san= (our patch).
	BackendTLSVerify bool   `json:"backendTLSVerify,omitempty"`
	AccessLogFile    string `json:"accessLogFile,omitempty"`
	// AccessLog is the access log format (json, nghttpx, off).
	AccessLog     string `json:"accessLog,omitempty"`
	GraceSeconds  int    `json:"graceSeconds,omitempty"`
	AllowMruby    bool   `json:"allowMruby,omitempty"`
	ProxyProtocol bool   `json:"proxyProtocol,omitempty"`
	// QUICRequireToken: QUIC address validation (class parameter quicRequireToken).
	QUICRequireToken bool `json:"quicRequireToken,omitempty"`
	// ExtraConfig is the operator's nghttpx-conf text; the lines ParseExtraConfig
	// keeps become Options.ExtraConfig.
	ExtraConfig string `json:"extraConfig,omitempty"`
	GlobalMruby string `json:"globalMruby,omitempty"`
	// TLSTicketKeyFiles become Options.TLSTicketKeyFiles as they are.
	TLSTicketKeyFiles []string `json:"tlsTicketKeyFiles,omitempty"`
	// Mirror sets the mirror tee and internal ports (15001, 15002).
	Mirror bool `json:"mirror,omitempty"`

	// StatusRetry: the binary re-sends on a listed backend status (our patch).
	StatusRetry bool `json:"statusRetry,omitempty"`
	// PathSteering: the binary lacks the backend group and mapped word patches
	// (every case but these has both, as make nghttpx builds it).
	PathSteering bool `json:"pathSteering,omitempty"`
}

const testStateDir = "/var/lib/ngxgw/gw"

func baseOptions() Options {
	return Options{StateDir: testStateDir, APIPort: 15000}
}

func loadGolden(t *testing.T, path string) (*model.Gateway, Options) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c goldenCase
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	gw := c.Gateway
	for i := range gw.Certificates {
		cert := &gw.Certificates[i]
		f, ok := c.Certificates[cert.Name]
		if !ok {
			t.Fatalf("%s: no PEM files for certificate %q", path, cert.Name)
		}
		if cert.CertPEM, err = os.ReadFile(filepath.Join("testdata", f.Cert)); err != nil {
			t.Fatal(err)
		}
		if cert.KeyPEM, err = os.ReadFile(filepath.Join("testdata", f.Key)); err != nil {
			t.Fatal(err)
		}
		cert.OCSPResponse = []byte(f.OCSP)
	}
	for i := range gw.Ports {
		p := &gw.Ports[i]
		f, ok := c.ClientCAs[p.Port]
		if p.ClientValidation == nil {
			continue
		}
		if !ok {
			t.Fatalf("%s: no client CA file for port %d", path, p.Port)
		}
		if p.ClientValidation.CAPEM, err = os.ReadFile(filepath.Join("testdata", f)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range gw.Clusters {
		cl := &gw.Clusters[i]
		if f, ok := c.BackendCAs[cl.Name]; ok && cl.TLS != nil {
			if cl.TLS.CACertPEM, err = os.ReadFile(filepath.Join("testdata", f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if f := c.BackendClientCertificate; f != nil {
		bc := &model.Certificate{Name: "backend-client"}
		if bc.CertPEM, err = os.ReadFile(filepath.Join("testdata", f.Cert)); err != nil {
			t.Fatal(err)
		}
		if bc.KeyPEM, err = os.ReadFile(filepath.Join("testdata", f.Key)); err != nil {
			t.Fatal(err)
		}
		gw.BackendClientCertificate = bc
	}
	opts := baseOptions()
	opts.Features.BackendGroup, opts.Features.MappedWord = true, true
	if o := c.Options; o != nil {
		if o.PathSteering {
			opts.Features.BackendGroup, opts.Features.MappedWord = false, false
		}
		opts.Workers = o.Workers
		opts.HealthPort = o.HealthPort
		opts.HTTP3 = o.HTTP3
		opts.Features.QUIC = o.QUIC
		opts.Features.ClientVerify = o.ClientVerify
		opts.Features.BackendTLSVerify = o.BackendTLSVerify
		opts.Features.StatusRetry = o.StatusRetry
		if o.BPF {
			opts.Features.BPF = true
			opts.Features.BPFProgramPath = "/usr/lib/nghttpx/reuseport_kern.o"
		}
		if o.OCSP {
			opts.Features.OCSP = true
			opts.OCSPFetchProgram = "/usr/libexec/ngxgw-ocsp"
		}
		if o.HTTP3 {
			opts.QUICSecretFile = "/var/lib/ngxgw/quic-secret"
		}
		opts.AccessLogFile = o.AccessLogFile
		opts.AccessLog = accesslog.Format(o.AccessLog)
		opts.GracePeriod = time.Duration(o.GraceSeconds) * time.Second
		opts.AllowMruby = o.AllowMruby
		opts.ProxyProtocol = o.ProxyProtocol
		opts.QUICRequireToken = o.QUICRequireToken
		opts.ExtraConfig, _ = ParseExtraConfig(o.ExtraConfig)
		opts.GlobalMruby = o.GlobalMruby
		opts.TLSTicketKeyFiles = o.TLSTicketKeyFiles
		if o.Mirror {
			opts.MirrorTeePort, opts.MirrorInternalPort = 15001, 15002
		}
	}
	return &gw, opts
}

func TestGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.model.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".model.yaml")
		t.Run(name, func(t *testing.T) {
			gw, opts := loadGolden(t, in)
			cfg, err := Render(gw, opts)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			// Rendering is deterministic.
			again, err := Render(gw, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(cfg.Main, again.Main) || !bytes.Equal(cfg.RouteText(), again.RouteText()) ||
				!bytes.Equal(BackendConf(cfg.Backends), BackendConf(again.Backends)) {
				t.Fatal("two renders of the same model differ")
			}
			checkTables(t, cfg)
			base := filepath.Join("testdata", name)
			compareGolden(t, base+".nghttpx.conf", cfg.Main)
			compareGolden(t, base+".backends.conf", groupsText(cfg.Backends))
			compareGolden(t, base+".routes.rb", cfg.RouteText())
			compareGolden(t, base+".files.txt", filesText(cfg.Files))
			if cfg.AccessLog != nil {
				compareGolden(t, base+".accesslog-routes.json", cfg.Files[AccessLogRoutesFile])
			}
		})
	}
}

// groupsText is backends.conf with each group introduced by its key.
func groupsText(gs []BackendGroup) []byte {
	var b strings.Builder
	for _, g := range gs {
		b.WriteString("# group " + g.Key + "\n")
		b.Write(BackendConf([]BackendGroup{g}))
	}
	return []byte(b.String())
}

// filesText lists the extra files by name (scripts are static and tested live).
func filesText(files map[string][]byte) []byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return []byte(strings.Join(names, "\n") + "\n")
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	golden.Check(t, path, got)
}

// checkTables checks the head and every shard of the route table.
func checkTables(t *testing.T, cfg *Config) {
	t.Helper()
	checkTable(t, cfg.RouteTable)
	for name, b := range cfg.RouteShards {
		if strings.HasSuffix(name, ".rb") {
			checkTable(t, b)
		}
	}
}

func checkTable(t *testing.T, table []byte) {
	t.Helper()
	if err := checkRouteTable(table); err != nil {
		t.Fatalf("route table outside the literal grammar: %v\n%s", err, table)
	}
}
